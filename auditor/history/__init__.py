"""Run history: each `amlaudit scan --history URL` recorded in a database, read back as trends.

SQLite (a plain file path) or PostgreSQL (`postgresql://...`) through SQLAlchemy Core;
the schema is migrated with Alembic scripts shipped in `migrations/`. See docs/history.md.

This package's `__init__` imports nothing: `series` (what reporters receive) and `errors`
must stay importable without loading SQLAlchemy or Alembic.
"""
