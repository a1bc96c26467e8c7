"""`--history URL`: which database, spelled for SQLAlchemy, and how to name it without its password.

- a plain path (`audits.db`, `/var/lib/amlaudit/history.db`) or `sqlite:///PATH`: SQLite;
- `postgresql://`, `postgres://` or `postgresql+psycopg://`: PostgreSQL through psycopg 3.

Nothing here echoes the text it was given: a URL that does not parse may still hold a
password, so every message names only what could be parsed, with the password masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy.engine import URL, make_url

from amlaudit.auditor.history.errors import HistoryError

Backend = Literal["sqlite", "postgresql"]
_SQLITE_DRIVERS = {"sqlite", "sqlite+pysqlite"}
_POSTGRES_DRIVERS = {"postgresql", "postgres", "postgresql+psycopg"}
PSYCOPG_DRIVER = "postgresql+psycopg"


@dataclass(frozen=True, slots=True)
class HistoryUrl:
    url: URL
    backend: Backend
    display: str  # for messages: the path, or the URL with the password masked
    sqlite_path: Path | None = None

    @property
    def password(self) -> str | None:
        return self.url.password if isinstance(self.url.password, str) else None


def parse_history_url(text: str) -> HistoryUrl:
    """Classify and normalise; raise HistoryError (one line, no password) when unusable."""
    value = text.strip()
    if not value:
        raise HistoryError("--history: empty database URL")
    if "://" not in value:
        return _sqlite(Path(value))
    scheme = value.split("://", 1)[0].lower()
    try:
        url = make_url(value)
    except Exception:  # noqa: BLE001 - ArgumentError, ValueError (a bad port): the text is not repeated
        raise HistoryError(f"--history: not a valid database URL (scheme {scheme!r}); "
                           "expected a file path or postgresql://USER@HOST[:PORT]/DATABASE") from None
    driver = url.drivername.lower()
    if driver in _SQLITE_DRIVERS:
        if not url.database or url.database == ":memory:":
            raise HistoryError("--history: an in-memory SQLite database would keep nothing; give a file path")
        return _sqlite(Path(url.database))
    if driver in _POSTGRES_DRIVERS:
        url = url.set(drivername=PSYCOPG_DRIVER)
        if not url.database:
            raise HistoryError(f"--history {url.render_as_string(hide_password=True)}: no database name in the URL")
        return HistoryUrl(url=url, backend="postgresql", display=url.render_as_string(hide_password=True))
    raise HistoryError(f"--history: unsupported database {url.drivername!r} "
                       "(use a file path for SQLite or postgresql://... for PostgreSQL)")


def _sqlite(path: Path) -> HistoryUrl:
    resolved = path.expanduser().resolve()
    return HistoryUrl(url=URL.create("sqlite", database=str(resolved)), backend="sqlite",
                      display=str(path), sqlite_path=resolved)


def without_password(message: str, history_url: HistoryUrl) -> str:
    """Defence in depth: whatever a driver said, the password never reaches the user."""
    password = history_url.password
    if password:
        message = message.replace(password, "***")
    return message
