"""A local stand-in for Jira Cloud (REST v3) or Jira Data Center (REST v2), for tests and by hand.

    python -m tests.jira_standin [--port P] [--deployment cloud|datacenter] [--page-size N] [--latency S]

Shapes follow Atlassian's published REST descriptions (Jira Cloud platform OpenAPI; Data
Center REST v2): `GET /rest/api/3/search/jql` pages with `nextPageToken`/`isLast` (the old
`/rest/api/3/search` answers 410 Gone, as on Cloud), Data Center's `GET /rest/api/2/search`
pages with `startAt`/`total`; issues carry `fields` (only those asked for) and `properties`
(only those asked for); transitions carry `to.statusCategory`. Error bodies are
`{"errorMessages": [...], "errors": {...}}`.

It CHECKS what it is sent: the JQL must be `project = "K" AND labels = "L" [ORDER BY key
ASC]`; creation needs project/issuetype/summary, known priorities, labels without spaces,
an ADF document (Cloud) or a string (Data Center) as description and comment body;
transition ids must be offered from the issue's status; authentication must be Basic
email:API-token (Cloud) or Bearer PAT (Data Center).

The workflow: To Do (new) -> In Progress (indeterminate) -> Done (done), "Reopen" from Done
back to To Do. `workflow="no-done"` removes every way into Done (a custom workflow that
amlaudit cannot close through).
"""

from __future__ import annotations

import argparse
import base64
import re
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from tests.rest_standin import Answer, RecordedRequest, RestStandIn, serve_by_hand

STATUSES = {
    "10000": {"id": "10000", "name": "To Do", "statusCategory": {"id": 2, "key": "new", "name": "To Do", "colorName": "blue-gray"}},
    "3": {"id": "3", "name": "In Progress", "statusCategory": {"id": 4, "key": "indeterminate", "name": "In Progress", "colorName": "yellow"}},
    "10001": {"id": "10001", "name": "Done", "statusCategory": {"id": 3, "key": "done", "name": "Done", "colorName": "green"}},
}
# transition id -> (name, from status ids, to status id)
TRANSITIONS = {
    "11": ("Start Progress", {"10000"}, "3"),
    "21": ("Done", {"10000", "3"}, "10001"),
    "31": ("Stop Progress", {"3"}, "10000"),
    "41": ("Reopen", {"10001"}, "10000"),
}
ISSUE_TYPES = {"Bug": "10004", "Task": "10002"}
PRIORITIES = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}
_JQL = re.compile(r'^project = "(?P<project>[^"]+)" AND labels = "(?P<label>[^"]+)"(?: ORDER BY key ASC)?$')


@dataclass
class JiraIssue:
    id: str
    key: str
    summary: str
    description: Any
    labels: list[str]
    status_id: str = "10000"
    issue_type: str = "Bug"
    priority: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    comments: list[Any] = field(default_factory=list)

    @property
    def number(self) -> int:
        return int(self.key.rsplit("-", 1)[1])


class JiraStandIn(RestStandIn):
    content_type = "application/json;charset=UTF-8"  # what Jira sends (atlassian-python-api compares it)

    def __init__(self, *, project: str = "SEC", deployment: Literal["cloud", "datacenter"] = "cloud",
                 email: str = "bot@example.com", token: str = "standin-jira-api-token", page_size: int = 100,
                 workflow: Literal["default", "no-done"] = "default", latency: float = 0.0) -> None:
        super().__init__(latency=latency)
        self.project = project
        self.deployment = deployment
        self.email = email
        self.token = token  # the API token (cloud) or the PAT (datacenter)
        self.page_size = page_size
        self.workflow = workflow
        self.issues: dict[str, JiraIssue] = {}
        self._next_id = 10000

    @property
    def version(self) -> str:
        return "3" if self.deployment == "cloud" else "2"

    @property
    def credentials_env(self) -> dict[str, str]:
        """The environment that authenticates amlaudit against this stand-in."""
        if self.deployment == "cloud":
            return {"JIRA_EMAIL": self.email, "JIRA_API_TOKEN": self.token}
        return {"JIRA_PAT": self.token}

    # -- for tests: the state, and people's edits ------------------------------------------------

    def seed(self, *, summary: str, labels: list[str], status: str = "To Do", properties: dict[str, Any] | None = None,
             description: Any = None) -> JiraIssue:
        with self._lock:
            issue = self._new_issue(summary, description, labels, "Bug", None, properties or {})
            issue.status_id = next(sid for sid, s in STATUSES.items() if s["name"] == status)
            return issue

    def set_status(self, key: str, status: str) -> None:
        with self._lock:
            self.issues[key].status_id = next(sid for sid, s in STATUSES.items() if s["name"] == status)

    def issue_by_label(self, label: str) -> JiraIssue:
        found = [i for i in self.issues.values() if label in i.labels]
        assert len(found) == 1, f"{len(found)} issues carry {label!r}"
        return found[0]

    def is_open(self, key: str) -> bool:
        return STATUSES[self.issues[key].status_id]["statusCategory"]["key"] != "done"

    # -- the service ------------------------------------------------------------------------------

    def error(self, status: int, message: str) -> Answer:
        return Answer(status, {"errorMessages": [message], "errors": {}})

    def unauthorized(self) -> Answer:
        return self.error(401, "You are not authenticated. Authentication required to perform this operation.")

    def authorized(self, request: RecordedRequest) -> bool:
        auth = request.headers.get("Authorization", "")
        if self.deployment == "cloud":
            expected = base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
            return auth == f"Basic {expected}"
        return auth == f"Bearer {self.token}"

    def is_write(self, request: RecordedRequest) -> bool:
        return request.method in ("POST", "PUT", "DELETE")

    def route(self, request: RecordedRequest) -> Answer:
        prefix = f"/rest/api/{self.version}/"
        if not request.path.startswith(prefix):
            return self.error(404, "Null for uri: " + request.path)
        rest = request.path[len(prefix):]
        method = request.method
        if rest == "search/jql" and method == "GET" and self.deployment == "cloud":
            return self._search(request, cursor_style="token")
        if rest == "search" and method == "GET":
            if self.deployment == "cloud":
                return self.error(410, "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API.")
            return self._search(request, cursor_style="offset")
        if rest == "issue" and method == "POST":
            return self._create(request)
        match = re.fullmatch(r"issue/([A-Z][A-Z0-9]*-\d+)(/.*)?", rest)
        if not match:
            return self.error(404, f"No route for {method} {request.path}")
        issue = self.issues.get(match.group(1))
        if issue is None:
            return self.error(404, "Issue does not exist or you do not have permission to see it.")
        tail = match.group(2) or ""
        if tail == "" and method == "PUT":
            return self._edit(issue, request)
        if tail == "/comment" and method == "POST":
            return self._comment(issue, request)
        if tail == "/transitions" and method == "GET":
            return Answer(200, {"expand": "transitions", "transitions": self._offered(issue)})
        if tail == "/transitions" and method == "POST":
            return self._transition(issue, request)
        prop = re.fullmatch(r"/properties/([^/]+)", tail)
        if prop and method == "PUT":
            issue.properties[prop.group(1)] = request.body
            return Answer(200, None)
        return self.error(404, f"No route for {method} {request.path}")

    def _search(self, request: RecordedRequest, cursor_style: str) -> Answer:
        jql = request.param("jql") or ""
        match = _JQL.match(jql)
        if not match:
            return self.error(400, f"Error in the JQL Query: the stand-in only answers project/labels queries, got {jql!r}")
        if match.group("project") != self.project:
            return self.error(400, f"The value '{match.group('project')}' does not exist for the field 'project'.")
        label = match.group("label")
        found = sorted((i for i in self.issues.values() if label in i.labels), key=lambda i: i.number)
        size = min(int(request.param("maxResults") or 50), self.page_size)
        fields = [f for f in (request.param("fields") or "").split(",") if f]
        properties = [p for p in (request.param("properties") or "").split(",") if p]
        if cursor_style == "token":
            token = request.param("nextPageToken")
            try:
                start = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("page:")) if token else 0
            except ValueError:
                return self.error(400, "The provided next page token is invalid or expired.")
        else:
            start = int(request.param("startAt") or 0)
        page = [self._issue_json(i, fields, properties) for i in found[start:start + size]]
        following = start + size
        if cursor_style == "token":
            body: dict[str, Any] = {"issues": page, "isLast": following >= len(found)}
            if following < len(found):
                body["nextPageToken"] = base64.urlsafe_b64encode(f"page:{following}".encode()).decode()
            return Answer(200, body)
        return Answer(200, {"expand": "schema,names", "startAt": start, "maxResults": size, "total": len(found),
                            "issues": page})

    def _issue_json(self, issue: JiraIssue, fields: list[str], properties: list[str]) -> dict[str, Any]:
        every = {
            "summary": issue.summary,
            "description": issue.description,
            "labels": list(issue.labels),
            "status": {"self": f"{self.base_url}/rest/api/{self.version}/status/{issue.status_id}",
                       "description": "", **STATUSES[issue.status_id]},
            "issuetype": {"id": ISSUE_TYPES[issue.issue_type], "name": issue.issue_type, "subtask": False},
            "priority": {"id": PRIORITIES[issue.priority], "name": issue.priority} if issue.priority else None,
        }
        chosen = every if "*all" in fields else {name: every[name] for name in fields if name in every}
        body: dict[str, Any] = {"expand": "", "id": issue.id, "key": issue.key,
                                "self": f"{self.base_url}/rest/api/{self.version}/issue/{issue.id}", "fields": chosen}
        if properties:
            body["properties"] = {p: issue.properties[p] for p in properties if p in issue.properties}
        return body

    def _check_document(self, value: Any, what: str) -> str | None:
        if self.deployment == "cloud":
            if not (isinstance(value, dict) and value.get("type") == "doc" and value.get("version") == 1
                    and isinstance(value.get("content"), list)):
                return f"Operation value must be an Atlassian Document (see the Atlassian Document Format): {what}"
            bad = _bad_adf_node(value)
            if bad:
                return f"INVALID_INPUT: {what}: {bad}"
        elif not isinstance(value, str):
            return f"{what} must be a string"
        return None

    def _create(self, request: RecordedRequest) -> Answer:
        body = request.body if isinstance(request.body, dict) else {}
        fields = body.get("fields") or {}
        errors: dict[str, str] = {}
        if (fields.get("project") or {}).get("key") != self.project:
            errors["project"] = "valid project is required"
        issue_type = (fields.get("issuetype") or {}).get("name")
        if issue_type not in ISSUE_TYPES:
            errors["issuetype"] = "valid issue type is required"
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary.strip() or len(summary) > 255 or "\n" in summary:
            errors["summary"] = "You must specify a summary of the issue (one line, at most 255 characters)."
        priority = (fields.get("priority") or {}).get("name") if "priority" in fields else None
        if "priority" in fields and priority not in PRIORITIES:
            errors["priority"] = f"Specify the Priority (name) in the string format; {priority!r} is not valid"
        labels = fields.get("labels") or []
        if any(not isinstance(label, str) or " " in label or len(label) > 255 for label in labels):
            errors["labels"] = "The label can't contain spaces."
        problem = self._check_document(fields.get("description"), "description")
        if problem:
            errors["description"] = problem
        props = body.get("properties") or []
        if not all(isinstance(p, dict) and isinstance(p.get("key"), str) and "value" in p for p in props):
            errors["properties"] = "properties must be a list of {key, value}"
        if errors:
            return Answer(400, {"errorMessages": [], "errors": errors})
        issue = self._new_issue(summary, fields.get("description"), list(labels), issue_type, priority,
                                {p["key"]: p["value"] for p in props})
        return Answer(201, {"id": issue.id, "key": issue.key,
                            "self": f"{self.base_url}/rest/api/{self.version}/issue/{issue.id}"}, write=True)

    def _new_issue(self, summary: str, description: Any, labels: list[str], issue_type: str, priority: str | None,
                   properties: dict[str, Any]) -> JiraIssue:
        self._next_id += 1
        key = f"{self.project}-{len(self.issues) + 1}"
        issue = JiraIssue(str(self._next_id), key, summary, description, labels, issue_type=issue_type,
                          priority=priority, properties=properties)
        self.issues[key] = issue
        return issue

    def _edit(self, issue: JiraIssue, request: RecordedRequest) -> Answer:
        body = request.body if isinstance(request.body, dict) else {}
        for op in ((body.get("update") or {}).get("labels") or []):
            for verb, label in op.items():
                if verb == "add" and label not in issue.labels:
                    if " " in label:
                        return self.error(400, "The label can't contain spaces.")
                    issue.labels.append(label)
                elif verb == "remove" and label in issue.labels:
                    issue.labels.remove(label)
                elif verb not in ("add", "remove", "set"):
                    return self.error(400, f"Unsupported label operation {verb!r}")
        for prop in body.get("properties") or []:
            issue.properties[prop["key"]] = prop["value"]
        if "summary" in (body.get("fields") or {}):
            issue.summary = body["fields"]["summary"]
        return Answer(204, None)

    def _comment(self, issue: JiraIssue, request: RecordedRequest) -> Answer:
        body = request.body if isinstance(request.body, dict) else {}
        problem = self._check_document(body.get("body"), "comment body")
        if problem:
            return self.error(400, problem)
        issue.comments.append(body["body"])
        return Answer(201, {"id": str(10000 + len(issue.comments)), "body": body["body"],
                            "created": time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime())})

    def _offered(self, issue: JiraIssue) -> list[dict[str, Any]]:
        offered = []
        for tid, (name, sources, to) in TRANSITIONS.items():
            if issue.status_id not in sources:
                continue
            if self.workflow == "no-done" and to == "10001":
                continue
            offered.append({"id": tid, "name": name, "to": {"self": "", "description": "", **STATUSES[to]},
                            "hasScreen": False, "isGlobal": False, "isInitial": False, "isAvailable": True,
                            "isConditional": False, "isLooped": False})
        return offered

    def _transition(self, issue: JiraIssue, request: RecordedRequest) -> Answer:
        body = request.body if isinstance(request.body, dict) else {}
        tid = str((body.get("transition") or {}).get("id") or "")
        offered = {t["id"]: t for t in self._offered(issue)}
        if tid not in offered:
            return self.error(400, f"Transition id '{tid}' is not valid for this issue.")
        issue.status_id = offered[tid]["to"]["id"]
        for prop in body.get("properties") or []:
            issue.properties[prop["key"]] = prop["value"]
        return Answer(204, None)


_ADF_BLOCKS = {"paragraph", "heading", "bulletList", "orderedList", "listItem", "codeBlock", "rule", "blockquote"}
_ADF_INLINE = {"text", "hardBreak"}


def _bad_adf_node(node: Any) -> str | None:
    """What makes an ADF tree invalid for the nodes amlaudit sends (None if nothing)."""
    for child in node.get("content", []):
        if not isinstance(child, dict) or child.get("type") not in _ADF_BLOCKS | _ADF_INLINE:
            return f"unknown node {child!r:.60}"
        if child["type"] == "text" and not (isinstance(child.get("text"), str) and child["text"]):
            return "text nodes must not be empty"
        for mark in child.get("marks", []):
            if mark.get("type") == "link" and not str((mark.get("attrs") or {}).get("href", "")).startswith(("http://", "https://")):
                return "link marks need an http(s) href"
        inner = _bad_adf_node(child)
        if inner:
            return inner
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.jira_standin", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--deployment", choices=("cloud", "datacenter"), default="cloud")
    parser.add_argument("--project", default="SEC")
    parser.add_argument("--page-size", type=int, default=100, help="issues per search page")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    args = parser.parse_args(argv)
    server = JiraStandIn(project=args.project, deployment=args.deployment, page_size=args.page_size,
                         latency=args.latency)
    serve_by_hand(server, lambda s: [
        f"# stand-in Jira {args.deployment} at {s.base_url}, project {args.project} (Ctrl-C to stop)",
        *(f"export {name}={value}" for name, value in s.credentials_env.items()),
        f"# then: amlaudit tickets sync --to jira --jira-url {s.base_url} --jira-project {args.project} "
        "--findings findings.json [--dry-run]",
    ], args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
