"""The planner, the ticket text and the runner as plain functions: every row of the table, the edges."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from markdown_it import MarkdownIt

from amlaudit.auditor.tickets import text
from amlaudit.auditor.tickets.plan import FindingsInputError, PlanOptions, make_plan
from amlaudit.auditor.tickets.sync import TooManyChanges, apply_plan, refuse_if_too_many, render_plan
from amlaudit.auditor.tickets.target import TargetError, Ticket, TicketDraft, TicketState
from tests.ticket_targets import WORKSPACE, compute_id, finding, findings_doc

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
WAIVER = {"reason": "jump host pending, CHG-1042", "owner": "netops@contoso.com", "expires": "2027-03-31"}


def fp(n: int) -> str:
    return finding(n, "fail")["fingerprint"]


def digest(n: int = 1, **kw) -> str:
    return text.evidence_digest(finding(n, "fail", **kw)["evidence"])


def ticket(n: int = 1, *, is_open: bool = True, key: str | None = None, **state) -> Ticket:
    return Ticket(key=key or str(100 + n), url=f"https://tickets.example/{n}", title=f"ticket {n}", is_open=is_open,
                  state=TicketState(fp(n), **state))


def plan(*entries, tickets=(), now=NOW, **doc):
    return make_plan(findings_doc(*entries, **doc), list(tickets), now, PlanOptions(report_url="https://r.example/x"))


def only(p):
    assert len(p.actions) == 1, p.actions
    return p.actions[0]


# -- rows -----------------------------------------------------------------------------------------


def test_fail_without_ticket_creates_a_draft() -> None:
    action = only(plan(finding(1, "fail")))
    assert action.kind == "create" and action.ticket is None
    draft = action.draft
    assert draft.title == "[critical] Azure Batch can reach the compute nodes on TCP 29876-29877 — cpu-cluster-1"
    assert draft.evidence_digest == digest() and draft.fingerprint == fp(1) and draft.severity == "critical"
    assert action.state == TicketState(fp(1), evidence_digest=digest())
    for section in ("## Why", "## Evidence", "## Remediation", "## Source", "## Subject", "https://r.example/x"):
        assert section in draft.body_markdown


def test_fail_with_open_ticket_same_evidence_does_nothing() -> None:
    p = plan(finding(1, "fail"), tickets=[ticket(evidence_digest=digest())])
    assert not p.actions and not p.left_alone and p.unchanged == 1


def test_fail_with_changed_or_unrecorded_evidence_comments_once() -> None:
    changed = only(plan(finding(1, "fail"), tickets=[ticket(evidence_digest="old")]))
    assert (changed.kind, changed.reason) == ("comment", "evidence changed")
    assert changed.state.evidence_digest == digest() and "the evidence changed" in changed.text
    unrecorded = only(plan(finding(1, "fail"), tickets=[ticket()]))
    assert unrecorded.kind == "comment" and "no record" in unrecorded.text


def test_fail_with_ticket_closed_by_amlaudit_reopens() -> None:
    action = only(plan(finding(1, "fail"), tickets=[ticket(is_open=False, evidence_digest=digest(),
                                                          closed_by_amlaudit=True)]))
    assert action.kind == "reopen" and "failing again since the run of 2026-12-01T06:00:00Z" in action.text
    assert action.state == TicketState(fp(1), evidence_digest=digest(), closed_by_amlaudit=False)


def test_fail_with_ticket_closed_by_a_person_is_left_alone() -> None:
    p = plan(finding(1, "fail"), tickets=[ticket(is_open=False, evidence_digest=digest())])
    assert not p.actions
    (left,) = p.left_alone
    assert "a person closed the ticket" in left.reason and left.ticket.key == "101"


@pytest.mark.parametrize("status, reason, words", [("pass", "verified passing", "verified passing"),
                                                   ("not_applicable", "no longer applies", "no longer applies")])
def test_verified_pass_or_not_applicable_closes(status: str, reason: str, words: str) -> None:
    action = only(plan(finding(1, status), tickets=[ticket(evidence_digest="d", accepted_until="2027-01-01")]))
    assert (action.kind, action.reason) == ("close", reason) and words in action.text
    assert action.state == TicketState(fp(1), evidence_digest="d", accepted_until=None, closed_by_amlaudit=True)
    assert not plan(finding(1, status), tickets=[ticket(is_open=False)]).actions
    assert not plan(finding(1, status)).actions


def test_waived_failure_is_accepted_once_per_expiry() -> None:
    waived = finding(1, "fail", waiver=WAIVER)
    action = only(plan(waived, tickets=[ticket(evidence_digest=digest())]))
    assert action.kind == "accept" and action.state.accepted_until == "2027-03-31"
    for words in ("CHG-1042", "netops@contoso.com", "2027-03-31"):
        assert words in action.text
    assert not plan(waived, tickets=[ticket(evidence_digest=digest(), accepted_until="2027-03-31")]).actions
    extended = finding(1, "fail", waiver=WAIVER | {"expires": "2027-06-30"})
    assert only(plan(extended, tickets=[ticket(accepted_until="2027-03-31")])).state.accepted_until == "2027-06-30"


def test_waived_failure_without_ticket_or_with_a_closed_one_is_left_alone() -> None:
    waived = finding(1, "fail", waiver=WAIVER)
    for tickets in ([], [ticket(is_open=False, closed_by_amlaudit=True)]):
        p = plan(waived, tickets=tickets)
        assert not p.actions and "waived until 2027-03-31" in p.left_alone[0].reason


@pytest.mark.parametrize("waiver, waived", [
    (WAIVER | {"expires": "2026-12-01"}, True),  # expires today: still holds
    (WAIVER | {"expires": "2026-11-30"}, False),
    (WAIVER | {"expired": True}, False),
    (WAIVER | {"expires": "someday"}, False),  # unreadable: not honoured, the finding fails
])
def test_waiver_expiry(waiver: dict, waived: bool) -> None:
    p = plan(finding(1, "fail", waiver=waiver), tickets=[ticket(evidence_digest=digest())])
    assert [a.kind for a in p.actions] == (["accept"] if waived else [])  # not waived: failing, evidence as recorded


def test_expired_waiver_on_an_accepted_ticket_comments_and_clears_acceptance() -> None:
    expired = finding(1, "fail", waiver=WAIVER | {"expires": "2026-11-30"})
    action = only(plan(expired, tickets=[ticket(evidence_digest=digest(), accepted_until="2026-11-30")]))
    assert action.kind == "comment" and action.state.accepted_until is None
    assert "no longer applies (today is 2026-12-01)" in action.text
    reopen = only(plan(expired, tickets=[ticket(is_open=False, accepted_until="2026-11-30", closed_by_amlaudit=True)]))
    assert reopen.kind == "reopen"


def test_error_or_absent_subject_leaves_open_tickets_alone() -> None:
    p = plan(finding(1, "error"), tickets=[ticket(1, evidence_digest="d"), ticket(2, evidence_digest="d"),
                                           ticket(3, is_open=False)])
    assert not p.actions
    assert sorted(item.reason.split(" (")[0].split(":")[0] for item in p.left_alone) == [
        "could not be verified in this run", "not in this run"]
    assert p.incomplete


def test_incomplete_run_closes_only_verified_subjects_nothing_named_unreadable() -> None:
    rg = "/subscriptions/9b8e7d6c-5a4b-4c3d-8e2f-1a0b9c8d7e02/resourceGroups/RG-FRAUD-ML"  # case differs: ids compare case-insensitively
    other = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/computes/c"
    elsewhere = finding(2, "pass", resource_id=other)
    entries = [finding(1, "pass"), elsewhere, finding(3, "pass"), finding(4, "pass")]
    tickets = [ticket(1), ticket(3), ticket(4), Ticket("9", "u", "t", True, TicketState(elsewhere["fingerprint"]))]
    p = plan(*entries, tickets=tickets,
             errors=[{"scope": rg, "operation": "list", "status": 403, "message": "denied"}])
    assert [a.fingerprint for a in p.actions] == [elsewhere["fingerprint"]]
    assert p.incomplete and all("incomplete run" in item.reason for item in p.left_alone)
    gap = plan(finding(1, "pass"), finding(3, "pass"), tickets=[ticket(1), ticket(3)],
               gaps=[{"kind": "compute", "id": compute_id(1) + "/", "reason": "403", "status": 403}])
    assert [a.fingerprint for a in gap.actions] == [fp(3)]


def test_a_second_ticket_with_the_same_marker_is_reported_not_touched() -> None:
    p = plan(finding(1, "pass"), tickets=[ticket(key="7", is_open=False), ticket(key="12")])
    assert only(p).ticket.key == "12"
    assert "another ticket (12)" in p.left_alone[0].reason and p.left_alone[0].ticket.key == "7"


def test_actions_are_ordered_by_kind_and_counted() -> None:
    p = plan(finding(1, "fail"), finding(2, "pass"), finding(3, "fail"),
             tickets=[ticket(2), ticket(3, is_open=False, closed_by_amlaudit=True)])
    assert [a.kind for a in p.actions] == ["create", "reopen", "close"]
    assert (p.changes, p.count("create"), p.count("comment")) == (3, 1, 0)


# -- the findings document ------------------------------------------------------------------------


@pytest.mark.parametrize("document, words", [
    ({"format": "other"}, "not a findings document"),
    ({"format": "amlaudit.findings/v1"}, "no 'findings' list"),
    (findings_doc(finding(1, "fail") | {"fingerprint": ""}), "has no 'fingerprint'"),
    (findings_doc(finding(1, "fail") | {"status": "warn"}), "unknown status"),
    (findings_doc(finding(1, "fail")) | {"summary": {"pass": 3, "fail": 0, "error": 0, "not_applicable": 0}},
     "inconsistent"),
])
def test_unusable_findings_are_refused(document: dict, words: str) -> None:
    with pytest.raises(FindingsInputError, match=words):
        make_plan(document, [], NOW)


def test_one_fingerprint_twice_fail_wins_over_pass_and_a_contradiction_is_unverified() -> None:
    assert only(plan(finding(1, "pass"), finding(1, "fail"))).kind == "create"
    p = plan(finding(1, "pass"), finding(1, "error"), tickets=[ticket()])
    assert not p.actions and "could not be verified" in p.left_alone[0].reason


# -- text -----------------------------------------------------------------------------------------


def test_evidence_digest_is_canonical() -> None:
    assert text.evidence_digest({"a": 1, "b": [1, 2]}) == text.evidence_digest({"b": [1, 2], "a": 1})
    assert text.evidence_digest({"a": 1}) != text.evidence_digest({"a": 2})
    assert len(text.evidence_digest({})) == 32


def test_title_uses_the_arm_id_last_segment_and_stays_within_limits() -> None:
    assert text.subject_name(WORKSPACE + "/computes/gpu-01/") == "gpu-01"
    long = finding(1, "fail") | {"title": "x" * 400}
    assert len(text.ticket_title(long)) == text.TITLE_LIMIT and text.ticket_title(long).endswith("…")


def test_text_from_azure_cannot_become_markup() -> None:
    hostile = "# heading\n- item\n1. one\n<img src=x onerror=alert(1)> [click](javascript:alert(1)) **bold** `code`"
    html = MarkdownIt("commonmark").render(text.md_text(hostile))
    assert "<h1>" not in html and "<li>" not in html and "<img" not in html and "<a " not in html
    assert "<strong>" not in html and "<code>" not in html and "&lt;img" in html
    assert MarkdownIt("commonmark").render(text.md_code("a``b")).count("<code>") == 1
    body = text.ticket_body(finding(1, "fail") | {"message": hostile}, source=None, report_url="javascript:alert(1)")
    assert "<a " not in MarkdownIt("commonmark").render(body)  # no link at all: only http(s) report URLs are linked
    assert "[Full report](https://r.example/x)" in text.ticket_body(finding(1, "fail"), source=None,
                                                                    report_url="https://r.example/x")


def test_evidence_is_rendered_as_nested_lists_and_shortened_when_huge() -> None:
    rendered = text.render_evidence({"nsg": "nsg-a", "rules": [{"name": "r1", "priority": 100}], "ports": [1, 2]})
    assert "- **nsg**: `nsg-a`" in rendered and "  - item 1:" in rendered and "`1`, `2`" in rendered
    huge = text.render_evidence({f"k{i}": "v" * 200 for i in range(200)})
    assert len(huge) <= text.EVIDENCE_LIMIT + 200 and "shortened" in huge
    many = text.render_evidence({"items": [f"x{i}" for i in range(40)]})
    assert "… and 15 more" in many


# -- the runner -----------------------------------------------------------------------------------


class _Recorder:
    name = "github"

    def __init__(self, fail_on: int | None = None) -> None:
        self.calls: list[str] = []
        self.fail_on = fail_on

    def describe(self) -> str:
        return "Recorder"

    def list_managed(self) -> list[Ticket]:
        return []

    def _record(self, what: str) -> None:
        if self.fail_on is not None and len(self.calls) == self.fail_on:
            raise TargetError("Recorder: permission denied (403)")
        self.calls.append(what)

    def create(self, draft: TicketDraft) -> Ticket:
        self._record(f"create {draft.fingerprint}")
        return Ticket("1", "u", draft.title, True, TicketState(draft.fingerprint))

    def comment(self, ticket: Ticket, text_: str, state: TicketState) -> None:
        self._record("comment")

    def close(self, ticket: Ticket, text_: str, state: TicketState) -> None:
        self._record("close")

    def reopen(self, ticket: Ticket, text_: str, state: TicketState) -> None:
        self._record("reopen")


def test_max_changes_refuses_before_anything_is_applied() -> None:
    p = plan(finding(1, "fail"), finding(2, "fail"), finding(3, "fail"))
    target = _Recorder()
    with pytest.raises(TooManyChanges, match="3 changes .* more than --max-changes 2; nothing was changed"):
        refuse_if_too_many(p, 2, target)
    refuse_if_too_many(p, 3, target)
    assert target.calls == []


def test_apply_stops_at_the_first_refusal_and_says_what_was_done() -> None:
    p = plan(finding(1, "fail"), finding(2, "fail"), finding(3, "fail"))
    outcome = apply_plan(_Recorder(fail_on=1), p)
    assert len(outcome.done) == 1 and outcome.failed is p.actions[1] and "403" in outcome.error
    assert not outcome.complete


def test_rendered_plan_has_counts_titles_and_left_alone_reasons() -> None:
    p = plan(finding(1, "fail"), finding(2, "error"), tickets=[ticket(2)])
    lines = render_plan(p, _Recorder(), dry_run=True, max_changes=50)
    assert "1 changes (1 create, 0 reopen, 0 comment, 0 accept, 0 close; limit 50)" in lines[2]
    assert any("cpu-cluster-1" in line for line in lines) and any("1 × could not be verified" in line for line in lines)
