"""amlaudit checks."""
