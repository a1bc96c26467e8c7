"""End to end: `amlaudit tickets sync` against each registered target's stand-in, every row of the table.

Parametrized over tests/ticket_targets.py's TARGETS: a target registered there runs all of these.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from amlaudit.auditor.cli import main
from tests.ticket_targets import TARGETS, TargetHarness, compute_id, finding, findings_doc

FUTURE, PAST = "2999-12-31", "2001-01-01"


@pytest.fixture(params=sorted(TARGETS))
def harness(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[TargetHarness]:
    with TARGETS[request.param](page_size=3) as h:
        for name, value in h.env.items():
            monkeypatch.setenv(name, value)
        yield h


class Sync:
    """Runs `amlaudit tickets sync` with a findings document; keeps the last stdout/stderr."""

    def __init__(self, harness: TargetHarness, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.harness, self.tmp_path, self.capsys = harness, tmp_path, capsys
        self.out = self.err = ""
        self.runs = 0

    def __call__(self, document: dict[str, Any], *extra: str) -> int:
        self.runs += 1
        path = self.tmp_path / f"findings-{self.runs}.json"
        path.write_text(json.dumps(document))
        self.capsys.readouterr()
        status = main(["tickets", "sync", *self.harness.sync_args, "--findings", str(path), *extra])
        captured = self.capsys.readouterr()
        self.out, self.err = captured.out, captured.err
        return status

    def writes_of(self, document: dict[str, Any], *extra: str) -> int:
        """Writes the stand-in received for one sync (asserting it exited 0)."""
        self.harness.standin.reset_requests()
        assert self(document, *extra) == 0, self.err
        return len(self.harness.standin.writes)


@pytest.fixture
def sync(harness: TargetHarness, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Sync:
    return Sync(harness, tmp_path, capsys)


def fp(n: int) -> str:
    return finding(n, "fail")["fingerprint"]


# -- the table, row by row ------------------------------------------------------------------------


def test_fail_without_ticket_creates_one_with_title_body_and_marker(harness: TargetHarness, sync: Sync) -> None:
    assert sync(findings_doc(finding(1, "fail"), finding(2, "pass")), "--report-url", "https://reports.example/r.html") == 0

    (ticket,) = harness.tickets()
    assert ticket.title == "[critical] Azure Batch can reach the compute nodes on TCP 29876-29877 — cpu-cluster-1"
    assert ticket.is_open and not ticket.accepted and not ticket.comments
    for words in ("Why", "DenyInternetInbound", "Evidence", "Remediation", "BatchNodeManagement on TCP 29876-29877",
                  "Required ports", compute_id(1), "https://reports.example/r.html"):
        assert words in ticket.body, words
    assert "created" in sync.out and ticket.key in sync.out


def test_fail_with_open_ticket_and_same_evidence_writes_nothing(harness: TargetHarness, sync: Sync) -> None:
    document = findings_doc(finding(1, "fail"), finding(2, "fail"))
    assert sync.writes_of(document) > 0

    assert sync.writes_of(document) == 0  # idempotent: no write request at all
    assert "0 changes" in sync.out and "2 tickets already in step" in sync.out


def test_fail_with_changed_evidence_comments_exactly_once(harness: TargetHarness, sync: Sync) -> None:
    sync.writes_of(findings_doc(finding(1, "fail")))
    changed = findings_doc(finding(1, "fail", evidence={"nsg": "nsg-training", "rule": "DenyAll", "priority": 90}))

    sync.writes_of(changed)
    ticket = harness.ticket(fp(1))
    assert ticket is not None and len(ticket.comments) == 1
    assert "evidence changed" in ticket.comments[0] and "DenyAll" in ticket.comments[0]
    assert sync.writes_of(changed) == 0  # the new digest was recorded
    assert len(harness.ticket(fp(1)).comments) == 1


def test_pass_closes_and_a_new_failure_reopens_what_amlaudit_closed(harness: TargetHarness, sync: Sync) -> None:
    sync.writes_of(findings_doc(finding(1, "fail")))

    sync.writes_of(findings_doc(finding(1, "pass")))
    closed = harness.ticket(fp(1))
    assert closed is not None and not closed.is_open
    assert "verified passing" in closed.comments[-1]
    assert sync.writes_of(findings_doc(finding(1, "pass"))) == 0

    sync.writes_of(findings_doc(finding(1, "fail"), generated_at="2026-12-09T06:00:00Z"))
    reopened = harness.ticket(fp(1))
    assert reopened is not None and reopened.is_open and reopened.key == closed.key
    assert "failing again since the run of 2026-12-09T06:00:00Z" in reopened.comments[-1]
    assert len(harness.tickets()) == 1
    assert sync.writes_of(findings_doc(finding(1, "fail"))) == 0


def test_fail_with_ticket_a_person_closed_is_left_alone_and_not_duplicated(harness: TargetHarness, sync: Sync) -> None:
    sync.writes_of(findings_doc(finding(1, "fail")))
    harness.person_closes(fp(1))

    assert sync.writes_of(findings_doc(finding(1, "fail"))) == 0
    assert len(harness.tickets()) == 1 and not harness.ticket(fp(1)).is_open
    assert "a person closed the ticket" in sync.out


def test_waived_failure_is_accepted_then_flagged_when_the_waiver_expires(harness: TargetHarness, sync: Sync) -> None:
    sync.writes_of(findings_doc(finding(1, "fail")))
    waiver = {"reason": "jump host pending, CHG-1042", "owner": "netops@contoso.com", "expires": FUTURE}

    sync.writes_of(findings_doc(finding(1, "fail", waiver=waiver)))
    accepted = harness.ticket(fp(1))
    assert accepted is not None and accepted.is_open and accepted.accepted
    for words in ("CHG-1042", "netops@contoso.com", FUTURE, "accepted"):
        assert words in accepted.comments[-1], words
    assert sync.writes_of(findings_doc(finding(1, "fail", waiver=waiver))) == 0

    expired = findings_doc(finding(1, "fail", waiver=waiver | {"expires": PAST}))
    sync.writes_of(expired)
    flagged = harness.ticket(fp(1))
    assert flagged.is_open and not flagged.accepted
    assert "no longer applies" in flagged.comments[-1] and len(flagged.comments) == 2
    assert sync.writes_of(expired) == 0


def test_waived_failure_keeps_a_closed_ticket_closed_until_the_waiver_ends(harness: TargetHarness, sync: Sync) -> None:
    sync.writes_of(findings_doc(finding(1, "fail")))
    sync.writes_of(findings_doc(finding(1, "pass")))
    waiver = {"reason": "accepted", "owner": "netops@contoso.com", "expires": FUTURE}

    assert sync.writes_of(findings_doc(finding(1, "fail", waiver=waiver), finding(2, "fail", waiver=waiver))) == 0
    assert not harness.ticket(fp(1)).is_open and harness.ticket(fp(2)) is None

    sync.writes_of(findings_doc(finding(1, "fail", waiver=waiver | {"expires": PAST})))
    assert harness.ticket(fp(1)).is_open


def test_error_or_absent_subject_never_closes(harness: TargetHarness, sync: Sync) -> None:
    sync.writes_of(findings_doc(finding(1, "fail"), finding(2, "fail")))

    assert sync.writes_of(findings_doc(finding(1, "error"))) == 0  # 1: error, 2: not in this run
    assert all(t.is_open for t in harness.tickets())
    assert "could not be verified in this run" in sync.out and "not in this run" in sync.out


def test_not_applicable_closes_with_no_longer_applies(harness: TargetHarness, sync: Sync) -> None:
    sync.writes_of(findings_doc(finding(1, "fail")))

    sync.writes_of(findings_doc(finding(1, "not_applicable")))
    ticket = harness.ticket(fp(1))
    assert not ticket.is_open and "no longer applies" in ticket.comments[-1]


def test_people_s_edits_to_title_and_body_survive(harness: TargetHarness, sync: Sync) -> None:
    sync.writes_of(findings_doc(finding(1, "fail")))
    body = harness.ticket(fp(1)).body
    harness.person_edits(fp(1), title="Batch blocked on cpu-cluster-1 (ops)", body="Triaged by ops.\n\n" + body)

    sync.writes_of(findings_doc(finding(1, "fail", evidence={"rule": "DenyAll"})))
    sync.writes_of(findings_doc(finding(1, "pass")))
    ticket = harness.ticket(fp(1))
    assert ticket.title == "Batch blocked on cpu-cluster-1 (ops)" and ticket.body.startswith("Triaged by ops.")
    assert not ticket.is_open and len(ticket.comments) == 2


# -- the rules around the table -------------------------------------------------------------------


def test_incomplete_run_closes_only_what_it_verified(harness: TargetHarness, sync: Sync) -> None:
    sync.writes_of(findings_doc(*(finding(n, "fail") for n in (1, 2, 3))))
    unreadable = compute_id(2) + "/nodes"  # something below compute 2 could not be read
    incomplete = findings_doc(finding(1, "pass"), finding(2, "pass"),
                              errors=[{"scope": unreadable, "operation": "read", "status": 403, "message": "denied"}])

    sync.writes_of(incomplete)
    assert [harness.ticket(fp(n)).is_open for n in (1, 2, 3)] == [False, True, True]
    assert "incomplete run" in sync.out


def test_listing_beyond_one_page(harness: TargetHarness, sync: Sync) -> None:
    document = findings_doc(*(finding(n, "fail") for n in range(8)))  # page size 3: three pages of tickets
    sync.writes_of(document, "--max-changes", "100")
    assert len(harness.tickets()) == 8

    assert sync.writes_of(document) == 0
    assert "8 tickets already in step" in sync.out
    sync.writes_of(findings_doc(*(finding(n, "pass") for n in range(8))), "--max-changes", "100")
    assert not any(t.is_open for t in harness.tickets())  # tickets on every page were found


def test_dry_run_sends_only_reads_and_prints_the_plan(harness: TargetHarness, sync: Sync) -> None:
    sync.writes_of(findings_doc(finding(1, "fail"), finding(2, "fail")))
    harness.standin.reset_requests()

    assert sync(findings_doc(finding(1, "pass"), finding(2, "fail", evidence={"x": 1}), finding(3, "fail")),
                "--dry-run") == 0
    assert harness.standin.requests and not harness.standin.writes  # reads only (a WIQL query is a read)
    assert "3 changes (1 create, 0 reopen, 1 comment, 0 accept, 1 close" in sync.out
    assert "cpu-cluster-3" in sync.out and "dry run" in sync.out
    assert len(harness.tickets()) == 2 and all(t.is_open for t in harness.tickets())


def test_max_changes_refuses_the_whole_plan_before_any_write(harness: TargetHarness, sync: Sync) -> None:
    harness.standin.reset_requests()

    assert sync(findings_doc(*(finding(n, "fail") for n in range(3))), "--max-changes", "2") == 2
    assert not harness.standin.writes and not harness.tickets()
    (line,) = sync.err.strip().splitlines()
    assert "3 changes" in line and "--max-changes 2" in line and "nothing was changed" in line


def test_default_max_changes_is_50(harness: TargetHarness, sync: Sync) -> None:
    assert sync(findings_doc(*(finding(n, "fail") for n in range(51)))) == 2
    assert "--max-changes 50" in sync.err and not harness.tickets()


@pytest.mark.parametrize("status", [401, 403, 404])
def test_refusals_exit_2_with_one_line_naming_the_target(harness: TargetHarness, sync: Sync, status: int) -> None:
    harness.standin.fail(harness.listing_path, status)

    assert sync(findings_doc(finding(1, "fail"))) == 2
    (line,) = sync.err.strip().splitlines()
    assert str(status) in line and harness.name.replace("-", " ").split()[0].lower() in line.lower()
    assert "Traceback" not in sync.err and not harness.standin.writes


def test_refusal_midway_reports_what_was_done_and_the_next_sync_finishes(harness: TargetHarness, sync: Sync) -> None:
    method, path = harness.create_request
    harness.standin.fail(path, 403, method=method, after=1)  # the first ticket is created, the second refused

    assert sync(findings_doc(finding(1, "fail"), finding(2, "fail"))) == 2
    assert "created" in sync.out and "stopped after 1 of 2 changes" in sync.out
    assert "403" in sync.err and len(sync.err.strip().splitlines()) == 1
    harness.standin.clear_faults()
    sync.writes_of(findings_doc(finding(1, "fail"), finding(2, "fail")))
    assert len(harness.tickets()) == 2


def test_the_token_never_leaks(harness: TargetHarness, sync: Sync, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    waiver = {"reason": "r", "owner": "o", "expires": FUTURE}
    for document in (findings_doc(finding(1, "fail"), finding(2, "fail")),
                     findings_doc(finding(1, "fail", waiver=waiver), finding(2, "pass")),
                     findings_doc(finding(1, "fail"), finding(2, "fail"))):
        assert sync(document) == 0
        assert harness.secret not in sync.out + sync.err
    harness.standin.fail(harness.listing_path, 429, retry_after=0, times=1)
    assert sync(findings_doc(finding(3, "fail")), "--dry-run") == 0  # waited out
    harness.standin.fail(harness.listing_path, 401)
    assert sync(findings_doc(finding(1, "fail"))) == 2
    assert harness.secret not in sync.out + sync.err
    assert harness.secret not in caplog.text
    for request in harness.standin.requests:  # nothing amlaudit sent carries it outside the auth header
        assert harness.secret not in json.dumps(request.body) and harness.secret not in request.path
    for ticket in harness.tickets():
        assert harness.secret not in ticket.body + "".join(ticket.comments) + ticket.title


def test_bad_input_exits_2_with_one_line(harness: TargetHarness, sync: Sync, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something-else"}')
    sync.capsys.readouterr()
    assert main(["tickets", "sync", *harness.sync_args, "--findings", str(bad)]) == 2
    err = sync.capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "not a findings document" in err
    assert main(["tickets", "sync", *harness.sync_args, "--findings", str(tmp_path / "missing.json")]) == 2
    assert "no such findings file" in sync.capsys.readouterr().err
    assert not harness.standin.writes
