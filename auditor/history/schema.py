"""The history tables as SQLAlchemy Core objects, for the queries.

The migration scripts in `migrations/versions/` create and change these tables; they
spell the DDL out themselves (a migration must not change when this file does), and a
test compares the migrated database with this metadata.

Table names carry an `amlaudit_` prefix so the history can share a PostgreSQL database
(or schema) with other applications.
"""

from __future__ import annotations

import sqlalchemy as sa

VERSION_TABLE = "amlaudit_alembic_version"
# SQLite only makes an INTEGER PRIMARY KEY an alias of its rowid (auto-assigned ids).
ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData()

runs = sa.Table(
    "amlaudit_runs",
    metadata,
    sa.Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    sa.Column("run_uid", sa.String(32), nullable=False, unique=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("user_name", sa.Text, nullable=False),
    sa.Column("host_name", sa.Text, nullable=False),
    sa.Column("tool_version", sa.String(64), nullable=False),
    sa.Column("snapshot_source", sa.Text, nullable=False),
    sa.Column("snapshot_collected_at", sa.String(64), nullable=True),
    sa.Column("subscriptions", sa.Text, nullable=False),  # JSON list of subscription ids
    sa.Column("fail_on", sa.String(16), nullable=False),
    sa.Column("exit_status", sa.Integer, nullable=False),
    sa.Column("n_fail", sa.Integer, nullable=False),
    sa.Column("n_error", sa.Integer, nullable=False),
    sa.Column("n_pass", sa.Integer, nullable=False),
    sa.Column("n_not_applicable", sa.Integer, nullable=False),
    sa.Column("n_findings", sa.Integer, nullable=False),  # all statuses, including any added later
    sa.Column("n_collection_errors", sa.Integer, nullable=False),
    sa.Column("n_coverage_gaps", sa.Integer, nullable=False),
)

findings = sa.Table(
    "amlaudit_findings",
    metadata,
    sa.Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    sa.Column("run_id", ID_TYPE, sa.ForeignKey("amlaudit_runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("check_id", sa.String(200), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("evidence", sa.Text, nullable=True),  # JSON; kept for findings that need attention (record.py)
    sa.Column("annotations", sa.Text, nullable=True),  # JSON {"waiver": ..., "baseline": ...} when set
    # Revision 0002: what the trend queries read.
    sa.Index("ix_amlaudit_findings_run_status_check", "run_id", "status", "check_id"),
    sa.Index("ix_amlaudit_findings_fingerprint_run", "fingerprint", "run_id", "status"),
)

sa.Index("ix_amlaudit_runs_started_at", runs.c.started_at)
