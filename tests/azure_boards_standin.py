"""A local stand-in for Azure Boards (Azure DevOps work item tracking, API 7.1), for tests and by hand.

    python -m tests.azure_boards_standin [--port P] [--organization ORG] [--project PROJECT]
        [--wiql-limit N] [--latency S]

Shapes follow Microsoft's published REST specs (vsts-rest-api-specs, wit 7.1: wiql,
workItems, workItemTypeStates) and what the `azure-devops` client expects: `OPTIONS
/{org}/_apis` answers the resource locations the client routes by; WIQL answers
`{"queryType": "flat", "workItems": [{"id", "url"}], ...}`, at most `wiql_limit` ids
(20,000 on the service: more without a `$top` is refused with VS402337); work items are read
at most 200 ids a call; errors are `WrappedException` bodies (`$id`, `message`, `typeKey`...).

It CHECKS what it is sent: the api-version the client puts in Accept, the WIQL text (the
tag query amlaudit sends, nothing else), `application/json-patch+json` documents whose
operations name known fields and valid states, Basic auth with the PAT (any user name) or
the Entra bearer token the stand-in `az` issues for Azure DevOps.

Process: Agile-like. Bug and Task: New (Proposed), Active (InProgress), Resolved
(Resolved, Bug only), Closed (Completed), Removed (Removed); Issue: To Do, Doing, Done.
"""

from __future__ import annotations

import argparse
import base64
import re
import shlex
import time
from dataclasses import dataclass, field
from typing import Any

from tests.rest_standin import Answer, RecordedRequest, RestStandIn, serve_by_hand

ENTRA_TOKEN = "standin|499b84ac-1321-427f-aa17-267ca6975798"  # what tests/standin/az issues for Azure DevOps
PROCESS_STATES: dict[str, list[tuple[str, str, str]]] = {  # type -> [(name, category, color)]
    "Bug": [("New", "Proposed", "b2b2b2"), ("Active", "InProgress", "007acc"), ("Resolved", "Resolved", "ff9d00"),
            ("Closed", "Completed", "339933"), ("Removed", "Removed", "ffffff")],
    "Task": [("New", "Proposed", "b2b2b2"), ("Active", "InProgress", "007acc"), ("Closed", "Completed", "339933"),
             ("Removed", "Removed", "ffffff")],
    "Issue": [("To Do", "Proposed", "b2b2b2"), ("Doing", "InProgress", "007acc"), ("Done", "Completed", "339933")],
}
KNOWN_FIELDS = {"System.Title", "System.Description", "Microsoft.VSTS.TCM.ReproSteps", "System.Tags", "System.AreaPath",
                "System.IterationPath", "Microsoft.VSTS.Common.Priority", "System.History", "System.State"}
# (location id, resource name, route template) for each call amlaudit makes, as the service lists them.
LOCATIONS = [
    ("1a9c53f7-f243-4447-b110-35ef023636e4", "wiql", "{project}/{team}/_apis/{area}/{resource}/{id}", 2),
    ("72c7ddf8-2cdc-4f60-90cd-ab71c14a399b", "workItems", "{project}/_apis/{area}/{resource}/{id}", 3),
    ("62d3d110-0047-428c-ad3c-4fe872c91c74", "workItems", "{project}/_apis/{area}/{resource}/${type}", 3),
    ("7c9d7a76-4a09-43e8-b5df-bd792f4ac6aa", "states", "{project}/_apis/{area}/workitemtypes/{type}/{resource}", 1),
]
_WIQL = re.compile(
    r"^SELECT \[System\.Id\] FROM WorkItems WHERE \[System\.TeamProject\] = @project "
    r"AND \[System\.Tags\] CONTAINS '(?P<tag>[^']+)'(?: AND \[System\.Id\] > (?P<after>\d+))?"
    r"(?: ORDER BY \[System\.Id\](?: ASC)?)?$")


@dataclass
class WorkItem:
    id: int
    type: str
    fields: dict[str, Any]
    rev: int = 1
    history: list[str] = field(default_factory=list)

    @property
    def tags(self) -> list[str]:
        return [t.strip() for t in str(self.fields.get("System.Tags") or "").split(";") if t.strip()]


class AzureBoardsStandIn(RestStandIn):
    def __init__(self, *, organization: str = "contoso", project: str = "Fabrikam Fiber", pat: str = "standin-ado-pat",
                 wiql_limit: int = 20_000, batch_limit: int = 200, accept_entra: bool = True,
                 latency: float = 0.0) -> None:
        super().__init__(latency=latency)
        self.organization = organization
        self.project = project
        self.pat = pat
        self.wiql_limit = wiql_limit
        self.batch_limit = batch_limit
        self.accept_entra = accept_entra
        self.items: dict[int, WorkItem] = {}
        self.states = {kind: list(states) for kind, states in PROCESS_STATES.items()}

    @property
    def organization_url(self) -> str:
        return f"{self.base_url}/{self.organization}"

    @property
    def credentials_env(self) -> dict[str, str]:
        return {"AZURE_DEVOPS_EXT_PAT": self.pat}

    # -- for tests ----------------------------------------------------------------------------------

    def seed(self, *, title: str, tags: list[str], state: str = "New", kind: str = "Bug",
             description: str = "") -> WorkItem:
        with self._lock:
            item = self._new_item(kind, {"System.Title": title, "System.Tags": "; ".join(tags),
                                         "System.Description": description})
            item.fields["System.State"] = state
            return item

    def item_by_tag(self, tag: str) -> WorkItem:
        found = [i for i in self.items.values() if tag.casefold() in (t.casefold() for t in i.tags)]
        assert len(found) == 1, f"{len(found)} work items carry {tag!r}"
        return found[0]

    def category(self, item_id: int) -> str:
        item = self.items[item_id]
        return next(c for name, c, _ in self.states[item.type] if name == item.fields["System.State"])

    # -- the service ----------------------------------------------------------------------------------

    def error(self, status: int, message: str) -> Answer:
        type_key = {401: "UnauthorizedRequestException", 403: "AccessCheckException", 404: "WorkItemUnauthorizedAccessException",
                    429: "RequestBlockedException"}.get(status, "VssServiceException")
        if status == 429:
            message = ("TF400733: The request has been canceled: Request was blocked due to exceeding usage of "
                       "resource 'WorkItemTracking' in namespace 'User'.")
        return Answer(status, {"$id": "1", "innerException": None, "message": message,
                               "typeName": f"Microsoft.VisualStudio.Services.{type_key}, Microsoft.VisualStudio.Services.Common",
                               "typeKey": type_key, "errorCode": 0, "eventId": 3000})

    def unauthorized(self) -> Answer:
        return self.error(401, "TF400813: The user '' is not authorized to access this resource.")

    def authorized(self, request: RecordedRequest) -> bool:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                _, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return False
            return secret == self.pat
        return self.accept_entra and auth == f"Bearer {ENTRA_TOKEN}"

    def is_write(self, request: RecordedRequest) -> bool:
        # WIQL is a POST that only reads; creating (POST .../$Type) and updating (PATCH) write.
        return request.method == "PATCH" or (request.method == "POST" and "/_apis/wit/workitems/$" in request.path.lower())

    def route(self, request: RecordedRequest) -> Answer:
        org_prefix = f"/{self.organization}/"
        if not request.path.startswith(org_prefix):
            return self.error(404, f"VS800075: The organization in {request.path} does not exist.")
        rest = request.path[len(org_prefix):]
        if request.method == "OPTIONS" and rest.rstrip("/").lower() == "_apis":
            return self._locations()
        version = re.search(r"api-version=([0-9.]+(?:-preview(?:\.\d+)?)?)", request.headers.get("Accept", ""))
        if not version:
            return self.error(400, "VS800006: No api-version was supplied for the request.")
        project, _, tail = rest.partition("/_apis/")
        if project != self.project:
            return self.error(404, f"VS800075: The project with id '{project}' does not exist, or you do not have "
                                   "permission to access it.")
        tail_lower = tail.lower()
        if tail_lower == "wit/wiql" and request.method == "POST":
            return self._wiql(request)
        if tail_lower == "wit/workitems" and request.method == "GET":
            return self._read(request)
        create = re.fullmatch(r"wit/workitems/\$(.+)", tail, flags=re.IGNORECASE)
        if create and request.method == "POST":
            return self._create(create.group(1), request)
        update = re.fullmatch(r"wit/workitems/(\d+)", tail, flags=re.IGNORECASE)
        if update and request.method == "PATCH":
            return self._update(int(update.group(1)), request)
        states = re.fullmatch(r"wit/workitemtypes/([^/]+)/states", tail, flags=re.IGNORECASE)
        if states and request.method == "GET":
            kind = states.group(1)
            if kind not in self.states:
                return self.error(404, f"VS402323: Work item type {kind} does not exist in project.")
            value = [{"name": n, "color": c, "category": cat} for n, cat, c in self.states[kind]]
            return Answer(200, {"count": len(value), "value": value})
        return self.error(404, f"No route for {request.method} {request.path}")

    def _locations(self) -> Answer:
        value = [{"id": lid, "area": "wit", "resourceName": name, "routeTemplate": template, "routeName": name,
                  "resourceVersion": resource_version, "minVersion": 1.0, "maxVersion": 7.1, "releasedVersion": "7.0"}
                 for lid, name, template, resource_version in LOCATIONS]
        return Answer(200, {"count": len(value), "value": value})

    def _wiql(self, request: RecordedRequest) -> Answer:
        query = (request.body or {}).get("query", "") if isinstance(request.body, dict) else ""
        match = _WIQL.match(query)
        if not match:
            return self.error(400, f"TF51005: The query references a field or clause the stand-in does not answer: {query!r}")
        tag, after = match.group("tag").casefold(), int(match.group("after") or 0)
        found = sorted(i.id for i in self.items.values()
                       if i.id > after and tag in (t.casefold() for t in i.tags))
        top = request.param("$top")
        limit = min(int(top), self.wiql_limit) if top else self.wiql_limit
        if len(found) > self.wiql_limit and (not top or int(top) > self.wiql_limit):
            return self.error(400, f"VS402337: The number of work items returned exceeds the size limit of "
                                   f"{self.wiql_limit}. Change the query to return fewer items.")
        base = f"{self.organization_url}/_apis/wit/workItems"
        return Answer(200, {
            "queryType": "flat", "queryResultType": "workItem", "asOf": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "columns": [{"referenceName": "System.Id", "name": "ID", "url": f"{self.organization_url}/_apis/wit/fields/System.Id"}],
            "sortColumns": [{"field": {"referenceName": "System.Id", "name": "ID"}, "descending": False}],
            "workItems": [{"id": i, "url": f"{base}/{i}"} for i in found[:limit]]})

    def _read(self, request: RecordedRequest) -> Answer:
        ids = [int(x) for x in (request.param("ids") or "").split(",") if x]
        if not ids:
            return self.error(400, "VS403496: The ids parameter is required.")
        if len(ids) > self.batch_limit:
            return self.error(400, f"VS403474: The maximum number of work items that can be requested is {self.batch_limit}.")
        fields = [f for f in (request.param("fields") or "").split(",") if f]
        omit = (request.param("errorPolicy") or "").lower() == "omit"
        value: list[Any] = []
        for item_id in ids:
            item = self.items.get(item_id)
            if item is None:
                if not omit:
                    return self.error(404, f"TF401232: Work item {item_id} does not exist, or you do not have "
                                           "permissions to read it.")
                value.append(None)
                continue
            value.append(self._item_json(item, fields))
        return Answer(200, {"count": len(value), "value": value})

    def _item_json(self, item: WorkItem, fields: list[str] | None = None) -> dict[str, Any]:
        every = {"System.Id": item.id, "System.WorkItemType": item.type, "System.TeamProject": self.project,
                 "System.Rev": item.rev, **{k: v for k, v in item.fields.items() if v not in (None, "")}}
        chosen = {k: every[k] for k in fields if k in every} if fields else every
        return {"id": item.id, "rev": item.rev, "fields": chosen,
                "url": f"{self.organization_url}/_apis/wit/workItems/{item.id}"}

    def _patch_problem(self, request: RecordedRequest, kind: str) -> str | None:
        if not request.content_type.startswith("application/json-patch+json"):
            return f"VS403404: The request's Content-Type must be application/json-patch+json, not {request.content_type!r}"
        if not isinstance(request.body, list) or not request.body:
            return "VS403405: The request body must be a JSON Patch document (a non-empty list of operations)."
        for op in request.body:
            if not isinstance(op, dict) or op.get("op") not in ("add", "replace", "remove", "test"):
                return f"VS403406: Unsupported JSON Patch operation {op!r:.80}"
            path = str(op.get("path", ""))
            if not path.startswith("/fields/") or path[len("/fields/"):] not in KNOWN_FIELDS:
                return f"TF51535: Cannot find field {path}."
            name, value = path[len("/fields/"):], op.get("value")
            if name == "System.State" and value not in [n for n, _, _ in self.states[kind]]:
                return f"TF401320: Rule Error for field State. Error code: InvalidListValue ({value!r} is not a {kind} state)."
            if name == "Microsoft.VSTS.Common.Priority" and value not in (1, 2, 3, 4):
                return "TF401320: Rule Error for field Priority. Error code: InvalidListValue."
            if name == "System.AreaPath" and not str(value).startswith(self.project):
                return "TF401347: Invalid tree name given for work item -1, field 'System.AreaPath'."
            if name == "System.Title" and (not str(value).strip() or len(str(value)) > 255):
                return "TF401320: Rule Error for field Title. Error code: Required, LimitedToValues."
        return None

    def _apply(self, item: WorkItem, operations: list[dict[str, Any]]) -> None:
        for op in operations:
            name = op["path"][len("/fields/"):]
            if op["op"] == "remove":
                item.fields.pop(name, None)
            elif name == "System.History":
                item.history.append(str(op.get("value")))
            elif name == "System.Tags":
                item.fields[name] = "; ".join(t.strip() for t in str(op.get("value") or "").split(";") if t.strip())
            elif op["op"] != "test":
                item.fields[name] = op.get("value")

    def _create(self, kind: str, request: RecordedRequest) -> Answer:
        if kind not in self.states:
            return self.error(404, f"VS402323: Work item type {kind} does not exist in project {self.project}.")
        problem = self._patch_problem(request, kind)
        if problem is None and not any(op.get("path") == "/fields/System.Title" for op in request.body):
            problem = "TF401320: Rule Error for field Title. Error code: Required, HasValues."
        if problem:
            return self.error(400, problem)
        item = self._new_item(kind, {})
        self._apply(item, request.body)
        return Answer(200, self._item_json(item))

    def _new_item(self, kind: str, fields: dict[str, Any]) -> WorkItem:
        item_id = max(self.items, default=0) + 1
        item = WorkItem(item_id, kind, {"System.State": self.states[kind][0][0],
                                        "System.AreaPath": self.project, "System.IterationPath": self.project, **fields})
        self.items[item_id] = item
        return item

    def _update(self, item_id: int, request: RecordedRequest) -> Answer:
        item = self.items.get(item_id)
        if item is None:
            return self.error(404, f"TF401232: Work item {item_id} does not exist, or you do not have permissions to read it.")
        problem = self._patch_problem(request, item.type)
        if problem:
            return self.error(400, problem)
        self._apply(item, request.body)
        item.rev += 1
        return Answer(200, self._item_json(item))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.azure_boards_standin", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--organization", default="contoso")
    parser.add_argument("--project", default="Fabrikam Fiber")
    parser.add_argument("--wiql-limit", type=int, default=20_000, help="ids one WIQL query may return")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    args = parser.parse_args(argv)
    server = AzureBoardsStandIn(organization=args.organization, project=args.project, wiql_limit=args.wiql_limit,
                                latency=args.latency)
    serve_by_hand(server, lambda s: [
        f"# stand-in Azure Boards at {s.organization_url}, project {args.project!r} (Ctrl-C to stop)",
        *(f"export {name}={value}" for name, value in s.credentials_env.items()),
        f"# then: amlaudit tickets sync --to azure-boards --azure-devops-org {s.organization_url} "
        f"--azure-devops-project {shlex.quote(args.project)} --findings findings.json [--dry-run]",
    ], args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
