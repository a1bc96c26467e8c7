"""The PostgreSQL test fixture's own decisions: skip when no server can be had, fail when CI requires one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import pg_server
from tests.history.conftest import postgres_unavailable


def test_without_a_server_the_tests_skip_with_the_reason() -> None:
    with pytest.raises(pytest.skip.Exception, match="no PostgreSQL server programs"):
        postgres_unavailable("no PostgreSQL server programs (initdb, pg_ctl) are installed", required=False)


def test_when_ci_requires_postgresql_a_missing_server_fails() -> None:
    with pytest.raises(pytest.fail.Exception, match="AMLAUDIT_REQUIRE_POSTGRES=1"):
        postgres_unavailable("no PostgreSQL server programs (initdb, pg_ctl) are installed", required=True)


def test_starting_without_server_programs_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_server, "find_bindir", lambda: None)
    with pytest.raises(pg_server.ServerUnavailable, match="no PostgreSQL server programs"):
        pg_server.start(tmp_path / "server")
    pg_server.stop(tmp_path / "server")  # nothing started: nothing to stop, no error


def test_the_server_listens_on_loopback_with_password_logins(postgres_server: str) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(postgres_server)
    assert url.host == "127.0.0.1"
    assert url.password
