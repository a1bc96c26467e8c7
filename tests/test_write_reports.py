"""Writing the rendered files: all or none, each staged as it is rendered."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from amlaudit.auditor.pipeline import write_reports


class RenderFailed(Exception):
    pass


def _stream(files: list[tuple[str, bytes]], fail_after: int | None = None) -> Iterator[tuple[str, bytes]]:
    for n, item in enumerate(files):
        if fail_after is not None and n == fail_after:
            raise RenderFailed("the third format failed to render")
        yield item


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


FILES = [("findings.json", b"{}\n"), ("report.html", b"<html></html>"), ("findings.csv", b"a,b\r\n")]


def test_a_stream_is_written_whole_in_its_order(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "out"
    written = write_reports(_stream(FILES), out)
    assert written == [out / name for name, _ in FILES]
    assert _listing(out) == dict(sorted(FILES))


def test_a_mapping_is_written_too(tmp_path: Path) -> None:
    assert write_reports(dict(FILES), tmp_path) == [tmp_path / name for name, _ in FILES]
    assert _listing(tmp_path) == dict(sorted(FILES))


def test_a_render_that_fails_midway_leaves_the_earlier_outputs_and_no_temporary_file(tmp_path: Path) -> None:
    earlier = {"findings.json": b"yesterday", "report.html": b"<p>yesterday</p>", "notes.txt": b"mine"}
    for name, data in earlier.items():
        (tmp_path / name).write_bytes(data)
    with pytest.raises(RenderFailed):
        write_reports(_stream(FILES, fail_after=2), tmp_path)
    assert _listing(tmp_path) == dict(sorted(earlier.items()))  # nothing replaced, nothing staged is left


def test_a_failed_run_removes_the_folders_it_made(tmp_path: Path) -> None:
    out = tmp_path / "new" / "out"
    with pytest.raises(RenderFailed):
        write_reports(_stream(FILES, fail_after=2), out)
    assert list(tmp_path.iterdir()) == []


def test_a_write_that_fails_replaces_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from amlaudit.auditor import pipeline

    (tmp_path / "findings.json").write_bytes(b"yesterday")
    real_stage = pipeline.stage

    def disk_full_at_the_csv(target: Path, data: bytes) -> Path:
        if target.name == "findings.csv":
            raise OSError(28, "No space left on device")
        return real_stage(target, data)

    monkeypatch.setattr(pipeline, "stage", disk_full_at_the_csv)
    with pytest.raises(OSError, match="No space left"):
        write_reports(_stream(FILES), tmp_path)
    assert _listing(tmp_path) == {"findings.json": b"yesterday"}


def test_files_are_staged_while_later_ones_render(tmp_path: Path) -> None:
    # The first file is on disk (staged) before the last one is rendered: its bytes need not be held.
    seen_staged: list[bool] = []
    first_staged = threading.Event()

    def stream() -> Iterator[tuple[str, bytes]]:
        yield FILES[0]
        for _ in range(200):
            if any(p.name.startswith(".findings.json.") for p in tmp_path.iterdir()) or (tmp_path / "findings.json").exists():
                first_staged.set()
                break
            threading.Event().wait(0.01)
        seen_staged.append(first_staged.is_set())
        yield FILES[1]

    write_reports(stream(), tmp_path)
    assert seen_staged == [True]
    assert _listing(tmp_path) == dict(sorted(FILES[:2]))
