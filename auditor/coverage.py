"""What a run could not verify, per (check, subject): the rule that keeps "gone" apart from "not seen".

Baselines, `amlaudit diff` and stale waivers all ask the same question about a
finding that is not failing now: was its subject really looked at this run? A
finding is verified only when this run's check gave it a real verdict (`pass` or
`not_applicable`), or when the subject is simply absent although the run could
have seen it. It is *unverified* when any of these holds:

- this run's finding for it is `error` (or a status this version does not know);
- the check did not run at all, or crashed (its `error` finding without a subject);
- the subject is absent and its subscription was not audited (not in the
  snapshot's subscription list and no resource of the snapshot is in it);
- the subject is absent and the run was narrowed by a workspace filter the
  subject is not under (`scope.workspaces` of a live collection);
- the subject is absent and a collection error explains it (the same rule the
  graph uses for gaps: an error at the subject, at a scope above it, or a failed
  subscription-wide list of its type), or a coverage gap names it or a scope above it.

One `Coverage` is built from an audit result (scan) or from a findings.json
(diff); both give the same answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from amlaudit.auditor.findings import AuditResult, Finding
from amlaudit.auditor.graph.build import ErrorIndex, describe_error
from amlaudit.auditor.ids import id_key, parse_arm_id
from amlaudit.auditor.snapshot import CollectionError, Snapshot

VERDICTS = ("pass", "not_applicable")  # the statuses that are a verified "not failing"


def subscriptions_in(ids: Iterable[str], listed: Iterable[str] = ()) -> list[str]:
    """The `listed` subscription ids, then those the ARM ids are in; first spelling kept, no repeats."""
    seen: dict[str, str] = {}
    for subscription_id in listed:
        seen.setdefault(subscription_id.lower(), subscription_id)
    for resource_id in ids:
        parts = resource_id.split("/", 3)  # "", "subscriptions", "<id>", rest
        if len(parts) >= 3 and parts[1].lower() == "subscriptions" and parts[2]:
            seen.setdefault(parts[2].lower(), parts[2])
    return list(seen.values())


def audited_subscriptions(snapshot: Snapshot) -> list[str]:
    """Subscription ids the snapshot covers: those it lists, then any a resource of it is in."""
    return subscriptions_in((r["id"] for r in snapshot.resources), (s.subscriptionId for s in snapshot.subscriptions))


def workspace_filter(snapshot: Snapshot) -> list[str]:
    """The `--workspace RG/NAME` filter a live collection recorded in `scope.workspaces` ([] = none)."""
    return list(snapshot.scope_workspaces)


def _subscription_key(resource_id: str) -> str | None:
    parsed = parse_arm_id(resource_id)
    return parsed.subscription_id.lower() if parsed else None


def _under_workspace(resource_id: str, workspaces: frozenset[tuple[str, str]]) -> bool:
    parsed = parse_arm_id(resource_id)
    if parsed is None or parsed.resource_group is None or parsed.namespace is None:
        return False
    if parsed.namespace.lower() != "microsoft.machinelearningservices" or not parsed.segments:
        return False
    kind, name = parsed.segments[0]
    return kind.lower() == "workspaces" and (parsed.resource_group.lower(), name.lower()) in workspaces


@dataclass(slots=True)
class Coverage:
    """Answers "could this run have verified check C on subject R?" for one run."""

    findings_by_fingerprint: dict[str, Finding]
    checks_run: frozenset[str]
    crashed_checks: dict[str, str]  # check id -> the crash message
    errors: ErrorIndex
    gap_keys: list[tuple[str, dict[str, Any]]]  # (id key, gap)
    subscriptions: frozenset[str] | None  # lower-cased ids; None: unknown (nothing is out of scope)
    workspaces: frozenset[tuple[str, str]] = field(default_factory=frozenset)  # (rg, name), lower-cased

    @classmethod
    def build(cls, findings: Iterable[Finding], checks_run: Iterable[str], errors: Sequence[Mapping[str, Any]],
              gaps: Sequence[Mapping[str, Any]], subscriptions: Iterable[str] | None,
              workspaces: Iterable[str] = ()) -> Coverage:
        by_fingerprint: dict[str, Finding] = {}
        crashed: dict[str, str] = {}
        for finding in findings:
            by_fingerprint[finding.fingerprint] = finding
            if finding.status == "error" and not finding.resource_id.strip():
                crashed[finding.check_id] = finding.message
        collection_errors = []
        for error in errors:
            try:
                collection_errors.append(CollectionError.model_validate(dict(error)))
            except ValidationError:
                # An error entry without a usable scope cannot be placed: it could explain anything.
                collection_errors.append(CollectionError(scope="/", message=str(error.get("message", "collection error"))))
        filter_pairs = set()
        for workspace in workspaces:
            rg, _, name = workspace.partition("/")
            filter_pairs.add((rg.strip().lower(), name.strip().lower()))
        return cls(
            findings_by_fingerprint=by_fingerprint,
            checks_run=frozenset(checks_run),
            crashed_checks=crashed,
            errors=ErrorIndex(collection_errors),
            gap_keys=[(id_key(str(g.get("id") or "")), dict(g)) for g in gaps],
            subscriptions=None if subscriptions is None else frozenset(s.lower() for s in subscriptions),
            workspaces=frozenset(filter_pairs),
        )

    @classmethod
    def of_result(cls, result: AuditResult) -> Coverage:
        return cls.build(result.findings, (c.id for c in result.checks), result.errors, result.coverage_gaps,
                         result.snapshot_subscriptions, result.snapshot_workspace_filter or ())

    @property
    def complete(self) -> bool:
        """Nothing outside the findings limits what this run saw: no collection error, gap or filter."""
        return not self.errors.scopes() and not self.gap_keys and not self.workspaces

    def unseen_scopes(self) -> list[str]:
        """Id keys of the places this run could not see into: collection error scopes and coverage gaps."""
        return [*self.errors.scopes(), *(key for key, _ in self.gap_keys)]

    def check_unverified(self, check_id: str) -> str | None:
        """Why nothing this check said (or did not say) can be trusted this run, or None."""
        if check_id not in self.checks_run:
            return f"check {check_id} did not run in this audit"
        crash = self.crashed_checks.get(check_id)
        if crash is not None:
            return f"check {check_id} could not run: {crash}"
        return None

    def unverified(self, check_id: str, resource_id: str, fingerprint: str) -> str | None:
        """Why this run cannot vouch that the (check, subject) pair is not failing, or None if it can."""
        current = self.findings_by_fingerprint.get(fingerprint)
        if current is not None:
            if current.status in VERDICTS or current.status == "fail":
                return None
            return f"cannot verify now: {current.message}" if current.status == "error" else \
                f"status {current.status!r} is not a verdict this version knows"
        reason = self.check_unverified(check_id)
        if reason is not None:
            return reason
        return self.absent_unverified(resource_id)

    def absent_unverified(self, resource_id: str) -> str | None:
        """Why a subject with no finding this run may still exist unseen, or None (it is gone)."""
        if self.subscriptions is not None:
            subscription = _subscription_key(resource_id)
            if subscription is None or subscription not in self.subscriptions:
                return "its subscription was not audited in this run"
        if self.workspaces and not _under_workspace(resource_id, self.workspaces):
            return "outside this run's workspace filter"
        error = self.errors.explain(resource_id)
        if error is not None:
            return f"collection error at {error.scope}: {describe_error(error)}"
        key = id_key(resource_id)
        for gap_key, gap in self.gap_keys:
            if gap_key and (key == gap_key or key.startswith(gap_key + "/")):
                return f"coverage gap: {gap.get('kind', 'resource')} {gap.get('id')}: {gap.get('reason', '')}".rstrip(": ")
        return None
