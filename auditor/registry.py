"""Check packs and reporters, discovered through entry points.

Built-in checks register exactly as a third-party pack does: an entry point in
the group ``amlaudit.checks`` naming a module (whose ``CHECKS`` list, or else
whose module-level :class:`~amlaudit.auditor.check.Check` objects, are taken), a single
Check, or a list of them. Reporters register in ``amlaudit.reporters``; the
entry-point name is the format name users pass to ``--format``.
"""

from __future__ import annotations

import types
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from amlaudit.auditor.check import Check

CHECK_GROUP = "amlaudit.checks"
REPORTER_GROUP = "amlaudit.reporters"


class RegistryError(Exception):
    """A check pack or reporter could not be loaded; the message is one line."""


def _checks_in(obj: Any, origin: str) -> list[Check]:
    if isinstance(obj, Check):
        return [obj]
    if isinstance(obj, types.ModuleType):
        declared = getattr(obj, "CHECKS", None)
        if declared is not None:
            return _checks_in(list(declared), origin)
        return [v for v in vars(obj).values() if isinstance(v, Check)]
    if callable(obj) and not isinstance(obj, type):
        return _checks_in(obj(), origin)
    if isinstance(obj, Iterable) and not isinstance(obj, (str, bytes, dict)):
        found: list[Check] = []
        for item in obj:
            if not isinstance(item, Check):
                raise RegistryError(f"check pack {origin!r} lists {item!r}, which is not a check")
            found.append(item)
        return found
    raise RegistryError(f"check pack {origin!r} provides {type(obj).__name__}, not checks")


def _load(ep: EntryPoint, group: str) -> Any:
    try:
        return ep.load()
    except Exception as exc:  # a broken plug-in must not look like a clean audit
        # First line only: the user sees one line, and a plug-in's message may span several.
        detail = next(iter(str(exc).splitlines()), "")
        raise RegistryError(f"{group} entry point {ep.name!r} ({ep.value}) failed to load: {type(exc).__name__}: {detail}") from None


def load_checks(group: str = CHECK_GROUP) -> list[Check]:
    """Every registered check, built-in first, ids unique."""
    eps = sorted(entry_points(group=group), key=lambda ep: (ep.name != "builtin", ep.name))
    checks: list[Check] = []
    seen: dict[str, str] = {}
    for ep in eps:
        for found in _checks_in(_load(ep, group), ep.name):
            if found.id in seen:
                if seen[found.id] == ep.value:
                    continue  # the same pack installed twice (editable + site-packages)
                raise RegistryError(f"check id {found.id!r} is registered twice ({seen[found.id]} and {ep.value})")
            seen[found.id] = ep.value
            checks.append(found)
    return checks


def reporter_entry_points(group: str = REPORTER_GROUP) -> dict[str, EntryPoint]:
    """Registered reporters by format name, not yet imported."""
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=group):
        found.setdefault(ep.name, ep)
    return found


def load_reporters(names: Iterable[str] | None = None, group: str = REPORTER_GROUP) -> dict[str, Any]:
    """Reporter classes by format name; only the named ones are imported (a broken
    reporter the user did not ask for must not stop the audit)."""
    eps = reporter_entry_points(group)
    wanted = list(eps) if names is None else [n for n in names if n in eps]
    return {name: _load(eps[name], group) for name in wanted}
