"""The schemas vendored for the template tests are the published files, unchanged (tests/data/schemas/SOURCES.md)."""

from __future__ import annotations

import re

import pytest

from tests.deploy_templates import SCHEMAS, git_blob_sha, load_schema, read_vendored

ROWS = re.findall(r"^\| `([^`]+)` \| [^|]+ \| [^|]+ \| [^|]+ \| ([0-9a-f]{40}) \|$",
                  (SCHEMAS / "SOURCES.md").read_text(), flags=re.M)


def test_every_vendored_schema_is_listed() -> None:
    on_disk = {str(p.relative_to(SCHEMAS)) for p in SCHEMAS.rglob("*") if p.is_file() and p.name != "SOURCES.md"}
    assert on_disk == {name for name, _ in ROWS}


@pytest.mark.parametrize(("name", "blob"), ROWS)
def test_vendored_schema_is_the_published_file(name: str, blob: str) -> None:
    assert git_blob_sha(read_vendored(name)) == blob
    assert isinstance(load_schema(name), dict)


def test_blob_ids_are_gits() -> None:
    # `printf 'hello\n' | git hash-object --stdin`
    assert git_blob_sha(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"
