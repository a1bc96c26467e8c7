"""Jira (Cloud and Data Center) as a ticketing target: one issue per finding fingerprint.

Client: atlassian-python-api. Its `JiraCloud` class is generated from Atlassian's Cloud
OpenAPI description and covers every call used here with full request bodies, including
the current search endpoint (`GET /rest/api/3/search/jql`, `nextPageToken` paging, with
`properties`), issue creation with entity properties, comments, transitions and edits. For
Data Center its `Jira` class has comments and transitions; the search with `properties`
and the creation with `properties` go through the same client's public `get`/`post` (its
`jql`/`create_issue` helpers cannot pass them). No raw `requests` calls: auth, URLs and
error bodies stay the client's. (The other community client, `jira`, needs a serverInfo
read to tell Cloud from Data Center and has no `properties` on issue creation.)

Where things live on an issue:
- marker: labels `amlaudit` and `amlaudit:<fingerprint>` (labels may hold ':' but no
  spaces); listing is `project = "X" AND labels = "amlaudit" ORDER BY key ASC`.
- state: the issue entity property `amlaudit` ({"fingerprint", "evidence_digest",
  "accepted_until", "closed_by_amlaudit"}), returned by the search itself
  (`properties=amlaudit`), invisible in the issue view and untouched by people's edits.
- accepted: the label `amlaudit-accepted` while a waiver holds.
- open or closed: the status category (`done` is closed), so custom workflows work.
Close and reopen use the transitions the workflow offers from the issue's status, found by
the target status category (`done`; `new`, else `indeterminate`), or by name when the
settings name one; they are read once per (issue type, status) and reused. Comments and
descriptions are ADF on Cloud (REST v3) and escaped wiki markup on Data Center (REST v2).

Credentials come from the environment only: JIRA_EMAIL + JIRA_API_TOKEN (Cloud, basic
auth) or JIRA_PAT (Data Center personal access token, Bearer).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import requests
from atlassian import Jira as JiraServerClient
from atlassian import JiraCloud
from requests.adapters import HTTPAdapter

from amlaudit.auditor.tickets.http_retry import DEFAULT_MAX_RETRIES, DEFAULT_MAX_WAIT, one_line, rate_limit_retry, refusal
from amlaudit.auditor.tickets.markup import to_adf, to_wiki
from amlaudit.auditor.tickets.target import (
    ACCEPTED_LABEL,
    MARKER_LABEL,
    Ticket,
    TicketDraft,
    TicketState,
    TargetError,
    TargetName,
    fingerprint_label,
)

PROPERTY_KEY = "amlaudit"  # the issue entity property holding TicketState
Deployment = Literal["cloud", "datacenter"]
DEFAULT_PRIORITIES: Mapping[str, str] = {
    "critical": "Highest", "high": "High", "medium": "Medium", "low": "Low", "info": "Lowest",
}
_FIELDS = ("summary", "status", "labels", "issuetype")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class JiraSettings:
    site_url: str  # https://contoso.atlassian.net, or the Data Center base URL
    project: str  # project key
    issue_type: str = "Bug"
    priorities: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_PRIORITIES))  # severity -> priority name; unmapped: Jira's default
    labels: tuple[str, ...] = ()  # extra labels on created issues
    deployment: Deployment | None = None  # None: from the credentials found (API token: cloud, PAT: datacenter)
    close_transition: str | None = None  # transition or status name; None: any transition into the `done` category
    reopen_transition: str | None = None  # None: into `new` (To Do), else `indeterminate`
    page_size: int = 100  # search page size (Cloud returns at most 100 issues with fields a page)
    timeout: int = 30  # seconds per request
    max_retries: int = DEFAULT_MAX_RETRIES  # 429/503 waits per request
    max_wait: int = DEFAULT_MAX_WAIT  # longest single Retry-After honoured, seconds


@dataclass(frozen=True, slots=True)
class JiraCredentials:
    deployment: Deployment
    email: str | None = field(default=None, repr=False)
    secret: str = field(default="", repr=False)  # API token (cloud) or PAT (datacenter); never printed


def credentials_from_environment(environ: Mapping[str, str], deployment: Deployment | None = None) -> JiraCredentials:
    email, token, pat = environ.get("JIRA_EMAIL"), environ.get("JIRA_API_TOKEN"), environ.get("JIRA_PAT")
    cloud_ok, dc_ok = bool(email and token), bool(pat)
    if deployment is None:
        if cloud_ok and dc_ok:
            raise TargetError("Jira: both JIRA_API_TOKEN and JIRA_PAT are set; set the Jira deployment (cloud or datacenter) in the settings")
        deployment = "cloud" if cloud_ok else "datacenter" if dc_ok else None
    if deployment == "cloud" and cloud_ok:
        return JiraCredentials("cloud", email=email, secret=token or "")
    if deployment == "datacenter" and dc_ok:
        return JiraCredentials("datacenter", secret=pat or "")
    raise TargetError("Jira: no credentials in the environment: set JIRA_EMAIL and JIRA_API_TOKEN (Jira Cloud) "
                      "or JIRA_PAT (Jira Data Center)")


class JiraTarget:
    """A TicketTarget for one Jira project."""

    name: TargetName = "jira"

    def __init__(self, settings: JiraSettings, credentials: JiraCredentials) -> None:
        self.settings = settings
        self.deployment: Deployment = credentials.deployment
        self._site = settings.site_url.rstrip("/")
        session = requests.Session()
        adapter = HTTPAdapter(max_retries=rate_limit_retry(settings.max_retries, settings.max_wait))
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        common: dict[str, Any] = {"session": session, "timeout": settings.timeout, "backoff_and_retry": False,
                                  "retry_with_header": False}  # the session's Retry does the waiting
        if credentials.deployment == "cloud":
            self._api: _CloudApi | _DataCenterApi = _CloudApi(JiraCloud(
                self._site, username=credentials.email, password=credentials.secret, api_version=3, **common))
        else:
            self._api = _DataCenterApi(JiraServerClient(
                self._site, token=credentials.secret, api_version=2, **common))
        # Per issue key, what the listing said that writes need: issue type id, status id.
        self._where: dict[str, tuple[str, str]] = {}
        # Per (issue type id, status id), the transitions the workflow offers (one read each).
        self._transitions: dict[tuple[str, str], list[dict[str, Any]]] = {}

    @classmethod
    def from_settings(cls, settings: JiraSettings, environ: Mapping[str, str] | None = None) -> JiraTarget:
        env = os.environ if environ is None else environ
        return cls(settings, credentials_from_environment(env, settings.deployment))

    def describe(self) -> str:
        return f"Jira {self.settings.project} at {self._site}"

    def __repr__(self) -> str:
        return f"JiraTarget({self.describe()!r}, {self.deployment})"

    def close_connection(self) -> None:
        """Release the HTTP connections (the sync runner calls this when it is done)."""
        self._api.client.close()

    # -- reads ------------------------------------------------------------------------------------

    def listing_jql(self) -> str:
        return f'project = "{_jql_text(self.settings.project)}" AND labels = "{MARKER_LABEL}" ORDER BY key ASC'

    def list_managed(self) -> list[Ticket]:
        jql = self.listing_jql()
        tickets: list[Ticket] = []
        cursor: str | int | None = None
        seen_cursors: set[str | int] = set()
        while True:
            issues, cursor = self._call("listing issues", self._api.search, jql, list(_FIELDS), cursor,
                                        self.settings.page_size)
            for issue in issues:
                ticket = self._ticket(issue)
                if ticket is not None:
                    tickets.append(ticket)
            if cursor is None:
                return tickets
            if cursor in seen_cursors:
                raise TargetError(f"{self.describe()}: listing issues: the search returned a page cursor twice; stopped")
            seen_cursors.add(cursor)

    def _ticket(self, issue: Mapping[str, Any]) -> Ticket | None:
        fields = issue.get("fields") or {}
        labels = [str(label) for label in fields.get("labels") or []]
        prefix = fingerprint_label("")
        fingerprints = sorted(label[len(prefix):] for label in labels if label.startswith(prefix))
        key = str(issue.get("key") or "")
        if not key or not fingerprints:
            return None  # carries `amlaudit` but no fingerprint: not one of ours to move
        status = fields.get("status") or {}
        category = ((status.get("statusCategory") or {}).get("key")) or ""
        issue_type = str((fields.get("issuetype") or {}).get("id") or "")
        self._where[key] = (issue_type, str(status.get("id") or ""))
        stored = ((issue.get("properties") or {}).get(PROPERTY_KEY)) or {}
        state = _state_from_property(fingerprints[0], stored if isinstance(stored, Mapping) else {})
        return Ticket(key=key, url=f"{self._site}/browse/{quote(key)}", title=str(fields.get("summary") or ""),
                      is_open=category != "done", state=state)

    # -- writes -----------------------------------------------------------------------------------

    def create(self, draft: TicketDraft) -> Ticket:
        state = TicketState(draft.fingerprint, evidence_digest=draft.evidence_digest)
        fields: dict[str, Any] = {
            "project": {"key": self.settings.project},
            "issuetype": {"name": self.settings.issue_type},
            "summary": one_line(draft.title, 255),  # one line, Jira's summary limit
            "description": self._api.document(draft.body_markdown),
            "labels": _unique([MARKER_LABEL, fingerprint_label(draft.fingerprint), *self.settings.labels]),
        }
        priority = self.settings.priorities.get(draft.severity)
        if priority:
            fields["priority"] = {"name": priority}
        body = {"fields": fields, "properties": [_property(state)]}
        created = self._call(f"creating an issue for {draft.check_id}", self._api.create, body)
        key = str((created or {}).get("key") or "")
        if not key:
            raise TargetError(f"{self.describe()}: creating an issue for {draft.check_id}: the answer had no issue key")
        return Ticket(key=key, url=f"{self._site}/browse/{quote(key)}", title=fields["summary"], is_open=True,
                      state=state)

    def comment(self, ticket: Ticket, text: str, state: TicketState) -> None:
        self._comment(ticket, text)
        self._record(ticket, state, with_property=state != ticket.state)

    def close(self, ticket: Ticket, text: str, state: TicketState) -> None:
        self._comment(ticket, text)
        self._transition(ticket, "close", state)
        self._record(ticket, state, with_property=False)

    def reopen(self, ticket: Ticket, text: str, state: TicketState) -> None:
        self._comment(ticket, text)
        self._transition(ticket, "reopen", state)
        self._record(ticket, state, with_property=False)

    def _comment(self, ticket: Ticket, text: str) -> None:
        self._call(f"commenting on {ticket.key}", self._api.comment, ticket.key, {"body": self._api.document(text)})

    def _record(self, ticket: Ticket, state: TicketState, *, with_property: bool) -> None:
        """Store `state` on the issue (one edit), and the accepted label when that changed."""
        body: dict[str, Any] = {}
        was_accepted, now_accepted = ticket.state.accepted_until is not None, state.accepted_until is not None
        if was_accepted != now_accepted:
            body["update"] = {"labels": [{"add" if now_accepted else "remove": ACCEPTED_LABEL}]}
        if with_property:
            body["properties"] = [_property(state)]
        if body:
            self._call(f"updating {ticket.key}", self._api.edit, ticket.key, body)

    def _transition(self, ticket: Ticket, purpose: Literal["close", "reopen"], state: TicketState) -> None:
        where = self._where.get(ticket.key, ("", ""))
        offered = self._transitions.get(where) if all(where) else None
        if offered is None:
            answer = self._call(f"reading the transitions of {ticket.key}", self._api.transitions, ticket.key)
            offered = [t for t in (answer or {}).get("transitions") or [] if isinstance(t, Mapping)]
            if all(where):
                self._transitions[where] = offered
        chosen = _choose_transition(offered, purpose, self.settings.close_transition if purpose == "close"
                                    else self.settings.reopen_transition)
        if chosen is None:
            wanted = "into a done status" if purpose == "close" else "out of done"
            raise TargetError(f"{self.describe()}: cannot {purpose} {ticket.key}: its workflow offers no transition "
                              f"{wanted} from its current status (name one in the settings)")
        body = {"transition": {"id": str(chosen["id"])}, "properties": [_property(state)]}
        self._call(f"{'closing' if purpose == 'close' else 'reopening'} {ticket.key}", self._api.transition,
                   ticket.key, body)
        to_status = str((chosen.get("to") or {}).get("id") or "")
        if where[0] and to_status:
            self._where[ticket.key] = (where[0], to_status)

    # -- errors -----------------------------------------------------------------------------------

    def _call(self, what: str, call: Callable[..., _T], *args: Any) -> _T:
        try:
            return call(*args)
        except requests.HTTPError as exc:
            raise TargetError(f"{self.describe()}: {what}: {_refusal(exc)}") from None
        except requests.RequestException as exc:
            raise TargetError(f"{self.describe()}: {what}: cannot reach {self._site} ({type(exc).__name__})") from None
        except (ValueError, TypeError, AttributeError) as exc:  # an answer of an unexpected shape
            raise TargetError(f"{self.describe()}: {what}: unexpected answer ({one_line(exc, 120)})") from None


def _refusal(exc: requests.HTTPError) -> str:
    status = exc.response.status_code if exc.response is not None else None
    detail = one_line(exc.args[0] if exc.args else "", 200)
    return refusal(status, "" if detail == "Unauthorized (401)" else detail)


class _CloudApi:
    """Jira Cloud REST v3 through atlassian-python-api's generated `JiraCloud` methods."""

    def __init__(self, client: JiraCloud) -> None:
        self.client = client

    @staticmethod
    def document(markdown: str) -> Any:
        return to_adf(markdown)

    def search(self, jql: str, fields: list[str], cursor: str | int | None, page_size: int
               ) -> tuple[list[Mapping[str, Any]], str | None]:
        answer = self.client.search_and_reconsile_issues_using_jql(
            jql=jql, next_page_token=cursor, max_results=page_size, fields=",".join(fields), properties=PROPERTY_KEY)
        answer = _mapping(answer)
        token = answer.get("nextPageToken")
        last = answer.get("isLast", not token)
        return _issues(answer), (None if last or not token else str(token))

    def create(self, body: dict[str, Any]) -> Mapping[str, Any]:
        return _mapping(self.client.create_issue(data=body))

    def comment(self, key: str, body: dict[str, Any]) -> None:
        self.client.add_comment(key, data=body)

    def edit(self, key: str, body: dict[str, Any]) -> None:
        self.client.edit_issue(key, data=body)

    def transitions(self, key: str) -> Mapping[str, Any]:
        return _mapping(self.client.get_transitions(key))

    def transition(self, key: str, body: dict[str, Any]) -> None:
        self.client.do_transition(key, data=body)


class _DataCenterApi:
    """Jira Data Center REST v2 through atlassian-python-api's `Jira` client."""

    def __init__(self, client: JiraServerClient) -> None:
        self.client = client

    @staticmethod
    def document(markdown: str) -> Any:
        return to_wiki(markdown)

    def search(self, jql: str, fields: list[str], cursor: str | int | None, page_size: int
               ) -> tuple[list[Mapping[str, Any]], int | None]:
        start = int(cursor or 0)
        params = {"jql": jql, "startAt": start, "maxResults": page_size, "fields": ",".join(fields),
                  "properties": PROPERTY_KEY}
        answer = _mapping(self.client.get(self.client.resource_url("search"), params=params))
        issues = _issues(answer)
        following = start + len(issues)
        total = int(answer.get("total") or 0)
        return issues, (following if issues and following < total else None)

    def create(self, body: dict[str, Any]) -> Mapping[str, Any]:
        return _mapping(self.client.post(self.client.resource_url("issue"), data=body))

    def comment(self, key: str, body: dict[str, Any]) -> None:
        self.client.issue_add_comment(key, body["body"])

    def edit(self, key: str, body: dict[str, Any]) -> None:
        self.client.put(self.client.resource_url(f"issue/{quote(key)}"), data=body)

    def transitions(self, key: str) -> Mapping[str, Any]:
        return _mapping(self.client.get_issue_transitions_full(key))

    def transition(self, key: str, body: dict[str, Any]) -> None:
        self.client.post(self.client.resource_url(f"issue/{quote(key)}/transitions"), data=body)


def _choose_transition(offered: list[Mapping[str, Any]], purpose: Literal["close", "reopen"],
                       named: str | None) -> Mapping[str, Any] | None:
    def category(t: Mapping[str, Any]) -> str:
        return str((((t.get("to") or {}).get("statusCategory")) or {}).get("key") or "")

    if named:
        wanted = named.casefold()
        return next((t for t in offered if wanted in (str(t.get("name", "")).casefold(),
                                                      str((t.get("to") or {}).get("name", "")).casefold())), None)
    order = ("done",) if purpose == "close" else ("new", "indeterminate")
    for target_category in order:
        found = next((t for t in offered if category(t) == target_category and t.get("id") is not None), None)
        if found is not None:
            return found
    return None


def _state_from_property(fingerprint: str, stored: Mapping[str, Any]) -> TicketState:
    def text(name: str) -> str | None:
        value = stored.get(name)
        return value if isinstance(value, str) and value else None

    return TicketState(fingerprint=fingerprint, evidence_digest=text("evidence_digest"),
                       accepted_until=text("accepted_until"),
                       closed_by_amlaudit=stored.get("closed_by_amlaudit") is True)


def _property(state: TicketState) -> dict[str, Any]:
    return {"key": PROPERTY_KEY, "value": {
        "fingerprint": state.fingerprint, "evidence_digest": state.evidence_digest,
        "accepted_until": state.accepted_until, "closed_by_amlaudit": state.closed_by_amlaudit}}


def _jql_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))


def _mapping(answer: Any) -> Mapping[str, Any]:
    if answer is None:
        return {}
    if not isinstance(answer, Mapping):
        raise ValueError(f"expected a JSON object, got {type(answer).__name__}")
    return answer


def _issues(answer: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    issues = answer.get("issues")
    if not isinstance(issues, list):
        raise ValueError("no 'issues' list in the search answer")
    return [issue for issue in issues if isinstance(issue, Mapping)]
