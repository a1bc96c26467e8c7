"""Indexes the trend queries read: failures per run and check, a finding's runs, runs by time.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # `history --trend` counts failures per (run, check): an index-only scan of the window.
    op.create_index("ix_amlaudit_findings_run_status_check", "amlaudit_findings", ["run_id", "status", "check_id"])
    # Open age: every observation of the fingerprints that failed; covering, so the table is not read.
    op.create_index("ix_amlaudit_findings_fingerprint_run", "amlaudit_findings", ["fingerprint", "run_id", "status"])
    # `--last N` and the report's chart: the most recent runs.
    op.create_index("ix_amlaudit_runs_started_at", "amlaudit_runs", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_amlaudit_runs_started_at", table_name="amlaudit_runs")
    op.drop_index("ix_amlaudit_findings_fingerprint_run", table_name="amlaudit_findings")
    op.drop_index("ix_amlaudit_findings_run_status_check", table_name="amlaudit_findings")
