"""Ticketing targets for the end-to-end table tests (tests/test_tickets_sync.py), and findings to feed them.

The table tests run `amlaudit tickets sync --to NAME ...` in-process against a stand-in and
look at the result through a `TargetHarness`, so every row of the issue's table is checked
the same way for every target registered in `TARGETS`.

To register a target: write a context manager `my_harness(page_size: int) -> Iterator[TargetHarness]`
that starts the target's stand-in (its listing must page at `page_size` items), yields a
harness whose `sync_args` are the `tickets sync` flags naming the target and its settings
(`--to NAME` and e.g. `--jira-url URL --jira-project SEC`), whose `env` holds the credentials
the stand-in accepts, and whose methods read tickets back and act as a person would; then add
`"NAME": my_harness` to `TARGETS`. `GitHubHarness` below is the example. Comments are compared
as plain text (convert ADF/HTML to text in `ticket()`); `listing_path` (a regular expression)
and `create_request` (method, path regular expression) aim the stand-in's `fail()` at the listing
reads and at the request that creates a ticket.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from amlaudit.auditor.findings import fingerprint
from amlaudit.auditor.tickets.target import ACCEPTED_LABEL, fingerprint_label
from tests.github_standin import GitHubStandIn
from tests.rest_standin import RestStandIn

CHECK_ID = "compute-batch-inbound"
CHECK_TITLE = "Azure Batch can reach the compute nodes on TCP 29876-29877"
WORKSPACE = "/subscriptions/9b8e7d6c-5a4b-4c3d-8e2f-1a0b9c8d7e02/resourceGroups/rg-fraud-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-fraud"


@dataclass(frozen=True)
class TicketView:
    key: str
    title: str
    is_open: bool
    accepted: bool  # carries the accepted label/tag
    comments: tuple[str, ...]  # as plain text, oldest first
    body: str


class TargetHarness(Protocol):
    name: str
    standin: RestStandIn  # .requests, .reads, .writes, .reset_requests(), .fail(...)
    sync_args: list[str]  # ["--to", NAME, settings flags...]
    env: dict[str, str]  # credentials the stand-in accepts
    secret: str  # the credential that must never leak
    listing_path: str  # regex for fail(): the listing reads
    create_request: tuple[str, str]  # (method, path regex) for fail(): the request that creates a ticket

    def ticket(self, fingerprint: str) -> TicketView | None: ...
    def tickets(self) -> list[TicketView]: ...
    def person_closes(self, fingerprint: str) -> None: ...
    def person_reopens(self, fingerprint: str) -> None: ...
    def person_edits(self, fingerprint: str, *, title: str, body: str) -> None: ...


# -- GitHub -----------------------------------------------------------------------------------------


@dataclass
class GitHubHarness:
    standin: GitHubStandIn
    name: str = "github"
    listing_path: str = r"/repos/[^/]+/[^/]+/issues$"
    create_request: tuple[str, str] = ("POST", r"/repos/[^/]+/[^/]+/issues$")
    sync_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    secret: str = ""

    def __post_init__(self) -> None:
        s = self.standin
        self.sync_args = ["--to", "github", "--github-repo", f"{s.owner}/{s.repo}", "--github-api-url", s.api_url]
        self.env = s.credentials_env
        self.secret = s.token

    def _issue(self, fp: str) -> Any:
        found = [i for i in self.standin.issues.values() if fingerprint_label(fp) in i.labels]
        assert len(found) <= 1, f"{len(found)} issues carry the marker of {fp}"
        return found[0] if found else None

    def ticket(self, fp: str) -> TicketView | None:
        issue = self._issue(fp)
        if issue is None:
            return None
        return TicketView(str(issue.number), issue.title, issue.state == "open", ACCEPTED_LABEL in issue.labels,
                          tuple(issue.comments), issue.body or "")

    def tickets(self) -> list[TicketView]:
        views = []
        for issue in self.standin.issues.values():
            fps = [label.split(":", 1)[1] for label in issue.labels if label.startswith("amlaudit:")]
            if fps and not issue.is_pull_request:
                view = self.ticket(fps[0])
                assert view is not None
                views.append(view)
        return views

    def person_closes(self, fp: str) -> None:
        self.standin.person_closes(self._issue(fp).number)

    def person_reopens(self, fp: str) -> None:
        self.standin.person_reopens(self._issue(fp).number)

    def person_edits(self, fp: str, *, title: str, body: str) -> None:
        self.standin.person_edits(self._issue(fp).number, title=title, body=body)


@contextmanager
def github_harness(page_size: int = 100) -> Iterator[TargetHarness]:
    with GitHubStandIn(page_size=page_size) as standin:
        yield GitHubHarness(standin)


TARGETS: dict[str, Callable[..., Any]] = {"github": github_harness}


# -- findings documents -----------------------------------------------------------------------------


def compute_id(n: int) -> str:
    return f"{WORKSPACE}/computes/cpu-cluster-{n}"


def finding(n: int, status: str, *, evidence: dict[str, Any] | None = None, waiver: dict[str, Any] | None = None,
            resource_id: str | None = None) -> dict[str, Any]:
    """A findings.json entry of the compute-batch-inbound check for compute `cpu-cluster-<n>`."""
    rid = resource_id or compute_id(n)
    entry: dict[str, Any] = {
        "check_id": CHECK_ID, "status": status, "severity": "critical", "resource_id": rid, "title": CHECK_TITLE,
        "message": {"fail": "rule DenyInternetInbound (priority 100) in nsg-training denies TCP 29876-29877 from "
                            "BatchNodeManagement.WestEurope before AllowBatch (priority 200) is reached",
                    "pass": "BatchNodeManagement.WestEurope reaches TCP 29876-29877 (rule AllowBatch, priority 200)",
                    "error": "could not be verified: nsg-training could not be read (HTTP 403)",
                    "not_applicable": "the compute has no public IP and no subnet NSG; Batch is not involved"}[status],
        "evidence": evidence if evidence is not None else {"nsg": "nsg-training", "rule": "DenyInternetInbound",
                                                           "priority": 100, "ports": [29876, 29877]},
        "remediation": "Add an inbound rule allowing BatchNodeManagement on TCP 29876-29877 above any deny rule.",
        "reference": "Use Machine Learning Compute: Required ports",
        "fingerprint": fingerprint(CHECK_ID, rid),
    }
    if waiver is not None:
        entry["waiver"] = {"check": CHECK_ID, "resource": rid, **waiver}
    return entry


def findings_doc(*entries: dict[str, Any], errors: list[dict[str, Any]] | None = None,
                 gaps: list[dict[str, Any]] | None = None, generated_at: str = "2026-12-01T06:00:00Z") -> dict[str, Any]:
    summary = {s: sum(1 for e in entries if e["status"] == s) for s in ("pass", "fail", "error", "not_applicable")}
    return {"format": "amlaudit.findings/v1", "generated_at": generated_at,
            "tool": {"name": "amlaudit", "version": "test"}, "summary": summary, "errors": errors or [],
            "findings": list(entries), "coverage_gaps": gaps or [],
            "checks": [{"id": CHECK_ID, "title": CHECK_TITLE, "severity": "critical", "subject": "compute",
                        "source": "Use Machine Learning Compute: Required ports"}]}


# Jira (Cloud and Data Center) and Azure Boards: their harnesses live in tests/ticket_harness_jira_boards.py.
from tests.ticket_harness_jira_boards import HARNESSES as _JIRA_AND_AZURE_BOARDS  # noqa: E402

TARGETS.update(_JIRA_AND_AZURE_BOARDS)
