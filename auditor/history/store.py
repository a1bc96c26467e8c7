"""Open a history database: engine, connection settings, schema at head, errors as one line.

SQLite is set up for several writers on one machine (two scheduled runs at once): WAL
journal (readers never block the writer), a busy timeout (a writer waits for the other
instead of failing), and write transactions that start with `BEGIN IMMEDIATE`, so a
writer takes the lock before it reads anything and can never hit the deadlock SQLite
resolves by failing one side at once (a deferred reader upgrading to a writer). pysqlite's
own transaction handling is switched off so these BEGINs are ours (SQLAlchemy's recipe).

PostgreSQL needs none of that: inserts of two runs never conflict (ids from a sequence).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from amlaudit.auditor.history.errors import HistoryError
from amlaudit.auditor.history.urls import HistoryUrl, parse_history_url, without_password

# Long enough to wait out another run's write (recording plus rendering its reports).
SQLITE_BUSY_TIMEOUT_S = 120.0
POSTGRES_CONNECT_TIMEOUT_S = 10
_WRITE_OPTION = "amlaudit_history_write"
_MAX_REASON_CHARS = 300


@dataclass(frozen=True, slots=True)
class HistoryStore:
    target: HistoryUrl
    engine: Engine

    @property
    def display(self) -> str:
        return self.target.display

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for reading; the caller wraps its queries in `errors_as`."""
        with self.errors_as("cannot read"):
            connection = self.engine.connect()
        try:
            yield connection
        finally:
            _quietly(connection.close)

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One write transaction: committed when the block ends, rolled back if it raises.

        Errors raised by the block itself pass through untouched (the caller wraps its own
        queries in `errors_as`); only connecting and committing are translated here.
        """
        with self.errors_as("cannot write"):
            connection = self.engine.connect()
            connection.execution_options(**{_WRITE_OPTION: True})
            transaction = connection.begin()
        try:
            yield connection
        except BaseException:
            _quietly(transaction.rollback)  # a lost connection cannot roll back; the server does
            raise
        else:
            with self.errors_as("cannot commit"):
                transaction.commit()
        finally:
            _quietly(connection.close)

    @contextmanager
    def errors_as(self, doing: str) -> Iterator[None]:
        with database_errors(self.target, doing):
            yield

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(text: str, *, create: bool) -> HistoryStore:
    """Parse the URL, connect, bring the schema to head.

    `create=False` (reading history): a SQLite file that does not exist is an error rather
    than an empty database made by a typo.
    """
    target = parse_history_url(text)
    if target.sqlite_path is not None:
        path = target.sqlite_path
        if path.is_dir():
            raise HistoryError(f"--history {target.display}: is a directory, expected a database file")
        if not path.exists():
            if not create:
                raise HistoryError(f"--history {target.display}: no such history database")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise HistoryError(f"--history {target.display}: cannot create its folder ({exc.strerror or exc})") from None
    store = HistoryStore(target=target, engine=make_engine(target))
    from amlaudit.auditor.history.migrate import ensure_schema  # imports Alembic only when not at head

    try:
        with store.errors_as("cannot open"):
            ensure_schema(store)
    except BaseException:
        store.dispose()
        raise
    return store


def make_engine(target: HistoryUrl) -> Engine:
    if target.backend == "sqlite":
        engine = sa.create_engine(target.url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # Imported here, not at the top: SQLite users never pay for it. Handed to SQLAlchemy as the
    # dialect's DBAPI module, so the declared dependency is the module actually used.
    import psycopg

    connect_args: dict[str, Any] = {"application_name": "amlaudit"}
    if "connect_timeout" not in target.url.query:
        connect_args["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT_S
    return sa.create_engine(target.url, connect_args=connect_args, module=psycopg)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # our BEGINs, not pysqlite's (see the module docstring)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get(_WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _quietly(action: Callable[[], object]) -> None:
    try:
        action()
    except Exception:  # noqa: BLE001 - cleanup after another error: that error is the one to report
        pass


@contextmanager
def database_errors(target: HistoryUrl, doing: str) -> Iterator[None]:
    """Driver and SQLAlchemy errors become one HistoryError line, the password masked."""
    try:
        yield
    except HistoryError:
        raise
    except sa.exc.SQLAlchemyError as exc:
        raise HistoryError(without_password(f"history {target.display}: {doing}: {_reason(exc)}", target)) from None
    except OSError as exc:
        raise HistoryError(without_password(f"history {target.display}: {doing}: {exc.strerror or exc}", target)) from None


def _reason(exc: sa.exc.SQLAlchemyError) -> str:
    # DBAPIError's own text appends the SQL, its parameters and a help link: the driver's
    # message alone says what went wrong. Driver messages span lines ("...failed: Connection
    # refused\n\tIs the server running...?"): joined into one.
    source: BaseException = exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None else exc
    text = " ".join(line.strip() for line in str(source).splitlines() if line.strip()) or type(source).__name__
    return text if len(text) <= _MAX_REASON_CHARS else text[: _MAX_REASON_CHARS - 1] + "…"
