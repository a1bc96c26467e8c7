"""Alembic migration scripts for the history database (run by `amlaudit.auditor.history.migrate`)."""
