"""Bring a history database to the schema this code knows, with Alembic run from code.

No alembic.ini is read: the Config is built here, its script location is the
`migrations/` folder inside the installed package. The revision in the database is
compared with `HEAD_REVISION` first, so an up-to-date database costs one SELECT and
Alembic is not even imported. Otherwise, under a lock (SQLite: the write lock of
`BEGIN IMMEDIATE`; PostgreSQL: a transaction-level advisory lock), the revision is read
again and the missing revisions run in that one transaction. A database whose revision
this code does not know was written by a newer amlaudit: refused, never touched.

For developers, a new revision file: `python -m amlaudit.auditor.history.migrate new "what changes"`,
then raise HEAD_REVISION (a test holds the two together).
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from amlaudit.auditor.history.errors import HistoryError
from amlaudit.auditor.history.schema import VERSION_TABLE

if TYPE_CHECKING:
    from alembic.config import Config

    from amlaudit.auditor.history.store import HistoryStore

HEAD_REVISION = "0002"
# Any 64-bit constant; all amlaudit processes migrating one PostgreSQL database share it.
_POSTGRES_MIGRATION_LOCK = 0x616D6C6175646974  # "amlaudit"


def migrations_dir() -> Path:
    return Path(str(resources.files("amlaudit.auditor.history").joinpath("migrations")))


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("version_table", VERSION_TABLE)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def current_revisions(connection: Connection) -> list[str]:
    """The revisions stamped in the database ([] for a database amlaudit never used)."""
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return []
    rows = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    return [str(r) for r in rows]


def ensure_schema(store: HistoryStore) -> None:
    with store.engine.connect() as connection:
        if current_revisions(connection) == [HEAD_REVISION]:
            return
    with store.writing() as connection:
        if store.target.backend == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _POSTGRES_MIGRATION_LOCK})
        revisions = current_revisions(connection)  # again, under the lock: another run may have upgraded
        if revisions == [HEAD_REVISION]:
            return
        _refuse_unknown(revisions, store.display)
        from alembic import command

        command.upgrade(alembic_config(connection), "head")


def _refuse_unknown(revisions: list[str], display: str) -> None:
    if len(revisions) > 1:
        raise HistoryError(f"history {display}: the database carries several schema revisions "
                           f"({', '.join(sorted(revisions))}); it was not written by amlaudit")
    unknown = [r for r in revisions if r not in known_revisions()]
    if unknown:
        raise HistoryError(f"history {display}: schema revision {unknown[0]!r} is newer than this amlaudit "
                           f"knows (latest {HEAD_REVISION}); upgrade amlaudit to use this database")


def _new_revision(message: str) -> None:
    from alembic import command

    command.revision(alembic_config(), message=message)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "new":
        sys.exit("usage: python -m amlaudit.auditor.history.migrate new MESSAGE")
    _new_revision(sys.argv[2])
