"""Runs and their findings.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Spelled out here, not imported from schema.py: a released revision must never change.
ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "amlaudit_runs",
        sa.Column("id", ID_TYPE, primary_key=True, autoincrement=True),
        sa.Column("run_uid", sa.String(32), nullable=False, unique=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_name", sa.Text, nullable=False),
        sa.Column("host_name", sa.Text, nullable=False),
        sa.Column("tool_version", sa.String(64), nullable=False),
        sa.Column("snapshot_source", sa.Text, nullable=False),
        sa.Column("snapshot_collected_at", sa.String(64), nullable=True),
        sa.Column("subscriptions", sa.Text, nullable=False),
        sa.Column("fail_on", sa.String(16), nullable=False),
        sa.Column("exit_status", sa.Integer, nullable=False),
        sa.Column("n_fail", sa.Integer, nullable=False),
        sa.Column("n_error", sa.Integer, nullable=False),
        sa.Column("n_pass", sa.Integer, nullable=False),
        sa.Column("n_not_applicable", sa.Integer, nullable=False),
        sa.Column("n_findings", sa.Integer, nullable=False),
        sa.Column("n_collection_errors", sa.Integer, nullable=False),
        sa.Column("n_coverage_gaps", sa.Integer, nullable=False),
    )
    op.create_table(
        "amlaudit_findings",
        sa.Column("id", ID_TYPE, primary_key=True, autoincrement=True),
        sa.Column("run_id", ID_TYPE, sa.ForeignKey("amlaudit_runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("check_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("evidence", sa.Text, nullable=True),
        sa.Column("annotations", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("amlaudit_findings")
    op.drop_table("amlaudit_runs")
