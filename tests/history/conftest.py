"""Databases for the history tests: a SQLite file per test, a fresh database per test on a real PostgreSQL server.

The server: the one `.ci/run` started (its URL in AMLAUDIT_TEST_POSTGRES_URL), else a
throwaway one started here from the installed server programs (tests/pg_server.py). With
no programs installed the PostgreSQL tests skip, saying why, unless
AMLAUDIT_REQUIRE_POSTGRES=1 (set by .ci/run), which turns that skip into a failure.

Both variables are read when this file is imported: the suite's autouse fixture removes
every AMLAUDIT_* variable from each test's environment.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests import pg_server

SERVER_URL_ENV = "AMLAUDIT_TEST_POSTGRES_URL"
REQUIRE_ENV = "AMLAUDIT_REQUIRE_POSTGRES"
GIVEN_SERVER_URL = os.environ.get(SERVER_URL_ENV) or None
POSTGRES_REQUIRED = os.environ.get(REQUIRE_ENV) == "1"


def postgres_unavailable(reason: str, required: bool = POSTGRES_REQUIRED) -> None:
    """Skip, or fail when the run requires PostgreSQL: a missing server must not look like a pass."""
    message = f"PostgreSQL tests need a server: {reason}"
    if required:
        pytest.fail(f"{message} ({REQUIRE_ENV}=1)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server (its `postgres` database) a superuser can log in to."""
    if GIVEN_SERVER_URL is not None:
        yield GIVEN_SERVER_URL
        return
    # Not pytest's tmp_path: as root the server runs as `postgres`, which cannot enter
    # pytest's private /tmp/pytest-of-root.
    directory = Path(tempfile.mkdtemp(prefix="amlaudit-pg-"))
    try:
        server = pg_server.start(directory)
    except pg_server.ServerUnavailable as exc:
        shutil.rmtree(directory, ignore_errors=True)
        postgres_unavailable(str(exc))
    try:
        yield server.url
    finally:
        pg_server.stop(directory)
        shutil.rmtree(directory, ignore_errors=True)


def _admin_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def with_database(url: str, database: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{database}"


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A new, empty database on the server for one test; dropped afterwards."""
    name = f"amlaudit_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_admin_url(postgres_server), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(postgres_server, name)
    finally:
        with psycopg.connect(_admin_url(postgres_server), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return str(tmp_path / "audits.db")


@pytest.fixture(params=["sqlite", "postgresql"])
def history_url(request: pytest.FixtureRequest) -> str:
    """Each test using it runs once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))
