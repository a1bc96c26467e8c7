"""The one error type of the history stage: its message is the one line the user sees (exit 2)."""

from __future__ import annotations


class HistoryError(Exception):
    """The history database cannot be used; the message never carries a password."""
