"""Azure Boards as a ticketing target: one work item per finding fingerprint.

Client: Microsoft's `azure-devops` Python package (work item tracking client, API 7.1):
`get_work_item_type_states` (state categories), `create_work_item` and `update_work_item`
with JSON Patch documents (`application/json-patch+json`). Comments are written as
`System.History` in the same JSON Patch as the state and tag change, so a close or reopen
is one atomic write and the preview comments API is not needed. The listing's two reads,
the WIQL query and the work item reads (`GET …/wit/workitems?ids=…`, at most 200 ids a
call), are the client's `query_by_wiql` and `get_work_items` requests sent through the
client's own request path (routing, auth, retries, error bodies) with the answer read as
plain JSON: its msrest model deserialization costs about 0.1 ms per id and 0.3 ms per work
item, 0.85 s for 2,000 tickets, more than the listing's round trips themselves (measured
with benchmarks/bench_tickets_jira_boards.py).

Where things live on a work item:
- marker: tags `amlaudit` and `amlaudit:<fingerprint>` in System.Tags. Listing is the WIQL
  `SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project AND
  [System.Tags] CONTAINS 'amlaudit' AND [System.Id] > N ORDER BY [System.Id]`, `$top` the
  service's 20,000-id ceiling, repeated from the last id while a page comes back full; the
  fields are then fetched 200 ids a call, up to four calls at a time (they need nothing
  from each other).
- state: tags too, read with the listing: `amlaudit-evidence:<digest>`,
  `amlaudit-accepted` + `amlaudit-accepted-until:<YYYY-MM-DD>` while a waiver holds, and
  `amlaudit-closed` when amlaudit closed it. Only these tags are ever rewritten; people's
  tags, title, description and fields are left as they are.
- open or closed: the state's category from the process (`Proposed`/`InProgress` are open;
  `Resolved`/`Completed`/`Removed` are not), read once per work item type. Close moves to
  the first `Completed` state (Closed/Done), reopen to the first `Proposed` state
  (New/To Do), unless the settings name the states.
Bodies are HTML (System.Description, or Repro Steps for Bugs; System.History), with
everything from Azure escaped.

Credentials come from the environment only: a PAT in AZURE_DEVOPS_EXT_PAT (basic auth,
empty user name), else an Entra token from azure-identity's DefaultAzureCredential for
Azure DevOps (scope 499b84ac-1321-427f-aa17-267ca6975798/.default).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import requests
from azure.devops.exceptions import AzureDevOpsAuthenticationError, AzureDevOpsClientRequestError, AzureDevOpsServiceError
from azure.devops.v7_1.work_item_tracking import JsonPatchOperation, WorkItemTrackingClient
from msrest.authentication import Authentication, BasicAuthentication, BasicTokenAuthentication
from msrest.exceptions import ClientException

from amlaudit.auditor.tickets.http_retry import DEFAULT_MAX_RETRIES, DEFAULT_MAX_WAIT, one_line, rate_limit_retry, refusal
from amlaudit.auditor.tickets.markup import to_html
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

AZURE_DEVOPS_SCOPE = "499b84ac-1321-427f-aa17-267ca6975798/.default"
PAT_VARIABLE = "AZURE_DEVOPS_EXT_PAT"  # the variable the Azure DevOps CLI reads too
EVIDENCE_TAG = "amlaudit-evidence:"
ACCEPTED_UNTIL_TAG = "amlaudit-accepted-until:"
CLOSED_TAG = "amlaudit-closed"
WIQL_LOCATION = "1a9c53f7-f243-4447-b110-35ef023636e4"  # the client's location ids: "query by WIQL",
WORK_ITEMS_LOCATION = "72c7ddf8-2cdc-4f60-90cd-ab71c14a399b"  # "get work items"
WIQL_CEILING = 20_000  # ids one WIQL query may return
BATCH_CEILING = 200  # ids one work item read may ask for
READ_CONCURRENCY = 4  # work item reads in flight at once
DEFAULT_PRIORITIES: Mapping[str, int] = {"critical": 1, "high": 2, "medium": 3, "low": 4, "info": 4}
_FIELDS = ("System.Id", "System.Title", "System.State", "System.Tags", "System.WorkItemType")
_OPEN_CATEGORIES = frozenset({"Proposed", "InProgress"})
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class AzureBoardsSettings:
    organization_url: str  # https://dev.azure.com/contoso
    project: str
    work_item_type: str = "Bug"  # Bug, Issue, Task, ... (what the process has)
    area_path: str | None = None
    iteration_path: str | None = None
    description_field: str | None = None  # None: Microsoft.VSTS.TCM.ReproSteps for Bug, else System.Description
    priorities: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PRIORITIES))  # severity -> Priority 1-4
    closed_state: str | None = None  # None: the type's first state in the Completed category
    reopen_state: str | None = None  # None: the type's first state in the Proposed category
    timeout: int = 30
    max_retries: int = DEFAULT_MAX_RETRIES
    max_wait: int = DEFAULT_MAX_WAIT
    wiql_page_size: int = WIQL_CEILING
    batch_size: int = BATCH_CEILING


def credentials_from_environment(environ: Mapping[str, str]) -> Authentication:
    """A PAT from AZURE_DEVOPS_EXT_PAT, else an Entra token from DefaultAzureCredential."""
    pat = environ.get(PAT_VARIABLE)
    if pat:
        return BasicAuthentication("", pat)
    try:
        from azure.identity import DefaultAzureCredential

        token = DefaultAzureCredential().get_token(AZURE_DEVOPS_SCOPE).token
    except Exception as exc:  # azure-identity raises several types; all mean "no identity here"
        raise TargetError(f"Azure Boards: no credentials: set {PAT_VARIABLE} or sign in for an Entra token "
                          f"({type(exc).__name__}: {one_line(exc, 160)})") from None
    return BasicTokenAuthentication({"access_token": token})


class AzureBoardsTarget:
    """A TicketTarget for one Azure DevOps project's work items."""

    name: TargetName = "azure-boards"

    def __init__(self, settings: AzureBoardsSettings, credentials: Authentication) -> None:
        self.settings = settings
        self._org = settings.organization_url.rstrip("/")
        self._client = WorkItemTrackingClient(base_url=self._org, creds=credentials)
        retry = rate_limit_retry(settings.max_retries, settings.max_wait)
        retry.BACKOFF_MAX = settings.max_wait  # type: ignore[attr-defined]  # msrest reads urllib3 1.x's name
        self._client.config.retry_policy.policy = retry
        # msrest opened this thread's session with its default policy (which retries 5xx answers to
        # writes) while the client was built; a new session takes the policy above through msrest's
        # own session setter, on the path msrest itself uses to reach its session.
        self._client.config.pipeline._sender.driver.session = requests.Session()
        self._client.config.connection.timeout = settings.timeout
        # The client's errors do not carry the HTTP status; a response hook keeps the last one.
        self._status = threading.local()  # .last: per thread, as the work item reads run on several
        self._client.config.hooks.append(self._remember_status)
        # Per work item id, what writes need from the listing: its tags and its type.
        self._known: dict[str, tuple[list[str], str]] = {}
        # Per work item type, state name -> state category (one read per type).
        self._categories: dict[str, dict[str, str]] = {}

    @classmethod
    def from_settings(cls, settings: AzureBoardsSettings, environ: Mapping[str, str] | None = None) -> AzureBoardsTarget:
        return cls(settings, credentials_from_environment(os.environ if environ is None else environ))

    def describe(self) -> str:
        return f"Azure Boards {self.settings.project} at {self._org}"

    def __repr__(self) -> str:
        return f"AzureBoardsTarget({self.describe()!r})"

    def close_connection(self) -> None:
        """Release the HTTP connections (the sync runner calls this when it is done)."""
        self._client.config.pipeline._sender.driver.session.close()

    # -- reads ------------------------------------------------------------------------------------

    def listing_wiql(self, after_id: int) -> str:
        return ("SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project "
                f"AND [System.Tags] CONTAINS '{MARKER_LABEL}' AND [System.Id] > {after_id} ORDER BY [System.Id]")

    def list_managed(self) -> list[Ticket]:
        ids = self._managed_ids()
        chunks = list(_chunks(ids, max(1, min(self.settings.batch_size, BATCH_CEILING))))

        def read(chunk: list[int]) -> list[Any]:
            return self._call("reading work items", self._read_work_items, chunk)

        # The ids are all known from the query, so the reads do not depend on each other: a few
        # at a time (msrest keeps one session per thread, each with the same retry policy).
        if len(chunks) > 1:
            with ThreadPoolExecutor(max_workers=min(READ_CONCURRENCY, len(chunks))) as pool:
                pages = list(pool.map(read, chunks))
        else:
            pages = [read(chunk) for chunk in chunks]
        tickets: list[Ticket] = []
        for item in (item for page in pages for item in page):
            ticket = self._ticket(item) if isinstance(item, Mapping) else None  # null: deleted since the query
            if ticket is not None:
                tickets.append(ticket)
        return tickets

    def _managed_ids(self) -> list[int]:
        page = max(1, min(self.settings.wiql_page_size, WIQL_CEILING))
        ids: list[int] = []
        after = 0
        while True:
            refs = self._call("querying work items", self._query_ids, after, page)
            batch = sorted(int(ref["id"]) for ref in refs if isinstance(ref, Mapping) and ref.get("id") is not None)
            ids += batch
            if len(batch) < page:
                return ids
            if batch[-1] <= after:
                raise TargetError(f"{self.describe()}: querying work items: the query did not advance past id {after}")
            after = batch[-1]

    def _query_ids(self, after: int, page: int) -> list[Any]:
        """`query_by_wiql(Wiql(query), TeamContext(project), top=page)`, answered as plain JSON."""
        response = self._client._send(  # the client's own request path; see the module docstring
            http_method="POST", location_id=WIQL_LOCATION, version="7.1-preview.2",
            route_values={"project": quote(self.settings.project, safe="")},
            query_parameters={"$top": page}, content={"query": self.listing_wiql(after)})
        refs = response.json().get("workItems")
        if not isinstance(refs, list):
            raise ValueError("no 'workItems' list in the query answer")
        return refs

    def _read_work_items(self, ids: list[int]) -> list[Any]:
        """`get_work_items(ids, project, fields, error_policy="omit")`, answered as plain JSON."""
        response = self._client._send(  # the client's own request path; see the module docstring
            http_method="GET", location_id=WORK_ITEMS_LOCATION, version="7.1-preview.3",
            route_values={"project": quote(self.settings.project, safe="")},
            query_parameters={"ids": ",".join(map(str, ids)), "fields": ",".join(_FIELDS), "errorPolicy": "omit"})
        value = response.json().get("value")
        if not isinstance(value, list):
            raise ValueError("no 'value' list in the work items answer")
        return value

    def _ticket(self, item: Mapping[str, Any]) -> Ticket | None:
        fields = item.get("fields") or {}
        tags = _split_tags(fields.get("System.Tags"))
        prefix = fingerprint_label("")
        fingerprints = sorted(tag[len(prefix):] for tag in tags if tag.startswith(prefix))
        if item.get("id") is None or not fingerprints:
            return None
        key = str(item["id"])
        kind = str(fields.get("System.WorkItemType") or self.settings.work_item_type)
        self._known[key] = (tags, kind)
        category = self._state_categories(kind).get(str(fields.get("System.State") or ""), "InProgress")
        return Ticket(key=key, url=self._url(key), title=str(fields.get("System.Title") or ""),
                      is_open=category in _OPEN_CATEGORIES, state=_state_from_tags(fingerprints[0], tags))

    def _state_categories(self, kind: str) -> dict[str, str]:
        if kind not in self._categories:
            states = self._call(f"reading the states of {kind}", self._client.get_work_item_type_states,
                                self.settings.project, kind)
            self._categories[kind] = {str(s.name): str(s.category) for s in states or [] if s is not None}
        return self._categories[kind]

    # -- writes -----------------------------------------------------------------------------------

    def create(self, draft: TicketDraft) -> Ticket:
        state = TicketState(draft.fingerprint, evidence_digest=draft.evidence_digest)
        tags = _with_state([MARKER_LABEL, fingerprint_label(draft.fingerprint)], state)
        kind = self.settings.work_item_type
        description_field = self.settings.description_field or (
            "Microsoft.VSTS.TCM.ReproSteps" if kind == "Bug" else "System.Description")
        title = one_line(draft.title, 255)  # one line, System.Title's limit
        document = [_set("System.Title", title), _set(description_field, to_html(draft.body_markdown)),
                    _set("System.Tags", _join_tags(tags))]
        if self.settings.area_path:
            document.append(_set("System.AreaPath", self.settings.area_path))
        if self.settings.iteration_path:
            document.append(_set("System.IterationPath", self.settings.iteration_path))
        priority = self.settings.priorities.get(draft.severity)
        if priority:
            document.append(_set("Microsoft.VSTS.Common.Priority", int(priority)))
        item = self._call(f"creating a work item for {draft.check_id}", self._client.create_work_item,
                          document, self.settings.project, kind)
        if item is None or item.id is None:
            raise TargetError(f"{self.describe()}: creating a work item for {draft.check_id}: the answer had no id")
        key = str(item.id)
        self._known[key] = (tags, kind)
        return Ticket(key=key, url=self._url(key), title=title, is_open=True, state=state)

    def comment(self, ticket: Ticket, text: str, state: TicketState) -> None:
        self._update(ticket, text, state, new_state=None, doing=f"commenting on work item {ticket.key}")

    def close(self, ticket: Ticket, text: str, state: TicketState) -> None:
        self._update(ticket, text, state, new_state=self._state_for(ticket, "close"),
                     doing=f"closing work item {ticket.key}")

    def reopen(self, ticket: Ticket, text: str, state: TicketState) -> None:
        self._update(ticket, text, state, new_state=self._state_for(ticket, "reopen"),
                     doing=f"reopening work item {ticket.key}")

    def _update(self, ticket: Ticket, text: str, state: TicketState, *, new_state: str | None, doing: str) -> None:
        tags, kind = self._known.get(ticket.key, ([MARKER_LABEL, fingerprint_label(ticket.state.fingerprint)],
                                                  self.settings.work_item_type))
        new_tags = _with_state(tags, state)
        document = [_set("System.History", to_html(text))]
        if new_state is not None:
            document.append(_set("System.State", new_state))
        if new_tags != tags:
            document.append(_set("System.Tags", _join_tags(new_tags)))
        self._call(doing, self._client.update_work_item, document, int(ticket.key), self.settings.project)
        self._known[ticket.key] = (new_tags, kind)

    def _state_for(self, ticket: Ticket, purpose: Literal["close", "reopen"]) -> str:
        kind = self._known.get(ticket.key, ([], self.settings.work_item_type))[1]
        named = self.settings.closed_state if purpose == "close" else self.settings.reopen_state
        categories = self._state_categories(kind)
        if named:
            if named not in categories:
                raise TargetError(f"{self.describe()}: cannot {purpose} work item {ticket.key}: {kind} has no state "
                                  f"{named!r} (it has {', '.join(categories) or 'none'})")
            return named
        wanted = "Completed" if purpose == "close" else "Proposed"
        found = next((name for name, category in categories.items() if category == wanted), None)
        if found is None:
            raise TargetError(f"{self.describe()}: cannot {purpose} work item {ticket.key}: {kind} has no state in the "
                              f"{wanted} category (name one in the settings)")
        return found

    def _remember_status(self, response: Any, *args: Any, **kwargs: Any) -> None:
        self._status.last = getattr(response, "status_code", None)

    def _url(self, key: str) -> str:
        return f"{self._org}/{quote(self.settings.project)}/_workitems/edit/{key}"

    # -- errors -----------------------------------------------------------------------------------

    def _call(self, what: str, call: Callable[..., _T], *args: Any) -> _T:
        self._status.last = None
        try:
            return call(*args)
        except AzureDevOpsAuthenticationError:
            raise TargetError(f"{self.describe()}: {what}: {refusal(401)}") from None
        except AzureDevOpsServiceError as exc:
            detail = one_line(exc.message or exc, 240)
            raise TargetError(f"{self.describe()}: {what}: {refusal(self._status.last, detail)}") from None
        except AzureDevOpsClientRequestError as exc:
            raise TargetError(f"{self.describe()}: {what}: {refusal(self._status.last, one_line(exc, 240))}") from None
        except ClientException as exc:  # msrest: connection refused, timeout, an answer it could not read
            raise TargetError(f"{self.describe()}: {what}: cannot reach {self._org} ({type(exc).__name__})") from None
        except (ValueError, TypeError, AttributeError) as exc:
            raise TargetError(f"{self.describe()}: {what}: unexpected answer ({one_line(exc, 120)})") from None


def _set(field_name: str, value: Any) -> JsonPatchOperation:
    # "add" on a field sets its value (Azure DevOps' JSON Patch semantics for /fields/...).
    return JsonPatchOperation(op="add", path=f"/fields/{field_name}", value=value)


def _split_tags(value: Any) -> list[str]:
    return [tag.strip() for tag in str(value or "").split(";") if tag.strip()]


def _join_tags(tags: list[str]) -> str:
    return "; ".join(tags)


def _is_state_tag(tag: str) -> bool:
    return tag in (ACCEPTED_LABEL, CLOSED_TAG) or tag.startswith((EVIDENCE_TAG, ACCEPTED_UNTIL_TAG))


def _with_state(tags: list[str], state: TicketState) -> list[str]:
    """`tags` with amlaudit's state tags replaced by those of `state` (people's tags kept, in order)."""
    kept = [tag for tag in tags if not _is_state_tag(tag)]
    for marker in (MARKER_LABEL, fingerprint_label(state.fingerprint)):
        if marker not in kept:
            kept.append(marker)
    if state.evidence_digest:
        kept.append(EVIDENCE_TAG + state.evidence_digest)
    if state.accepted_until:
        kept += [ACCEPTED_LABEL, ACCEPTED_UNTIL_TAG + state.accepted_until]
    if state.closed_by_amlaudit:
        kept.append(CLOSED_TAG)
    return kept


def _state_from_tags(fingerprint: str, tags: list[str]) -> TicketState:
    def value(prefix: str) -> str | None:
        return next((tag[len(prefix):] for tag in tags if tag.startswith(prefix) and len(tag) > len(prefix)), None)

    return TicketState(fingerprint=fingerprint, evidence_digest=value(EVIDENCE_TAG),
                       accepted_until=value(ACCEPTED_UNTIL_TAG), closed_by_amlaudit=CLOSED_TAG in tags)


def _chunks(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]
