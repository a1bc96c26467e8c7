"""The GitHub target against the GitHub stand-in: listing, state line, rate limits, pacing, GHE, CLI glue."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from githubkit_schemas.latest.models import Issue, IssueComment, Label

from amlaudit.auditor.cli import main
from amlaudit.auditor.tickets.github import GitHubSettings, GitHubTarget
from amlaudit.auditor.tickets.pacing import SlidingWindows
from amlaudit.auditor.tickets.plan import PlanOptions
from amlaudit.auditor.tickets.sync import apply_plan, plan_for
from amlaudit.auditor.tickets.target import TargetError, TicketDraft, TicketState
from tests.github_standin import GitHubStandIn
from tests.ticket_targets import finding, findings_doc

REPO = "contoso/aml-security"


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHubStandIn]:
    with GitHubStandIn(repository=REPO, page_size=3) as server:
        monkeypatch.setenv("GITHUB_TOKEN", server.token)
        yield server


def target_for(server: GitHubStandIn, **settings) -> GitHubTarget:
    return GitHubTarget.from_settings(GitHubSettings(REPO, api_url=server.api_url, **settings), server.credentials_env)


def run(server: GitHubStandIn, tmp_path: Path, document: dict, *extra: str) -> int:
    path = tmp_path / "findings.json"
    path.write_text(json.dumps(document))
    return main(["tickets", "sync", "--to", "github", "--github-repo", REPO, "--github-api-url", server.api_url,
                 "--findings", str(path), *extra])


def draft(n: int) -> TicketDraft:
    return TicketDraft(f"{n:032x}", "compute-batch-inbound", "high", f"/subscriptions/s/x/computes/c{n}",
                       f"[high] Azure Batch can reach the compute nodes — c{n}", "## Why\n\nBatch is denied.\n", "d1")


def test_listing_pages_by_link_skips_pull_requests_and_unmarked_issues(github: GitHubStandIn) -> None:
    for n in range(7):
        github.seed(title=f"finding {n}", labels=["amlaudit", f"amlaudit:{n:032x}"])
    github.seed(title="a pull request", labels=["amlaudit", "amlaudit:" + "f" * 32], pull_request=True)
    github.seed(title="marker, no fingerprint", labels=["amlaudit"])
    github.seed(title="a person's issue", labels=["network"])
    target = target_for(github)

    tickets = target.list_managed()

    assert sorted(t.state.fingerprint for t in tickets) == [f"{n:032x}" for n in range(7)]
    reads = github.requests
    assert len(reads) == 3 and {r.method for r in reads} == {"GET"}  # 9 labelled items, 3 a page: 3 pages, no more
    first = reads[0]
    assert (first.param("labels"), first.param("state"), first.param("per_page")) == ("amlaudit", "all", "100")
    assert [r.param("page") for r in reads] == [None, "2", "3"]  # the Link header's next pages
    assert first.headers["X-GitHub-Api-Version"] == "2022-11-28" and github.auth_schemes == {"token"}
    assert first.headers["Accept"] == "application/vnd.github+json"


def test_stand_in_answers_have_the_shapes_githubs_description_requires(github: GitHubStandIn) -> None:
    target = target_for(github)
    ticket = target.create(draft(1))
    target.comment(ticket, "hello", ticket.state)
    issue = github.issues[1]
    Issue.model_validate(github._issue_json(issue, single=True))
    Issue.model_validate(github._issue_json(issue))
    IssueComment.model_validate(github._comment_json(issue, 0))
    Label.model_validate(github._label_json("amlaudit") | {"archived_at": None, "archived_by": None})


def test_state_line_is_the_only_part_of_the_body_amlaudit_rewrites(github: GitHubStandIn) -> None:
    target = target_for(github)
    created = target.create(draft(1))
    github.person_edits(1, title="triaged", body="Owner: ops\n\n" + github.issues[1].body + "\nMore notes.")
    (ticket,) = target.list_managed()

    target.comment(ticket, "evidence changed", TicketState(ticket.state.fingerprint, evidence_digest="d2"))

    body = github.issues[1].body
    assert body.startswith("Owner: ops\n\n## Why") and body.rstrip().endswith("More notes.")
    assert body.count("<!-- amlaudit-state:") == 1 and '"evidence_digest":"d2"' in body
    assert github.issues[1].title == "triaged" and created.key == "1"
    patch = github.writes[-1]
    assert patch.method == "PATCH" and set(patch.body) == {"body"}  # no title, no labels: nothing else is touched


def test_a_deleted_state_line_costs_one_comment_then_nothing(github: GitHubStandIn, tmp_path: Path) -> None:
    document = findings_doc(finding(1, "fail"))
    assert run(github, tmp_path, document) == 0
    github.person_edits(1, body="A person rewrote the whole description.")

    assert run(github, tmp_path, document) == 0
    assert len(github.issues[1].comments) == 1 and "no record" in github.issues[1].comments[0]
    assert github.issues[1].body.startswith("A person rewrote the whole description.")
    github.reset_requests()
    assert run(github, tmp_path, document) == 0 and not github.writes


def test_closed_again_by_a_person_after_amlaudit_closed_it_is_not_reopened(github: GitHubStandIn, tmp_path: Path) -> None:
    assert run(github, tmp_path, findings_doc(finding(1, "fail"))) == 0
    assert run(github, tmp_path, findings_doc(finding(1, "pass"))) == 0
    github.person_reopens(1)
    github.person_closes(1, at="2099-01-01T00:00:00Z")  # later than amlaudit's own close

    github.reset_requests()
    assert run(github, tmp_path, findings_doc(finding(1, "fail"))) == 0
    assert not github.writes and github.issues[1].state == "closed"


def test_close_and_reopen_set_state_reason(github: GitHubStandIn) -> None:
    target = target_for(github)
    ticket = target.create(draft(1))
    target.close(ticket, "passes", TicketState(ticket.state.fingerprint, "d1", closed_by_amlaudit=True))
    assert (github.issues[1].state, github.issues[1].state_reason) == ("closed", "completed")
    (closed,) = target.list_managed()
    assert closed.state.closed_by_amlaudit and not closed.is_open
    target.reopen(closed, "failing again", TicketState(closed.state.fingerprint, "d1"))
    assert (github.issues[1].state, github.issues[1].state_reason) == ("open", "reopened")
    assert [w.method for w in github.writes] == ["POST", "POST", "PATCH", "POST", "PATCH"]


def test_dry_run_sends_only_gets(github: GitHubStandIn, tmp_path: Path) -> None:
    assert run(github, tmp_path, findings_doc(*(finding(n, "fail") for n in range(4)))) == 0
    github.reset_requests()
    assert run(github, tmp_path, findings_doc(*(finding(n, "pass") for n in range(5))), "--dry-run") == 0
    assert {r.method for r in github.requests} == {"GET"} and len(github.requests) == 2


def test_429_with_retry_after_is_waited_out(github: GitHubStandIn, tmp_path: Path) -> None:
    github.fail(r"/issues$", 429, method="GET", retry_after=1, times=1)
    github.fail(r"/issues$", 403, method="POST", retry_after=1, times=1)  # GitHub's secondary limit answer

    assert run(github, tmp_path, findings_doc(finding(1, "fail"))) == 0
    assert [(r.method, r.status) for r in github.requests] == [("GET", 429), ("GET", 200), ("POST", 403), ("POST", 201)]
    assert len(github.issues) == 1  # the refused write was sent again once, not twice


def test_rate_limit_waits_are_bounded(github: GitHubStandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "amlaudit.toml"
    config.write_text("[tickets.github]\nmax_retries = 2\nmax_wait = 5\n")
    github.fail(r"/issues$", 429, method="GET", retry_after=1)

    assert run(github, tmp_path, findings_doc(finding(1, "fail")), "--config", str(config)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "still rate limited" in err and "GitHub contoso/aml-security" in err
    assert len(github.requests) == 3  # the first answer and two bounded waits

    github.clear_faults()
    github.fail(r"/issues$", 403, method="GET", retry_after=3600)  # longer than max_wait: no wait at all
    started = time.monotonic()
    assert run(github, tmp_path, findings_doc(finding(1, "fail")), "--config", str(config)) == 2
    assert "more than the 5 s allowed per wait" in capsys.readouterr().err and time.monotonic() - started < 30

    config.write_text("[tickets.github]\nmax_retries = 10\nmax_wait = 5\nmax_total_wait = 2\n")
    github.clear_faults()
    github.fail(r"/issues$", 429, method="GET", retry_after=1)
    github.reset_requests()
    assert run(github, tmp_path, findings_doc(finding(1, "fail")), "--config", str(config)) == 2
    assert "2 s waited in this sync, at most 2 s allowed" in capsys.readouterr().err
    assert len(github.requests) == 3  # two waits of 1 s fit the 2 s a sync may wait; the third does not


def test_a_failed_write_is_never_sent_twice(github: GitHubStandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    github.fail(r"/issues$", 502, method="POST")

    assert run(github, tmp_path, findings_doc(finding(1, "fail"))) == 2
    assert [r.method for r in github.writes] == ["POST"] and "502" in capsys.readouterr().err


def test_writes_are_paced_under_the_secondary_limit(github: GitHubStandIn) -> None:
    github.set_write_limits(((4, 1.0),))  # the model, scaled down: 4 writes in any second
    document = findings_doc(*(finding(n, "fail") for n in range(10)))
    paced = target_for(github, write_limits=((4, 1.0),))

    outcome = apply_plan(paced, plan_for(paced, document, _now(), PlanOptions()))

    assert outcome.complete and len(github.issues) == 10
    assert github.limit_violations == 0 and paced.pacer.waited > 0


def test_without_pacing_the_secondary_limit_is_waited_out(github: GitHubStandIn) -> None:
    github.set_write_limits(((4, 1.0),))
    unpaced = target_for(github, write_limits=())

    outcome = apply_plan(unpaced, plan_for(unpaced, findings_doc(*(finding(n, "fail") for n in range(6))), _now()))

    assert outcome.complete and len(github.issues) == 6 and github.limit_violations >= 1
    assert any(r.status == 403 for r in github.writes)


def test_sliding_windows_wait_only_when_a_window_is_full() -> None:
    clock = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    windows = SlidingWindows(((3, 60.0), (5, 3600.0)), clock=lambda: clock[0], sleep=sleep)

    def write() -> None:
        windows.wait_for_slot()
        windows.record_done()

    for _ in range(3):
        write()
    assert sleeps == []
    write()  # the 4th write within a minute waits for the 1st to leave the window
    assert sleeps == [60.0]
    write()
    write()  # the 6th write within an hour waits for the 1st to leave the hour
    assert clock[0] == pytest.approx(3600.0) and windows.waited == pytest.approx(3600.0)


def test_github_enterprise_base_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    with GitHubStandIn(repository=REPO, prefix="/api/v3") as ghe:
        monkeypatch.setenv("GITHUB_TOKEN", ghe.token)
        assert run(ghe, tmp_path, findings_doc(finding(1, "fail"))) == 0
        assert {r.path.split("/repos/")[0] for r in ghe.requests} == {"/api/v3"}
        assert f"GitHub {REPO} at {ghe.api_url}" in capsys.readouterr().out


def test_missing_token_or_unreachable_service_exit_2_without_the_token(github: GitHubStandIn, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    assert run(github, tmp_path, findings_doc(finding(1, "fail"))) == 2
    assert "set GITHUB_TOKEN" in capsys.readouterr().err

    monkeypatch.setenv("GITHUB_TOKEN", github.token)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    path = tmp_path / "f.json"
    path.write_text(json.dumps(findings_doc(finding(1, "fail"))))
    sync = ["tickets", "sync", "--to", "github", "--github-repo", REPO, "--findings", str(path), "--github-api-url"]
    assert main([*sync, f"http://127.0.0.1:{closed_port}/api/v3"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach http://127.0.0.1" in err and "ConnectError" in err and len(err.strip().splitlines()) == 1
    assert main([*sync, f"http://user:{github.token}@127.0.0.1:{closed_port}/api/v3"]) == 2  # a secret in the URL
    err = capsys.readouterr().err
    assert "must be a plain https://HOST" in err and github.token not in err


def test_repr_and_errors_never_show_the_token(github: GitHubStandIn) -> None:
    target = target_for(github)
    assert github.token not in repr(target) and github.token not in target.describe()
    github.fail(r"/issues$", 404)
    with pytest.raises(TargetError) as refused:
        target.list_managed()
    assert "not found (404)" in str(refused.value) and github.token not in str(refused.value)


def test_config_tables_and_flags(github: GitHubStandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "amlaudit.toml"
    config.write_text(f'[tickets]\nmax_changes = 1\nreport_url = "https://reports.example/latest.html"\n\n'
                      f'[tickets.github]\nrepository = "{REPO}"\napi_url = "{github.api_url}"\nlabels = ["security"]\n')
    path = tmp_path / "f.json"
    path.write_text(json.dumps(findings_doc(finding(1, "fail"), finding(2, "fail"))))
    sync = ["tickets", "sync", "--to", "github", "--findings", str(path), "--config", str(config)]

    assert main(sync) == 2 and "--max-changes 1" in capsys.readouterr().err  # max_changes from the config
    assert main([*sync, "--max-changes", "5"]) == 0  # the flag overrides it
    issue = github.issues[1]
    assert issue.labels[-1] == "security" and "https://reports.example/latest.html" in issue.body

    config.write_text('[tickets.github]\nrepository = "contoso/aml-security"\ntoken = "x"\n')
    assert main(sync) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "tickets.github.token" in err
    assert main(["tickets", "sync", "--to", "github", "--findings", str(path)]) == 2
    assert "missing target setting: --github-repo" in capsys.readouterr().err


def test_scan_then_tickets(github: GitHubStandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "amlaudit.toml"
    config.write_text(f'[tickets]\nmax_changes = 100\n\n[tickets.github]\nrepository = "{REPO}"\n'
                      f'api_url = "{github.api_url}"\n')
    out = tmp_path / "out"

    assert main(["scan", "--demo", "--out", str(out), "--tickets", "github", "--config", str(config)]) == 1
    failing = [f for f in json.loads((out / "findings.json").read_text())["findings"] if f["status"] == "fail"]
    assert len(github.issues) == len(failing) > 0 and "created" in capsys.readouterr().out

    config.write_text('[tickets.github]\napi_url = "http://127.0.0.1:9"\n')  # no repository: refused before the scan
    assert main(["scan", "--demo", "--out", str(tmp_path / "out2"), "--tickets", "github", "--config", str(config)]) == 2
    assert not (tmp_path / "out2").exists() and "--github-repo" in capsys.readouterr().err


def test_stand_in_runs_by_hand() -> None:
    child = subprocess.Popen([sys.executable, "-m", "tests.github_standin", "--port", "0", "--page-size", "5"],
                             stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent)
    try:
        lines = [child.stdout.readline() for _ in range(3)]
        assert lines[0].startswith("# stand-in GitHub at http://127.0.0.1:")
        assert lines[1].startswith("export GITHUB_TOKEN=") and "--github-api-url" in lines[2]
    finally:
        child.send_signal(signal.SIGINT)
        assert "0 reads, 0 writes" in child.communicate(timeout=20)[0]


def _now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)
