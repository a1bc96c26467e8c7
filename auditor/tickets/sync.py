"""The sync runner: list the target's tickets, plan, check the plan against --max-changes, apply it.

Three plain steps the CLI composes:

1. `plan_for(target, document, now, options)`: the target's listing (reads only) and the
   planner's decision;
2. `refuse_if_too_many(plan, max_changes)`: raises `TooManyChanges` BEFORE anything is
   written when the plan holds more changes than allowed (a broken scan must not close or
   open hundreds of tickets);
3. `apply_plan(target, plan)`: the actions one by one, in the plan's order. A target that
   refuses midway (`TargetError`) stops the run; the outcome says what was done before it,
   and the next sync picks up where this one stopped (every action records its state on the
   ticket, so what was done is not done again).

`--dry-run` is steps 1 and 2 plus `render_plan`: only the listing's reads are sent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from amlaudit.auditor.tickets.plan import ACTION_KINDS, Action, Plan, PlanOptions, make_plan
from amlaudit.auditor.tickets.target import TargetError, Ticket, TicketTarget

DEFAULT_MAX_CHANGES = 50
_TITLES_SHOWN = 20  # per group in the printed plan; the counts always cover everything


class TooManyChanges(Exception):
    """The plan would change more tickets than --max-changes allows; nothing was written."""


@dataclass(slots=True)
class SyncOutcome:
    plan: Plan
    done: list[tuple[Action, Ticket | None]] = field(default_factory=list)  # (action, created ticket)
    failed: Action | None = None
    error: str | None = None

    @property
    def complete(self) -> bool:
        return self.error is None


def plan_for(target: TicketTarget, document: Mapping[str, Any], now: datetime,
             options: PlanOptions = PlanOptions()) -> Plan:
    return make_plan(document, target.list_managed(), now, options)


def refuse_if_too_many(plan: Plan, max_changes: int, target: TicketTarget) -> None:
    if plan.changes > max_changes:
        raise TooManyChanges(
            f"{target.describe()}: the plan would make {plan.changes} changes ({_counts(plan)}), more than "
            f"--max-changes {max_changes}; nothing was changed (check the scan, then raise --max-changes)")


def apply_plan(target: TicketTarget, plan: Plan,
               on_done: Callable[[Action, Ticket | None], None] | None = None) -> SyncOutcome:
    outcome = SyncOutcome(plan)
    for action in plan.actions:
        try:
            created = _apply(target, action)
        except TargetError as exc:
            outcome.failed, outcome.error = action, str(exc)
            return outcome
        outcome.done.append((action, created))
        if on_done is not None:
            on_done(action, created)
    return outcome


def _apply(target: TicketTarget, action: Action) -> Ticket | None:
    if action.kind == "create":
        assert action.draft is not None
        return target.create(action.draft)
    assert action.ticket is not None
    if action.kind in ("comment", "accept"):
        target.comment(action.ticket, action.text, action.state)
    elif action.kind == "close":
        target.close(action.ticket, action.text, action.state)
    elif action.kind == "reopen":
        target.reopen(action.ticket, action.text, action.state)
    return None


# -- what is printed ------------------------------------------------------------------------------


def render_plan(plan: Plan, target: TicketTarget, *, dry_run: bool, max_changes: int) -> list[str]:
    """The plan as lines: counts per action, then each action's ticket and title, then what is left alone."""
    mode = "dry run: only reads were sent" if dry_run else "plan"
    lines = [f"{target.describe()}: {plan.findings_count} findings, {plan.tickets_count} managed tickets ({mode})"]
    if plan.incomplete:
        lines.append("the findings come from an incomplete run: only verified passes and not-applicables close tickets")
    lines.append(f"{plan.changes} changes ({_counts(plan)}; limit {max_changes}), {plan.unchanged} tickets already "
                 f"in step, {len(plan.left_alone)} left alone")
    for kind in ACTION_KINDS:
        group = [a for a in plan.actions if a.kind == kind]
        if not group:
            continue
        lines.append(f"{kind} ({len(group)}):")
        for action in group[:_TITLES_SHOWN]:
            where = f"{action.ticket.key} " if action.ticket is not None else ""
            lines.append(f"  {where}{action.title} [{action.reason}]")
        if len(group) > _TITLES_SHOWN:
            lines.append(f"  … and {len(group) - _TITLES_SHOWN} more")
    reasons = Counter(item.reason for item in plan.left_alone)
    if reasons:
        lines.append(f"left alone ({len(plan.left_alone)}):")
        for reason, count in sorted(reasons.items()):
            lines.append(f"  {count} × {reason}")
            for item in [i for i in plan.left_alone if i.reason == reason][:_TITLES_SHOWN // 4 or 1]:
                where = f"{item.ticket.key} " if item.ticket is not None else ""
                lines.append(f"    {where}{item.title}")
    return lines


def render_done(action: Action, created: Ticket | None) -> str:
    if created is not None:
        return f"created {created.key} {created.url}: {action.title}"
    assert action.ticket is not None
    verb = {"comment": "commented on", "accept": "marked accepted", "close": "closed", "reopen": "reopened"}[action.kind]
    return f"{verb} {action.ticket.key} {action.ticket.url}: {action.title}"


def render_outcome(outcome: SyncOutcome, target: TicketTarget) -> str:
    made = len(outcome.done)
    if outcome.complete:
        return f"{target.describe()}: done, {made} changes made"
    return (f"{target.describe()}: stopped after {made} of {outcome.plan.changes} changes; the next sync picks "
            "up from here")


def _counts(plan: Plan) -> str:
    return ", ".join(f"{plan.count(kind)} {kind}" for kind in ACTION_KINDS)
