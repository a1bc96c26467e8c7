"""The planner: findings + the tickets a target lists + now -> what to do, per finding fingerprint.

A plain function of its inputs; it reads and writes nothing. The table it implements
(docs/tickets.md has it with the reasons):

| finding now                  | ticket                  | action                                              |
|------------------------------|-------------------------|-----------------------------------------------------|
| fail, not waived             | none                    | create                                              |
| fail, not waived             | open, evidence same     | nothing                                             |
| fail, not waived             | open, evidence changed  | one comment with the new evidence; digest recorded  |
| fail, not waived             | open, accepted          | comment: the waiver ended; accepted mark removed    |
| fail, not waived             | closed by amlaudit      | reopen: "failing again since …"                     |
| fail, not waived             | closed by a person      | left alone (reported): no reopen, no duplicate      |
| fail, waived                 | open, not accepted (or another expiry) | comment with the waiver; marked accepted |
| fail, waived                 | none, or closed         | left alone until the waiver ends                    |
| pass                         | open                    | comment and close                                   |
| not_applicable               | open                    | close with a "no longer applies" comment            |
| error, or not in this run    | open                    | left alone (reported): never close what was not verified |

A waiver holds while `expires` (YYYY-MM-DD) is today or later; an expired one (or one
marked `"expired": true`) does not waive: the finding is then plainly failing.

Incomplete runs (collection errors, coverage gaps or `error` findings): a ticket is only
closed for a finding this file verified (pass or not_applicable) whose subject no
collection error or coverage gap names (the subject itself, a scope above it or a
resource below it). Everything not verified is left as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from typing import Any, Literal

from amlaudit.auditor.ids import id_key
from amlaudit.auditor.tickets.target import Ticket, TicketDraft, TicketState
from amlaudit.auditor.tickets import text

FINDINGS_FORMAT = "amlaudit.findings/v1"
ActionKind = Literal["create", "comment", "accept", "reopen", "close"]
ACTION_KINDS: tuple[ActionKind, ...] = ("create", "reopen", "comment", "accept", "close")
_STATUSES = ("pass", "fail", "error", "not_applicable")


class FindingsInputError(ValueError):
    """The findings document cannot be planned from (one line naming the problem)."""


@dataclass(frozen=True, slots=True)
class PlanOptions:
    report_url: str | None = None  # linked from bodies and comments when given


@dataclass(frozen=True, slots=True)
class Action:
    """One change to one ticket: what the runner asks the target to do."""

    kind: ActionKind
    fingerprint: str
    title: str  # the finding's ticket title (a new ticket's title, or what an existing one is about)
    reason: str  # why, in a few words, for the printed plan
    state: TicketState  # what the ticket records afterwards
    ticket: Ticket | None = None  # None only for create
    text: str = ""  # the comment (empty for create)
    draft: TicketDraft | None = None  # create only


@dataclass(frozen=True, slots=True)
class LeftAlone:
    """A finding or ticket the plan deliberately does not touch, and why (reported, never written)."""

    fingerprint: str
    title: str
    reason: str
    ticket: Ticket | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    actions: tuple[Action, ...]
    left_alone: tuple[LeftAlone, ...]
    run: str  # the findings' generated_at
    incomplete: bool
    findings_count: int
    tickets_count: int
    unchanged: int = 0  # tickets already in step with their finding

    def count(self, kind: ActionKind) -> int:
        return sum(1 for a in self.actions if a.kind == kind)

    @property
    def changes(self) -> int:
        """What --max-changes limits: one per action (a create, comment, accept, close or reopen)."""
        return len(self.actions)


@dataclass(frozen=True, slots=True)
class _Finding:
    data: Mapping[str, Any]
    fingerprint: str
    status: str
    title: str


@dataclass(slots=True)
class _RunScope:
    """What an incomplete run could not read: ids of collection errors and coverage gaps."""

    keys: set[str] = field(default_factory=set)

    def names(self, resource_id: str) -> str | None:
        key = id_key(resource_id)
        for unread in self.keys:
            if key == unread or key.startswith(unread + "/") or unread.startswith(key + "/"):
                return unread
        return None


def make_plan(document: Mapping[str, Any], tickets: Sequence[Ticket], now: datetime,
              options: PlanOptions = PlanOptions()) -> Plan:
    """The plan for one sync. `document` is a parsed findings.json; `now` decides waiver expiry."""
    findings = _findings(document)
    sources = _check_sources(document)
    run = str(document.get("generated_at") or "an unknown time")
    today = (now if now.tzinfo else now.replace(tzinfo=timezone.utc)).astimezone(timezone.utc).date()
    unread = _unread_scope(document)
    incomplete = bool(unread.keys) or any(f.status == "error" for f in findings.values()) or bool(document.get("errors"))

    by_fingerprint: dict[str, list[Ticket]] = {}
    for ticket in tickets:
        by_fingerprint.setdefault(ticket.state.fingerprint, []).append(ticket)

    actions: list[Action] = []
    left: list[LeftAlone] = []
    unchanged = 0
    for fingerprint in sorted(set(findings) | set(by_fingerprint)):
        finding = findings.get(fingerprint)
        ticket, duplicates = _primary(by_fingerprint.get(fingerprint, []))
        title = finding.title if finding else (ticket.title if ticket else fingerprint)
        for other in duplicates:
            left.append(LeftAlone(fingerprint, other.title, f"another ticket ({ticket.key if ticket else '?'}) "
                                  "carries the same finding marker", other))
        decided = _decide(finding, ticket, run=run, today=today, unread=unread, sources=sources, options=options)
        if isinstance(decided, Action):
            actions.append(decided)
        elif isinstance(decided, LeftAlone):
            left.append(decided)
        elif ticket is not None:
            unchanged += 1
    actions.sort(key=lambda a: (ACTION_KINDS.index(a.kind), a.title, a.fingerprint))
    left.sort(key=lambda item: (item.reason, item.title))
    return Plan(tuple(actions), tuple(left), run, incomplete, len(findings), len(tickets), unchanged)


def _decide(finding: _Finding | None, ticket: Ticket | None, *, run: str, today: date, unread: _RunScope,
            sources: Mapping[str, str], options: PlanOptions) -> Action | LeftAlone | None:
    report_url = options.report_url
    if finding is None:
        if ticket is not None and ticket.is_open:
            return LeftAlone(ticket.state.fingerprint, ticket.title,
                             "not in this run (subject or check gone, or not scanned): left open", ticket)
        return None
    data, fingerprint, title = finding.data, finding.fingerprint, finding.title

    if finding.status == "error":
        if ticket is not None and ticket.is_open:
            return LeftAlone(fingerprint, title, "could not be verified in this run (error): left open", ticket)
        return None

    if finding.status in ("pass", "not_applicable"):
        if ticket is None or not ticket.is_open:
            return None
        unread_id = unread.names(str(data.get("resource_id") or ""))
        if unread_id is not None:
            return LeftAlone(fingerprint, title, "incomplete run: something under or above this subject could "
                             "not be read, so amlaudit does not close on it", ticket)
        closed = TicketState(fingerprint, evidence_digest=ticket.state.evidence_digest, accepted_until=None,
                             closed_by_amlaudit=True)
        if finding.status == "pass":
            return Action("close", fingerprint, title, "verified passing", closed, ticket,
                          text.passed_comment(data, run, report_url))
        return Action("close", fingerprint, title, "no longer applies", closed, ticket,
                      text.not_applicable_comment(data, run, report_url))

    # fail
    digest = text.evidence_digest(data.get("evidence"))
    waiver = _active_waiver(data, today)
    if waiver is not None:
        expires = str(waiver["expires"])
        if ticket is None:
            return LeftAlone(fingerprint, title, f"failing, waived until {expires}: no ticket until the waiver ends")
        if not ticket.is_open:
            return LeftAlone(fingerprint, title, f"failing, waived until {expires}: the ticket stays closed", ticket)
        if ticket.state.accepted_until == expires:
            return None
        accepted = replace(ticket.state, accepted_until=expires, closed_by_amlaudit=False)
        return Action("accept", fingerprint, title, f"waived until {expires} ({waiver.get('owner') or 'no owner'})",
                      accepted, ticket, text.waiver_comment(waiver, run, report_url))

    failing = TicketState(fingerprint, evidence_digest=digest, accepted_until=None, closed_by_amlaudit=False)
    if ticket is None:
        draft = TicketDraft(fingerprint=fingerprint, check_id=str(data.get("check_id") or ""),
                            severity=str(data.get("severity") or ""), resource_id=str(data.get("resource_id") or ""),
                            title=title, body_markdown=text.ticket_body(
                                data, source=sources.get(str(data.get("check_id") or "")), report_url=report_url),
                            evidence_digest=digest)
        return Action("create", fingerprint, title, "failing, no ticket yet", failing, None, draft=draft)
    if not ticket.is_open:
        if ticket.state.closed_by_amlaudit:
            return Action("reopen", fingerprint, title, "failing again after amlaudit closed it", failing, ticket,
                          text.reopen_comment(data, run, report_url))
        return LeftAlone(fingerprint, title, "failing, but a person closed the ticket: not reopened, "
                         "no duplicate (reopen it, or waive the finding)", ticket)
    if ticket.state.accepted_until is not None:
        return Action("comment", fingerprint, title, f"waiver until {ticket.state.accepted_until} ended",
                      failing, ticket, text.waiver_ended_comment(data, run, ticket.state.accepted_until,
                                                                 today.isoformat(), report_url))
    if ticket.state.evidence_digest == digest:
        return None
    if ticket.state.evidence_digest is None:
        return Action("comment", fingerprint, title, "evidence not recorded on the ticket", failing, ticket,
                      text.evidence_unrecorded_comment(data, run, report_url))
    return Action("comment", fingerprint, title, "evidence changed", failing, ticket,
                  text.evidence_changed_comment(data, run, report_url))


def _active_waiver(finding: Mapping[str, Any], today: date) -> Mapping[str, Any] | None:
    """The finding's waiver if it holds today: `expires` is a date not before today, not marked expired."""
    waiver = finding.get("waiver")
    if not isinstance(waiver, Mapping) or waiver.get("expired") is True:
        return None
    try:
        expires = date.fromisoformat(str(waiver.get("expires") or ""))
    except ValueError:
        return None  # no readable expiry: not a waiver amlaudit can honour, so the finding is failing
    return waiver if expires >= today else None


def _primary(tickets: list[Ticket]) -> tuple[Ticket | None, list[Ticket]]:
    """The ticket a fingerprint is tracked on (open first, then the lowest key) and any duplicates."""
    if not tickets:
        return None, []
    ordered = sorted(tickets, key=lambda t: (not t.is_open, _key_order(t.key)))
    return ordered[0], ordered[1:]


def _key_order(key: str) -> tuple[int, int, str]:
    tail = key.rsplit("-", 1)[-1]
    return (0, int(tail), key) if tail.isdigit() else (1, 0, key)


# -- reading the findings document ----------------------------------------------------------------


def _findings(document: Mapping[str, Any]) -> dict[str, _Finding]:
    if not isinstance(document, Mapping):
        raise FindingsInputError("not a findings document (expected a JSON object)")
    if document.get("format") != FINDINGS_FORMAT:
        raise FindingsInputError(f"not a findings document: format is {document.get('format')!r}, "
                                 f"expected {FINDINGS_FORMAT!r}")
    entries = document.get("findings")
    if not isinstance(entries, list):
        raise FindingsInputError("the findings document has no 'findings' list")
    found: dict[str, _Finding] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise FindingsInputError(f"findings[{index}] is not an object")
        missing = [k for k in ("fingerprint", "status", "check_id", "resource_id") if not isinstance(entry.get(k), str)
                   or not entry.get(k)]
        if missing:
            raise FindingsInputError(f"findings[{index}] has no {missing[0]!r}")
        if entry["status"] not in _STATUSES:
            raise FindingsInputError(f"findings[{index}] has an unknown status {entry['status']!r}")
        current = _Finding(entry, entry["fingerprint"], entry["status"], text.ticket_title(entry))
        previous = found.get(current.fingerprint)
        found[current.fingerprint] = current if previous is None else _merge(previous, current)
    summary = document.get("summary")
    if isinstance(summary, Mapping) and all(isinstance(summary.get(s), int) for s in _STATUSES):
        if sum(int(summary[s]) for s in _STATUSES) != len(entries):
            raise FindingsInputError(f"the findings document is inconsistent: its summary counts "
                                     f"{sum(int(summary[s]) for s in _STATUSES)} findings, its list holds {len(entries)}")
    return found


def _merge(first: _Finding, second: _Finding) -> _Finding:
    """Two findings with one fingerprint (never written by amlaudit; a merged file may have them):
    the same status keeps the first; a failure wins over a pass; anything else is unverified."""
    if first.status == second.status:
        return first
    if "fail" in (first.status, second.status) and "error" not in (first.status, second.status):
        return first if first.status == "fail" else second
    data = dict(first.data) | {"status": "error"}
    return _Finding(data, first.fingerprint, "error", first.title)


def _check_sources(document: Mapping[str, Any]) -> dict[str, str]:
    checks = document.get("checks")
    if not isinstance(checks, list):
        return {}
    return {str(c["id"]): str(c.get("source") or "") for c in checks if isinstance(c, Mapping) and c.get("id")}


def _unread_scope(document: Mapping[str, Any]) -> _RunScope:
    scope = _RunScope()
    for entries, key in ((document.get("errors"), "scope"), (document.get("coverage_gaps"), "id")):
        for entry in _entries(entries):
            value = entry.get(key)
            if isinstance(value, str) and value.strip():
                scope.keys.add(id_key(value))
    return scope


def _entries(value: Any) -> Iterable[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []
