"""amlaudit engine: snapshot -> graph -> checks -> findings."""

__version__ = "0.1.0"
