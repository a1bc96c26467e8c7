"""The Azure Boards target against the Azure Boards stand-in."""

from __future__ import annotations

import base64
import logging
import shutil
from pathlib import Path

import pytest

from amlaudit.auditor.tickets.azure_boards import AzureBoardsSettings, AzureBoardsTarget, credentials_from_environment
from amlaudit.auditor.tickets.target import TargetError, TicketDraft, TicketState
from tests.azure_boards_standin import AzureBoardsStandIn
from tests.standin.environment import STANDIN_AZ


def draft(n: int, *, severity: str = "high", digest: str = "d1") -> TicketDraft:
    return TicketDraft(fingerprint=f"{n:032x}", check_id="compute-batch-inbound", severity=severity,
                       resource_id=f"/subscriptions/s/resourceGroups/rg/providers/x/cluster{n}",
                       title=f"[{severity}] Azure Batch can reach the nodes — cluster{n}",
                       body_markdown=f"## Why\nBatch reaches `cluster{n}` <img src=x onerror=alert(1)>.\n",
                       evidence_digest=digest)


@pytest.fixture
def boards():
    with AzureBoardsStandIn(wiql_limit=3) as server:
        yield server


def target_for(server: AzureBoardsStandIn, **settings) -> AzureBoardsTarget:
    settings.setdefault("wiql_page_size", server.wiql_limit)
    return AzureBoardsTarget.from_settings(
        AzureBoardsSettings(organization_url=server.organization_url, project=server.project, **settings),
        server.credentials_env)


def test_list_managed_pages_wiql_by_id_and_reads_fields_in_batches(boards: AzureBoardsStandIn) -> None:
    for n in range(7):
        tags = ["amlaudit", f"amlaudit:{n:032x}", f"amlaudit-evidence:e{n}"] + (["amlaudit-closed"] if n == 2 else [])
        boards.seed(title=f"finding {n}", tags=tags, state="Closed" if n == 2 else "New")
    boards.seed(title="a person's bug", tags=["network"])
    boards.seed(title="marker without fingerprint", tags=["amlaudit"])
    target = target_for(boards, batch_size=2)

    tickets = target.list_managed()

    assert [t.state.fingerprint for t in tickets] == [f"{n:032x}" for n in range(7)]
    assert [t.is_open for t in tickets] == [n != 2 for n in range(7)]
    assert tickets[2].state.closed_by_amlaudit and tickets[3].state.evidence_digest == "e3"
    assert tickets[0].url == f"{boards.organization_url}/Fabrikam%20Fiber/_workitems/edit/1"
    assert not boards.writes
    wiql = [r for r in boards.reads if r.path.endswith("/wit/wiql")]
    # 8 tagged ids, 3 a query: pages after 0, 3 and 6 (the last one short), each with $top.
    assert [r.body["query"].split("[System.Id] > ")[1].split(" ")[0] for r in wiql] == ["0", "3", "6"]
    assert wiql[0].body["query"] == ("SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project AND "
                                     "[System.Tags] CONTAINS 'amlaudit' AND [System.Id] > 0 ORDER BY [System.Id]")
    assert {r.param("$top") for r in wiql} == {"3"}
    reads = [r for r in boards.reads if r.path.endswith("/wit/workItems")]
    assert sorted(r.param("ids") for r in reads) == ["1,2", "3,4", "5,6", "7,9"]  # read concurrently
    assert set(reads[0].param("fields").split(",")) == {"System.Id", "System.Title", "System.State", "System.Tags",
                                                       "System.WorkItemType"}
    assert len([r for r in boards.reads if r.path.endswith("/states")]) == 1  # one type: its states read once
    assert all("api-version=7.1" in r.headers["Accept"] for r in boards.reads if r.method != "OPTIONS")


def test_the_service_wiql_ceiling_is_respected(boards: AzureBoardsStandIn) -> None:
    for n in range(5):
        boards.seed(title=f"f{n}", tags=["amlaudit", f"amlaudit:{n:032x}"])
    with pytest.raises(TargetError, match="VS402337"):  # a page larger than the service allows is refused
        target_for(boards, wiql_page_size=10).list_managed()
    assert len(target_for(boards).list_managed()) == 5


def test_create_is_one_json_patch_with_markers_state_and_escaped_html(boards: AzureBoardsStandIn) -> None:
    target = target_for(boards, area_path="Fabrikam Fiber\\Security", iteration_path="Fabrikam Fiber\\Sprint 1")

    ticket = target.create(draft(1, severity="critical"))

    (write,) = boards.writes
    assert write.method == "POST" and write.path.endswith("/_apis/wit/workItems/$Bug")
    assert write.content_type.startswith("application/json-patch+json")
    ops = {op["path"]: op for op in write.body}
    assert all(op["op"] == "add" for op in write.body)
    assert ops["/fields/System.Tags"]["value"] == f"amlaudit; amlaudit:{1:032x}; amlaudit-evidence:d1"
    assert ops["/fields/Microsoft.VSTS.Common.Priority"]["value"] == 1
    assert ops["/fields/System.AreaPath"]["value"] == "Fabrikam Fiber\\Security"
    html = ops["/fields/Microsoft.VSTS.TCM.ReproSteps"]["value"]  # a Bug's body field
    assert "<h2>Why</h2>" in html and "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert (ticket.key, ticket.is_open) == ("1", True)
    assert target.list_managed() == [ticket]


def test_comment_close_and_reopen_are_one_write_each(boards: AzureBoardsStandIn) -> None:
    target = target_for(boards)
    ticket = target.create(draft(1))
    fp = ticket.state.fingerprint
    boards.reset_requests()

    target.comment(ticket, "evidence changed", TicketState(fp, "d2"))
    target.close(ticket, "passes now", TicketState(fp, "d2", closed_by_amlaudit=True))
    assert len(boards.writes) == 2 and {w.method for w in boards.writes} == {"PATCH"}
    close_ops = {op["path"]: op["value"] for op in boards.writes[1].body}
    assert close_ops["/fields/System.State"] == "Closed"
    assert close_ops["/fields/System.Tags"].endswith("amlaudit-evidence:d2; amlaudit-closed")
    item = boards.items[1]
    assert item.history == ["<p>evidence changed</p>\n", "<p>passes now</p>\n"]
    listed = target.list_managed()[0]
    assert (listed.is_open, listed.state) == (False, TicketState(fp, "d2", closed_by_amlaudit=True))

    boards.reset_requests()
    target.reopen(listed, "failing again since today", TicketState(fp, "d2"))
    (write,) = boards.writes
    assert {op["path"]: op["value"] for op in write.body}["/fields/System.State"] == "New"
    assert boards.category(1) == "Proposed" and "amlaudit-closed" not in item.tags


def test_a_comment_that_changes_no_state_does_not_rewrite_tags(boards: AzureBoardsStandIn) -> None:
    target = target_for(boards)
    ticket = target.create(draft(1))
    boards.reset_requests()
    target.comment(ticket, "still failing", ticket.state)
    assert [op["path"] for op in boards.writes[0].body] == ["/fields/System.History"]


def test_waiver_tags_come_and_go(boards: AzureBoardsStandIn) -> None:
    target = target_for(boards)
    ticket = target.create(draft(1))
    fp = ticket.state.fingerprint
    target.comment(ticket, "waived", TicketState(fp, "d1", accepted_until="2027-03-31"))
    assert {"amlaudit-accepted", "amlaudit-accepted-until:2027-03-31"} <= set(boards.items[1].tags)
    listed = target.list_managed()[0]
    assert listed.state.accepted_until == "2027-03-31"
    target.comment(listed, "waiver expired", TicketState(fp, "d1"))
    assert not any(t.startswith("amlaudit-accepted") for t in boards.items[1].tags)


def test_people_edits_survive(boards: AzureBoardsStandIn) -> None:
    target = target_for(boards)
    target.create(draft(1))
    item = boards.items[1]
    item.fields["System.Title"] = "Renamed by a person"
    item.fields["System.Tags"] += "; team-network"
    item.fields["System.State"] = "Active"

    (ticket,) = target.list_managed()
    assert (ticket.title, ticket.is_open, ticket.state.evidence_digest) == ("Renamed by a person", True, "d1")
    target.close(ticket, "passes now", TicketState(ticket.state.fingerprint, "d1", closed_by_amlaudit=True))

    assert item.fields["System.Title"] == "Renamed by a person"
    assert "team-network" in item.tags and boards.category(1) == "Completed"
    assert not any(op["path"] == "/fields/System.Title" for op in boards.writes[-1].body)


def test_basic_process_issue_type_uses_description_and_done(boards: AzureBoardsStandIn) -> None:
    target = target_for(boards, work_item_type="Issue")
    ticket = target.create(draft(1))
    assert "/fields/System.Description" in {op["path"] for op in boards.writes[0].body}
    target.close(ticket, "passes", TicketState(ticket.state.fingerprint, "d1", closed_by_amlaudit=True))
    assert boards.items[1].fields["System.State"] == "Done"
    target.reopen(target.list_managed()[0], "again", TicketState(ticket.state.fingerprint, "d1"))
    assert boards.items[1].fields["System.State"] == "To Do"


def test_a_missing_state_is_refused_naming_the_work_item(boards: AzureBoardsStandIn) -> None:
    target = target_for(boards, closed_state="Verified")
    ticket = target.create(draft(1))
    with pytest.raises(TargetError, match=r"cannot close work item 1: Bug has no state 'Verified'"):
        target.close(ticket, "passes", TicketState(ticket.state.fingerprint, "d1", closed_by_amlaudit=True))
    boards.states["Task"] = [("New", "Proposed", "b2b2b2"), ("Active", "InProgress", "007acc")]
    task_target = target_for(boards, work_item_type="Task")
    task = task_target.create(draft(2))
    with pytest.raises(TargetError, match=r"cannot close work item 2: Task has no state in the Completed category"):
        task_target.close(task, "passes", TicketState(task.state.fingerprint, "d1", closed_by_amlaudit=True))


@pytest.mark.parametrize(("status", "words"), [(401, "credentials refused (401)"), (403, "permission denied (403)"),
                                               (404, "not found (404)")])
def test_refusals_become_one_line_target_errors(boards: AzureBoardsStandIn, status: int, words: str) -> None:
    boards.fail(r"/wit/wiql$", status)
    with pytest.raises(TargetError) as caught:
        target_for(boards).list_managed()
    message = str(caught.value)
    assert message.startswith(f"Azure Boards Fabrikam Fiber at {boards.organization_url}: querying work items: {words}")
    assert "\n" not in message and boards.pat not in message


def test_a_wrong_pat_is_refused_without_echoing_it(boards: AzureBoardsStandIn) -> None:
    target = AzureBoardsTarget.from_settings(
        AzureBoardsSettings(organization_url=boards.organization_url, project=boards.project),
        {"AZURE_DEVOPS_EXT_PAT": "wrong-pat-value"})
    with pytest.raises(TargetError) as caught:
        target.create(draft(1))
    assert "credentials refused (401)" in str(caught.value) and "wrong-pat-value" not in str(caught.value)
    assert not boards.items


def test_429_is_waited_out_and_the_wait_is_bounded(boards: AzureBoardsStandIn) -> None:
    boards.fail(r"/wit/wiql$", 429, times=1, retry_after=1)
    assert target_for(boards).list_managed() == []
    assert [r.status for r in boards.requests if r.path.endswith("/wiql")] == [429, 200]

    boards.fail(r"/workItems/\$Bug$", 429, retry_after=1)
    with pytest.raises(TargetError, match=r"creating a work item .*still rate limited after the bounded waits \(429\): TF400733"):
        target_for(boards, max_retries=1).create(draft(1))
    assert len([r for r in boards.requests if r.path.endswith("$Bug")]) == 2


def test_token_never_reaches_reprs_messages_or_logs(boards: AzureBoardsStandIn, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    target = target_for(boards)
    ticket = target.create(draft(1))
    target.close(ticket, "passes", TicketState(ticket.state.fingerprint, "d1", closed_by_amlaudit=True))
    boards.fail(r"/workItems/\d+$", 403)
    with pytest.raises(TargetError) as caught:
        target.comment(ticket, "x", ticket.state)
    basic = base64.b64encode(f":{boards.pat}".encode()).decode()
    for text in (repr(target), str(caught.value), caplog.text):
        assert boards.pat not in text and basic not in text
    assert "work item 1" in str(caught.value)


def test_entra_token_from_azure_identity_when_no_pat(boards: AzureBoardsStandIn, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shutil.copyfile(STANDIN_AZ, bin_dir / "az")
    (bin_dir / "az").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "AzureCliCredential")  # never IMDS or a login host
    monkeypatch.delenv("AZURE_DEVOPS_EXT_PAT", raising=False)
    target = AzureBoardsTarget(AzureBoardsSettings(organization_url=boards.organization_url, project=boards.project),
                               credentials_from_environment({}))
    target.create(draft(1))
    assert boards.writes[0].headers["Authorization"] == "Bearer standin|499b84ac-1321-427f-aa17-267ca6975798"


def test_no_identity_at_all_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no az
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "AzureCliCredential")
    with pytest.raises(TargetError, match=r"^Azure Boards: no credentials: set AZURE_DEVOPS_EXT_PAT") as caught:
        credentials_from_environment({})
    assert "\n" not in str(caught.value)


def test_concurrent_work_item_reads_wait_out_429_and_report_a_refusal(boards: AzureBoardsStandIn) -> None:
    for n in range(9):
        boards.seed(title=f"f{n}", tags=["amlaudit", f"amlaudit:{n:032x}"])
    boards.fail(r"/wit/workItems$", 429, times=2, retry_after=1)
    assert len(target_for(boards, batch_size=2).list_managed()) == 9  # five reads, two of them retried
    assert sorted(r.status for r in boards.requests if r.path.endswith("/wit/workItems")) == [200] * 5 + [429] * 2

    boards.fail(r"/wit/workItems$", 403, after=2)
    with pytest.raises(TargetError, match=r"reading work items: permission denied \(403\)"):
        target_for(boards, batch_size=2).list_managed()
