"""Jira (Cloud and Data Center) and Azure Boards harnesses for the end-to-end table tests.

Registered in tests/ticket_targets.py's TARGETS (see its docstring for the harness contract).
Tickets are read back from the stand-ins' state and their bodies and comments turned into
plain text: ADF text nodes (link targets kept), Jira wiki with its escapes removed, HTML
without tags. People's edits write what the service's own editor would store.

Azure Boards pages at 20,000 ids a WIQL query and 200 ids a read; to page at `page_size`
the harness lowers both ceilings, in the stand-in (what the service allows) and in the
target module (what the target knows the service allows), for the harness's lifetime.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from unittest import mock

from amlaudit.auditor.tickets import azure_boards
from amlaudit.auditor.tickets.target import ACCEPTED_LABEL, fingerprint_label
from tests.azure_boards_standin import AzureBoardsStandIn
from tests.jira_standin import JiraStandIn


def _view(**fields: Any) -> Any:
    from tests.ticket_targets import TicketView  # imported late: ticket_targets imports this module

    return TicketView(**fields)


# -- plain text from each service's markup --------------------------------------------------------


def adf_text(node: Any) -> str:
    if isinstance(node, str):
        return node
    if not isinstance(node, dict):
        return ""
    if node.get("type") == "text":
        hrefs = [m["attrs"]["href"] for m in node.get("marks", []) if m.get("type") == "link"]
        return node.get("text", "") + "".join(f" ({href})" for href in hrefs)
    inner = "".join(adf_text(child) for child in node.get("content", []))
    return inner + ("\n" if node.get("type") in ("paragraph", "heading", "codeBlock", "listItem") else "")


def wiki_text(text: Any) -> str:
    return re.sub(r"\\(.)", r"\1", str(text or ""))


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.parts += [f" ({value}) " for name, value in attrs if name == "href" and value]

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(html: Any) -> str:
    parser = _HtmlText()
    parser.feed(str(html or ""))
    return "".join(parser.parts)


# -- Jira -----------------------------------------------------------------------------------------


@dataclass
class JiraHarness:
    standin: JiraStandIn
    name: str = "jira"
    listing_path: str = ""
    create_request: tuple[str, str] = ("POST", r"/rest/api/\d/issue$")
    sync_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    secret: str = ""

    def __post_init__(self) -> None:
        s = self.standin
        self.listing_path = r"/rest/api/3/search/jql$" if s.deployment == "cloud" else r"/rest/api/2/search$"
        self.sync_args = ["--to", "jira", "--jira-url", s.base_url, "--jira-project", s.project]
        self.env = s.credentials_env
        self.secret = s.token

    def _text(self, value: Any) -> str:
        return adf_text(value) if self.standin.deployment == "cloud" else wiki_text(value)

    def _issue(self, fp: str) -> Any:
        found = [i for i in self.standin.issues.values() if fingerprint_label(fp) in i.labels]
        assert len(found) <= 1, f"{len(found)} issues carry the marker of {fp}"
        return found[0] if found else None

    def ticket(self, fp: str) -> Any:
        issue = self._issue(fp)
        if issue is None:
            return None
        return _view(key=issue.key, title=issue.summary, is_open=self.standin.is_open(issue.key),
                     accepted=ACCEPTED_LABEL in issue.labels,
                     comments=tuple(self._text(c) for c in issue.comments), body=self._text(issue.description))

    def tickets(self) -> list[Any]:
        prefix = fingerprint_label("")
        fps = [next(l[len(prefix):] for l in i.labels if l.startswith(prefix)) for i in self.standin.issues.values()
               if any(l.startswith(prefix) for l in i.labels)]
        return [self.ticket(fp) for fp in fps]

    def person_closes(self, fp: str) -> None:
        self.standin.set_status(self._issue(fp).key, "Done")

    def person_reopens(self, fp: str) -> None:
        self.standin.set_status(self._issue(fp).key, "To Do")

    def person_edits(self, fp: str, *, title: str, body: str) -> None:
        issue = self._issue(fp)
        issue.summary = title
        issue.description = ({"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": body}]}]}
            if self.standin.deployment == "cloud" else body)


@contextmanager
def jira_cloud_harness(page_size: int = 100) -> Iterator[Any]:
    with JiraStandIn(deployment="cloud", page_size=page_size) as standin:
        yield JiraHarness(standin)


@contextmanager
def jira_datacenter_harness(page_size: int = 100) -> Iterator[Any]:
    with JiraStandIn(deployment="datacenter", page_size=page_size) as standin:
        yield JiraHarness(standin)


# -- Azure Boards ---------------------------------------------------------------------------------

BODY_FIELD = "Microsoft.VSTS.TCM.ReproSteps"  # a Bug's body


@dataclass
class AzureBoardsHarness:
    standin: AzureBoardsStandIn
    name: str = "azure-boards"
    listing_path: str = r"/_apis/wit/wiql$"
    create_request: tuple[str, str] = ("POST", r"/_apis/wit/workItems/\$Bug$")
    sync_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    secret: str = ""

    def __post_init__(self) -> None:
        s = self.standin
        self.sync_args = ["--to", "azure-boards", "--azure-devops-org", s.organization_url,
                          "--azure-devops-project", s.project]
        self.env = s.credentials_env
        self.secret = s.pat

    def _item(self, fp: str) -> Any:
        found = [i for i in self.standin.items.values() if fingerprint_label(fp) in i.tags]
        assert len(found) <= 1, f"{len(found)} work items carry the marker of {fp}"
        return found[0] if found else None

    def ticket(self, fp: str) -> Any:
        item = self._item(fp)
        if item is None:
            return None
        return _view(key=str(item.id), title=item.fields.get("System.Title", ""),
                     is_open=self.standin.category(item.id) in ("Proposed", "InProgress"),
                     accepted=ACCEPTED_LABEL in item.tags, comments=tuple(html_text(h) for h in item.history),
                     body=html_text(item.fields.get(BODY_FIELD)))

    def tickets(self) -> list[Any]:
        prefix = fingerprint_label("")
        fps = [next(t[len(prefix):] for t in i.tags if t.startswith(prefix)) for i in self.standin.items.values()
               if any(t.startswith(prefix) for t in i.tags)]
        return [self.ticket(fp) for fp in fps]

    def person_closes(self, fp: str) -> None:
        self._item(fp).fields["System.State"] = "Closed"

    def person_reopens(self, fp: str) -> None:
        self._item(fp).fields["System.State"] = "Active"

    def person_edits(self, fp: str, *, title: str, body: str) -> None:
        item = self._item(fp)
        item.fields["System.Title"] = title
        item.fields[BODY_FIELD] = "<div>" + "<br>".join(_escape(line) for line in body.split("\n")) + "</div>"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@contextmanager
def azure_boards_harness(page_size: int = 100) -> Iterator[Any]:
    with mock.patch.object(azure_boards, "WIQL_CEILING", page_size), \
            mock.patch.object(azure_boards, "BATCH_CEILING", page_size), \
            AzureBoardsStandIn(wiql_limit=page_size, batch_limit=page_size) as standin:
        yield AzureBoardsHarness(standin)


HARNESSES = {"jira": jira_cloud_harness, "jira-datacenter": jira_datacenter_harness,
             "azure-boards": azure_boards_harness}
