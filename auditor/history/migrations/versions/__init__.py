"""Alembic revisions, oldest first by `down_revision`. Never edit a released revision: add one."""
