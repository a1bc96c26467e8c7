"""The Jira target against the Jira stand-in (Cloud REST v3 and Data Center REST v2)."""

from __future__ import annotations

import base64
import logging
import socket

import pytest

from amlaudit.auditor.tickets.jira import JiraSettings, JiraTarget, credentials_from_environment
from amlaudit.auditor.tickets.target import ACCEPTED_LABEL, TargetError, TicketDraft, TicketState
from tests.jira_standin import JiraStandIn


def draft(n: int, *, severity: str = "high", digest: str = "d1") -> TicketDraft:
    return TicketDraft(fingerprint=f"{n:032x}", check_id="compute-batch-inbound", severity=severity,
                       resource_id=f"/subscriptions/s/resourceGroups/rg/providers/x/cluster{n}",
                       title=f"[{severity}] Azure Batch can reach the nodes — cluster{n}",
                       body_markdown=f"## Why\nBatch reaches `cluster{n}`.\n\n- port: `29876`\n", evidence_digest=digest)


@pytest.fixture(params=["cloud", "datacenter"])
def jira(request: pytest.FixtureRequest):
    with JiraStandIn(deployment=request.param, page_size=3) as server:
        yield server


def target_for(server: JiraStandIn, **settings) -> JiraTarget:
    return JiraTarget.from_settings(JiraSettings(site_url=server.base_url, project="SEC", **settings),
                                    server.credentials_env)


def test_list_managed_reads_every_page_and_only_marked_issues(jira: JiraStandIn) -> None:
    for n in range(7):
        jira.seed(summary=f"finding {n}", labels=["amlaudit", f"amlaudit:{n:032x}"],
                  properties={"amlaudit": {"evidence_digest": f"e{n}", "closed_by_amlaudit": n == 2}},
                  status="Done" if n == 2 else "To Do")
    jira.seed(summary="a person's issue", labels=["network"])
    jira.seed(summary="marker but no fingerprint", labels=["amlaudit"])
    target = target_for(jira)

    tickets = target.list_managed()

    assert [t.state.fingerprint for t in tickets] == [f"{n:032x}" for n in range(7)]
    assert [t.is_open for t in tickets] == [n != 2 for n in range(7)]
    assert tickets[2].state.closed_by_amlaudit and tickets[3].state.evidence_digest == "e3"
    assert tickets[0].url == f"{jira.base_url}/browse/SEC-1"
    searches = jira.reads
    assert len(searches) == 3 and not jira.writes  # 8 marked issues, 3 a page: the paging and nothing more
    first = searches[0]
    assert first.param("jql") == 'project = "SEC" AND labels = "amlaudit" ORDER BY key ASC'
    assert first.param("properties") == "amlaudit"
    assert set(first.param("fields").split(",")) == {"summary", "status", "labels", "issuetype"}
    if jira.deployment == "cloud":
        assert {r.path for r in searches} == {"/rest/api/3/search/jql"}
        assert searches[0].param("nextPageToken") is None and searches[1].param("nextPageToken")
    else:
        assert {r.path for r in searches} == {"/rest/api/2/search"}
        assert [r.param("startAt") for r in searches] == ["0", "3", "6"]


def test_create_sends_markers_priority_and_state_in_one_write(jira: JiraStandIn) -> None:
    target = target_for(jira, labels=("security",))

    ticket = target.create(draft(1, severity="critical"))

    (write,) = jira.writes
    fields = write.body["fields"]
    assert fields["labels"] == ["amlaudit", f"amlaudit:{1:032x}", "security"]
    assert fields["priority"] == {"name": "Highest"} and fields["issuetype"] == {"name": "Bug"}
    assert write.body["properties"] == [{"key": "amlaudit", "value": {
        "fingerprint": f"{1:032x}", "evidence_digest": "d1", "accepted_until": None, "closed_by_amlaudit": False}}]
    if jira.deployment == "cloud":
        assert fields["description"]["type"] == "doc" and fields["description"]["content"][0]["type"] == "heading"
    else:
        assert fields["description"].startswith("h2. Why\n")
    assert (ticket.key, ticket.is_open) == ("SEC-1", True)
    assert target.list_managed() == [ticket]


def test_comment_records_state_only_when_it_changed(jira: JiraStandIn) -> None:
    target = target_for(jira)
    ticket = target.create(draft(1))
    jira.reset_requests()

    target.comment(ticket, "still failing", ticket.state)
    assert [(w.method, w.path.rsplit("/", 1)[-1]) for w in jira.writes] == [("POST", "comment")]

    jira.reset_requests()
    target.comment(ticket, "evidence changed", TicketState(ticket.state.fingerprint, evidence_digest="d2"))
    assert [(w.method, w.path.rsplit("/", 1)[-1]) for w in jira.writes] == [("POST", "comment"), ("PUT", "SEC-1")]
    assert "fields" not in jira.writes[1].body  # state only: a person's summary and description stay
    assert target.list_managed()[0].state.evidence_digest == "d2"


def test_close_and_reopen_use_the_workflow_transitions_read_once_per_status(jira: JiraStandIn) -> None:
    target = target_for(jira)
    for n in range(3):
        target.create(draft(n))
    tickets = target.list_managed()
    jira.reset_requests()

    for ticket in tickets[:2]:
        target.close(ticket, "passes now", TicketState(ticket.state.fingerprint, "d1", closed_by_amlaudit=True))

    transitions_reads = [r for r in jira.reads if r.path.endswith("/transitions")]
    assert len(transitions_reads) == 1  # both issues were in To Do: one read of that status's transitions
    posted = [w for w in jira.writes if w.path.endswith("/transitions")]
    assert [w.body["transition"] for w in posted] == [{"id": "21"}, {"id": "21"}]
    assert not jira.is_open("SEC-1") and not jira.is_open("SEC-2") and jira.is_open("SEC-3")
    closed = target.list_managed()[0]
    assert (closed.is_open, closed.state.closed_by_amlaudit) == (False, True)

    target.reopen(closed, "failing again since today", TicketState(closed.state.fingerprint, "d1"))
    assert jira.is_open("SEC-1")
    assert jira.writes[-1].body["transition"] == {"id": "41"}
    assert target.list_managed()[0].state.closed_by_amlaudit is False
    assert len(jira.issues["SEC-1"].comments) == 2


def test_waiver_adds_and_removes_the_accepted_label(jira: JiraStandIn) -> None:
    target = target_for(jira)
    ticket = target.create(draft(1))
    accepted = TicketState(ticket.state.fingerprint, "d1", accepted_until="2027-03-31")

    target.comment(ticket, "waived by alice until 2027-03-31", accepted)
    assert ACCEPTED_LABEL in jira.issues["SEC-1"].labels
    listed = target.list_managed()[0]
    assert listed.state.accepted_until == "2027-03-31"

    target.comment(listed, "the waiver expired", TicketState(ticket.state.fingerprint, "d1"))
    assert ACCEPTED_LABEL not in jira.issues["SEC-1"].labels
    assert target.list_managed()[0].state.accepted_until is None


def test_people_edits_keep_the_marker_state_and_their_changes(jira: JiraStandIn) -> None:
    target = target_for(jira)
    target.create(draft(1))
    issue = jira.issues["SEC-1"]
    issue.summary = "Renamed by a person"
    issue.description = "rewritten"
    issue.labels.append("team-network")
    jira.set_status("SEC-1", "In Progress")

    (ticket,) = target.list_managed()
    assert (ticket.title, ticket.is_open, ticket.state.evidence_digest) == ("Renamed by a person", True, "d1")
    target.close(ticket, "passes now", TicketState(ticket.state.fingerprint, "d1", closed_by_amlaudit=True))

    assert (issue.summary, issue.description) == ("Renamed by a person", "rewritten")
    assert "team-network" in issue.labels and not jira.is_open("SEC-1")


def test_a_workflow_without_a_done_transition_is_refused_naming_the_issue() -> None:
    with JiraStandIn(workflow="no-done") as jira:
        target = target_for(jira)
        ticket = target.create(draft(1))
        with pytest.raises(TargetError) as caught:
            target.close(ticket, "passes now", TicketState(ticket.state.fingerprint, "d1", closed_by_amlaudit=True))
    assert "cannot close SEC-1" in str(caught.value) and "Jira SEC" in str(caught.value)
    assert not [w for w in jira.writes if w.path.endswith("/transitions")]


def test_a_named_transition_is_used_and_a_missing_one_refused() -> None:
    with JiraStandIn() as jira:
        target = target_for(jira, reopen_transition="Reopen", close_transition="Done")
        ticket = target.create(draft(1))
        target.close(ticket, "passes", TicketState(ticket.state.fingerprint, "d1", closed_by_amlaudit=True))
        target.reopen(target.list_managed()[0], "again", TicketState(ticket.state.fingerprint, "d1"))
        assert jira.is_open("SEC-1")
        wrong = target_for(jira, close_transition="Resolve Issue")
        with pytest.raises(TargetError, match="cannot close SEC-1"):
            wrong.close(wrong.list_managed()[0], "passes", TicketState(ticket.state.fingerprint, "d1", True))


@pytest.mark.parametrize(("status", "words"), [(401, "credentials refused (401)"), (403, "permission denied (403)"),
                                               (404, "not found (404)")])
def test_refusals_become_one_line_target_errors(status: int, words: str) -> None:
    with JiraStandIn() as jira:
        jira.fail(r"/search/jql$", status)
        with pytest.raises(TargetError) as caught:
            target_for(jira).list_managed()
        site = jira.base_url
    message = str(caught.value)
    assert message.startswith(f"Jira SEC at {site}: listing issues: {words}")
    assert "\n" not in message and jira.token not in message


def test_wrong_credentials_are_refused_without_echoing_them() -> None:
    with JiraStandIn() as jira:
        target = JiraTarget.from_settings(JiraSettings(site_url=jira.base_url, project="SEC"),
                                          {"JIRA_EMAIL": jira.email, "JIRA_API_TOKEN": "wrong-token-value"})
        with pytest.raises(TargetError) as caught:
            target.create(draft(1))
    assert "credentials refused (401)" in str(caught.value) and "wrong-token-value" not in str(caught.value)
    assert not jira.issues


def test_a_bad_setting_is_reported_with_the_service_words() -> None:
    with JiraStandIn() as jira:
        target = target_for(jira, issue_type="Epic")
        with pytest.raises(TargetError, match=r"creating an issue for compute-batch-inbound: refused \(400\): valid issue type"):
            target.create(draft(1))


def test_429_is_waited_out_and_the_wait_is_bounded() -> None:
    with JiraStandIn() as jira:
        jira.fail(r"/search/jql$", 429, times=1, retry_after=1)
        assert target_for(jira).list_managed() == []
        assert [r.status for r in jira.requests] == [429, 200]

        jira.fail(r"/issue$", 429, retry_after=1)
        with pytest.raises(TargetError, match=r"creating an issue .*still rate limited after the bounded waits \(429\)"):
            target_for(jira, max_retries=1).create(draft(1))
        assert len([r for r in jira.requests if r.path.endswith("/issue")]) == 2  # the first try and one retry


def test_token_never_reaches_reprs_messages_or_logs(jira: JiraStandIn, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    target = target_for(jira)
    ticket = target.create(draft(1))
    target.close(ticket, "passes", TicketState(ticket.state.fingerprint, "d1", closed_by_amlaudit=True))
    jira.fail(r"/comment$", 403)
    with pytest.raises(TargetError) as caught:
        target.comment(ticket, "x", ticket.state)
    basic = base64.b64encode(f"{jira.email}:{jira.token}".encode()).decode()
    for text in (repr(target), str(caught.value), caplog.text, repr(credentials_from_environment(jira.credentials_env))):
        assert jira.token not in text and basic not in text
    assert "SEC-1" in str(caught.value)


def test_credentials_come_from_the_environment_only() -> None:
    with pytest.raises(TargetError, match="no credentials"):
        credentials_from_environment({})
    with pytest.raises(TargetError, match="set the Jira deployment"):
        credentials_from_environment({"JIRA_EMAIL": "a@b", "JIRA_API_TOKEN": "t", "JIRA_PAT": "p"})
    assert credentials_from_environment({"JIRA_EMAIL": "a@b", "JIRA_API_TOKEN": "t", "JIRA_PAT": "p"},
                                        "datacenter").deployment == "datacenter"
    with pytest.raises(TargetError, match="no credentials"):
        credentials_from_environment({"JIRA_API_TOKEN": "t"})  # an API token needs its e-mail


def test_an_unreachable_site_is_one_line() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        target = JiraTarget.from_settings(JiraSettings(site_url=f"http://127.0.0.1:{port}", project="SEC"),
                                          {"JIRA_PAT": "p"})
        with pytest.raises(TargetError, match=r"listing issues: cannot reach http://127\.0\.0\.1:\d+ \(ConnectionError\)"):
            target.list_managed()
