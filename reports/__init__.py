"""amlaudit reports."""
