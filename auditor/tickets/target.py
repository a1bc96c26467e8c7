"""What a ticketing target is: list the tickets amlaudit manages, and five writes.

The planner (`plan.py`) is the only place that decides; a target only reads and
writes its service. Each target keeps, on the ticket itself and readable from the
listing reads alone (no read per ticket, so a sync costs only the paging the
service requires), the state the planner needs back next time:

- the marker: an `amlaudit` label/tag plus one label/tag per finding fingerprint
  (`amlaudit:<fingerprint>` or the target's spelling of it). Tickets are found by the
  marker, never by title, so people may edit titles and bodies freely.
- `TicketState`: the digest of the evidence last reported, the waiver expiry last
  reported (the ticket is "accepted"), and whether amlaudit closed it. How a target
  stores it is its own business (labels/tags, a Jira entity property, a hidden line in
  the body that only amlaudit rewrites...), as long as people's edits survive.

Writes never touch what people changed: a target adds labels and comments and
changes state; it does not rewrite a title or body people may have edited (except
the hidden state it owns).

Changes:
- (sync runner) A target may also define `close_connection() -> None`; the runner
  (`auditor/tickets/cli.py`) calls it once when a sync ends, however it ends. Optional:
  targets without it are unaffected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

TargetName = Literal["jira", "azure-boards", "github"]
MARKER_LABEL = "amlaudit"
ACCEPTED_LABEL = "amlaudit-accepted"


def fingerprint_label(fingerprint: str) -> str:
    """The per-finding marker; targets that cannot spell ':' may map it, consistently."""
    return f"amlaudit:{fingerprint}"


@dataclass(frozen=True, slots=True)
class TicketState:
    """What amlaudit last recorded on a ticket, read back at the next sync."""

    fingerprint: str
    evidence_digest: str | None = None  # digest of the evidence last reported (None: unknown)
    accepted_until: str | None = None  # waiver expiry (YYYY-MM-DD) last reported; None: not accepted
    closed_by_amlaudit: bool = False  # the last close was ours (so a new failure reopens it)


@dataclass(frozen=True, slots=True)
class Ticket:
    key: str  # Jira issue key, Azure Boards work item id, GitHub issue number, as text
    url: str  # a link a person can open
    title: str
    is_open: bool
    state: TicketState


@dataclass(frozen=True, slots=True)
class TicketDraft:
    """A ticket to create for one failing finding."""

    fingerprint: str
    check_id: str
    severity: str
    resource_id: str
    title: str  # "[high] Azure Batch can reach ... — cpu-cluster"
    body_markdown: str  # why, evidence, remediation, source section, subject id, report link
    evidence_digest: str


class TargetError(Exception):
    """A refusal the run cannot go on from (401/403/404, a bad setting): exit 2, one line
    naming the target and what was refused. Never carries a token."""


class TicketTarget(Protocol):
    name: TargetName

    def describe(self) -> str:
        """Where tickets go, for messages: e.g. 'GitHub contoso/infra' (no secrets)."""
        ...

    def list_managed(self) -> list[Ticket]:
        """Every ticket carrying the amlaudit marker, open or closed, all pages. Reads only."""
        ...

    def create(self, draft: TicketDraft) -> Ticket: ...

    def comment(self, ticket: Ticket, text: str, state: TicketState) -> None:
        """Add a comment and record `state` (e.g. the new evidence digest, accepted)."""
        ...

    def close(self, ticket: Ticket, text: str, state: TicketState) -> None:
        """Comment, then close/resolve; `state.closed_by_amlaudit` is True."""
        ...

    def reopen(self, ticket: Ticket, text: str, state: TicketState) -> None:
        """Comment, then reopen/re-activate."""
        ...
