"""Alembic's environment for the history database.

Always run from code (`amlaudit.auditor.history.migrate`), never through an alembic.ini:
the caller passes an open connection, already inside the transaction that holds the
migration lock, as `config.attributes["connection"]`. Alembic then runs the revisions in
that transaction (it does not begin or commit one of its own), so two amlaudit processes
upgrading the same database at once cannot interleave, and a failed upgrade leaves the
previous revision intact (both SQLite and PostgreSQL have transactional DDL).
"""

from __future__ import annotations

from alembic import context

from amlaudit.auditor.history.schema import VERSION_TABLE

if context.is_offline_mode():
    raise RuntimeError("the history migrations run online only, on a connection passed by amlaudit")

connection = context.config.attributes["connection"]
context.configure(connection=connection, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
