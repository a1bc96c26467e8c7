"""A local stand-in for GitHub's REST API (issues, labels, comments), for tests and by hand.

    python -m tests.github_standin [--port P] [--repo OWNER/NAME] [--prefix /api/v3] [--page-size N]
                                   [--latency S] [--writes-per-minute N] [--writes-per-hour N]

Shapes follow GitHub's published REST description (github/rest-api-description,
version 2022-11-28, and what githubkit's models generated from it require): issue objects
with `labels` as label objects, `state_reason`, `closed_at`, `pull_request` only on pull
requests; comment and label objects; errors as `{"message", "documentation_url", "status"}`
(422 adds `errors`); `x-ratelimit-*` headers on every answer. Listing
`GET /repos/{o}/{r}/issues` filters by `state` (default open) and by every label in
`labels` (case-insensitive), sorts newest first, pages with `page`/`per_page` (default 30,
at most 100, or `page_size` when set lower) and a `Link` header (`next`, `last`, `first`,
`prev`), and returns pull requests too, as GitHub does.

It CHECKS what it is sent: `Authorization: Bearer <token>` or `token <token>` (else 401
"Bad credentials"), JSON object bodies (else 400 "Problems parsing JSON"), a title on
creation, label names of at most 50 characters, `state`/`state_reason` values, and an
`X-GitHub-Api-Version` it knows. It models the secondary rate limit on content creation:
more writes than `write_limits` allow in a window is answered 403 with Retry-After and
GitHub's secondary-limit message (and counted in `limit_violations`). Faults: `fail()`
(a status with GitHub's body; a 403 or 429 given a Retry-After is a rate-limit answer),
`latency`. Nothing is written to disk.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from tests.rest_standin import Answer, RecordedRequest, RestStandIn, serve_by_hand

API_VERSIONS = ("2022-11-28", "2026-03-10")
DOCS = "https://docs.github.com/rest"
SECONDARY_LIMIT_MESSAGE = ("You have exceeded a secondary rate limit and have been temporarily blocked from content "
                           "creation. Please retry your request again later. If you reach out to GitHub Support for "
                           "help, please include the request ID.")
STATE_REASONS = ("completed", "not_planned", "duplicate", "reopened")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class StoredIssue:
    number: int
    title: str
    body: str | None
    labels: list[str]
    state: str = "open"
    state_reason: str | None = None
    closed_at: str | None = None
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    comments: list[str] = field(default_factory=list)
    is_pull_request: bool = False
    closed_by: str | None = None


class GitHubStandIn(RestStandIn):
    content_type = "application/json; charset=utf-8"

    def __init__(self, *, repository: str = "contoso/aml-security", token: str = "ghp_standinTOKEN0123456789abcdef",
                 prefix: str = "", page_size: int = 100, latency: float = 0.0,
                 write_limits: tuple[tuple[int, float], ...] = ((80, 60.0), (500, 3600.0))) -> None:
        super().__init__(latency=latency)
        self.owner, self.repo = repository.split("/", 1)
        self.token = token
        self.prefix = prefix.rstrip("/")
        self.page_size = page_size
        self.write_limits = write_limits
        self.issues: dict[int, StoredIssue] = {}
        self.label_ids: dict[str, int] = {}  # label name (case-insensitive key) -> id; created on first use
        self.auth_schemes: set[str] = set()
        self.limit_violations = 0
        self._writes: deque[float] = deque()
        self._encoded: dict[int, tuple[tuple[Any, ...], bytes]] = {}  # listing entries, re-encoded only on change

    @property
    def api_url(self) -> str:
        return self.base_url + self.prefix

    @property
    def credentials_env(self) -> dict[str, str]:
        return {"GITHUB_TOKEN": self.token}

    # -- for tests: the state, and what people do -------------------------------------------------

    def seed(self, *, title: str, labels: list[str], body: str | None = "", state: str = "open",
             pull_request: bool = False, state_reason: str | None = None) -> StoredIssue:
        with self._lock:
            issue = self._new(title, body, labels)
            issue.is_pull_request = pull_request
            if state == "closed":
                issue.state, issue.closed_at, issue.state_reason = "closed", _now(), state_reason or "completed"
            return issue

    def person_closes(self, number: int, *, at: str | None = None) -> None:
        with self._lock:
            issue = self.issues[number]
            issue.state, issue.state_reason, issue.closed_at, issue.closed_by = "closed", "not_planned", at or _now(), "a-person"

    def person_reopens(self, number: int) -> None:
        with self._lock:
            issue = self.issues[number]
            issue.state, issue.state_reason, issue.closed_at = "open", "reopened", None

    def person_edits(self, number: int, *, title: str | None = None, body: str | None = None,
                     add_label: str | None = None) -> None:
        with self._lock:
            issue = self.issues[number]
            if title is not None:
                issue.title = title
            if body is not None:
                issue.body = body
            if add_label is not None:
                issue.labels.append(add_label)

    def set_write_limits(self, limits: tuple[tuple[int, float], ...]) -> None:
        """New secondary-limit windows, starting empty (writes made before do not count)."""
        with self._lock:
            self.write_limits = limits
            self._writes.clear()

    def issue_by_label(self, label: str) -> StoredIssue:
        found = [i for i in self.issues.values() if label.lower() in (x.lower() for x in i.labels)]
        assert len(found) == 1, f"{len(found)} issues carry {label!r}"
        return found[0]

    # -- the service ------------------------------------------------------------------------------

    def error(self, status: int, message: str) -> Answer:
        words = {401: "Bad credentials", 403: "Resource not accessible by personal access token",
                 404: "Not Found", 422: "Validation Failed",
                 429: "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please "
                      "include the request ID."}.get(status, message)
        return Answer(status, {"message": words, "documentation_url": DOCS, "status": str(status)})

    def unauthorized(self) -> Answer:
        return self.error(401, "Bad credentials")

    def authorized(self, request: RecordedRequest) -> bool:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() in ("bearer", "token") and value == self.token:
            self.auth_schemes.add(scheme.lower())
            return True
        return False

    def _fault_for(self, request: RecordedRequest) -> Answer | None:
        answer = super()._fault_for(request)
        if answer is not None and answer.status == 403 and "Retry-After" in answer.headers:
            answer.body = {"message": SECONDARY_LIMIT_MESSAGE, "documentation_url":
                           f"{DOCS}/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits", "status": "403"}
        return self._with_rate_headers(answer) if answer is not None else None

    def route(self, request: RecordedRequest) -> Answer:
        return self._with_rate_headers(self._route(request))

    def _route(self, request: RecordedRequest) -> Answer:
        version = request.headers.get("X-GitHub-Api-Version")
        if version is not None and version not in API_VERSIONS:
            return Answer(400, {"message": f"Invalid API version: {version}", "documentation_url": DOCS, "status": "400"})
        base = f"{self.prefix}/repos/"
        if not request.path.startswith(base):
            return self.error(404, "Not Found")
        owner, _, rest = request.path[len(base):].partition("/")
        repo, _, rest = rest.partition("/")
        if (owner.lower(), repo.lower()) != (self.owner.lower(), self.repo.lower()):
            return self.error(404, "Not Found")
        method = request.method
        if method in ("POST", "PATCH", "PUT") and not isinstance(request.body, dict):
            return Answer(400, {"message": "Problems parsing JSON", "documentation_url": DOCS, "status": "400"})
        if method in ("POST", "PATCH", "PUT", "DELETE"):
            limited = self._secondary_limit()
            if limited is not None:
                return limited
        if rest == "issues" and method == "GET":
            return self._list(request)
        if rest == "issues" and method == "POST":
            return self._create(request)
        match = re.fullmatch(r"issues/(\d+)(/.*)?", rest)
        if not match or int(match.group(1)) not in self.issues:
            return self.error(404, "Not Found")
        issue, tail = self.issues[int(match.group(1))], match.group(2) or ""
        if tail == "" and method == "GET":
            return Answer(200, self._issue_json(issue, single=True))
        if tail == "" and method == "PATCH":
            return self._update(issue, request)
        if tail == "/comments" and method == "POST":
            return self._comment(issue, request)
        if tail == "/comments" and method == "GET":
            return Answer(200, [self._comment_json(issue, i) for i in range(len(issue.comments))])
        if tail == "/labels" and method == "POST":
            return self._add_labels(issue, request)
        label = re.fullmatch(r"/labels/(.+)", tail)
        if label and method == "DELETE":
            return self._remove_label(issue, label.group(1))
        return self.error(404, "Not Found")

    def _secondary_limit(self) -> Answer | None:
        now = time.monotonic()
        longest = max((s for _, s in self.write_limits), default=0.0)
        while self._writes and self._writes[0] <= now - longest:
            self._writes.popleft()
        wait = 0.0
        for count, seconds in self.write_limits:
            inside = [t for t in self._writes if t > now - seconds]
            if len(inside) >= count:
                wait = max(wait, inside[-count] + seconds - now)
        if wait > 0:
            self.limit_violations += 1
            return Answer(403, {"message": SECONDARY_LIMIT_MESSAGE, "documentation_url":
                                f"{DOCS}/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
                                "status": "403"}, {"Retry-After": str(max(1, math.ceil(wait)))})
        self._writes.append(now)
        return None

    def _with_rate_headers(self, answer: Answer) -> Answer:
        answer.headers.setdefault("x-ratelimit-limit", "5000")
        answer.headers.setdefault("x-ratelimit-remaining", "4999")
        answer.headers.setdefault("x-ratelimit-used", "1")
        answer.headers.setdefault("x-ratelimit-reset", str(int(time.time()) + 3600))
        answer.headers.setdefault("x-ratelimit-resource", "core")
        answer.headers.setdefault("X-GitHub-Request-Id", f"STANDIN:{len(self._requests):06d}")
        return answer

    def _list(self, request: RecordedRequest) -> Answer:
        state = request.param("state") or "open"
        if state not in ("open", "closed", "all"):
            return self._invalid("state")
        wanted = [name.strip().lower() for name in (request.param("labels") or "").split(",") if name.strip()]
        try:
            per_page = max(1, min(int(request.param("per_page") or 30), 100, self.page_size))
            page = max(1, int(request.param("page") or 1))
        except ValueError:
            return self._invalid("page")
        chosen = [i for i in self.issues.values()
                  if (state == "all" or i.state == state) and all(w in (x.lower() for x in i.labels) for w in wanted)]
        reverse = (request.param("direction") or "desc") == "desc"
        chosen.sort(key=lambda i: i.number, reverse=reverse)
        last = max(1, math.ceil(len(chosen) / per_page))
        items = chosen[(page - 1) * per_page: page * per_page]
        links = []
        host = request.headers.get("Host") or self.base_url.removeprefix("http://")

        def url(n: int) -> str:
            query = {k: v[0] for k, v in request.query.items() if k != "page"} | {"per_page": str(per_page), "page": str(n)}
            return f"http://{host}{request.path}?" + "&".join(f"{k}={v}" for k, v in query.items())

        if page > 1:
            links += [f'<{url(page - 1)}>; rel="prev"', f'<{url(1)}>; rel="first"']
        if page < last:
            links += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
        headers = {"Link": ", ".join(links)} if links else {}
        return Answer(200, b"[" + b",".join(self._encoded_issue(i) for i in items) + b"]", headers)

    def _encoded_issue(self, issue: StoredIssue) -> bytes:
        """The listing entry as JSON bytes; cached, since a benchmark lists thousands of issues again and again."""
        version = (issue.title, issue.body, tuple(issue.labels), issue.state, issue.state_reason, issue.closed_at,
                   issue.updated_at, len(issue.comments), issue.is_pull_request)
        cached = self._encoded.get(issue.number)
        if cached is None or cached[0] != version:
            cached = (version, json.dumps(self._issue_json(issue)).encode())
            self._encoded[issue.number] = cached
        return cached[1]

    def _invalid(self, name: str) -> Answer:
        return Answer(422, {"message": "Validation Failed", "errors": [{"resource": "Issue", "code": "invalid",
                                                                        "field": name}],
                            "documentation_url": DOCS, "status": "422"})

    def _labels_ok(self, labels: Any) -> bool:
        return isinstance(labels, list) and all(isinstance(x, str) and 0 < len(x) <= 50 for x in labels)

    def _create(self, request: RecordedRequest) -> Answer:
        body = request.body
        title = body.get("title")
        if not isinstance(title, str) or not title.strip():
            return Answer(422, {"message": "Validation Failed", "errors": [{"resource": "Issue", "code": "missing_field",
                                                                            "field": "title"}],
                                "documentation_url": f"{DOCS}/issues/issues#create-an-issue", "status": "422"})
        if len(title) > 256:
            return self._invalid("title")
        labels = body.get("labels", [])
        if not self._labels_ok(labels):
            return Answer(422, {"message": "Validation Failed", "errors": [{"resource": "Label", "code": "invalid",
                                                                            "field": "name"}],
                                "documentation_url": DOCS, "status": "422"})
        if body.get("body") is not None and (not isinstance(body["body"], str) or len(body["body"]) > 65536):
            return self._invalid("body")
        issue = self._new(title, body.get("body"), list(labels))
        location = f"{self.api_url}/repos/{self.owner}/{self.repo}/issues/{issue.number}"
        return Answer(201, self._issue_json(issue, single=True), {"Location": location}, write=True)

    def _new(self, title: str, body: str | None, labels: list[str]) -> StoredIssue:
        number = len(self.issues) + 1
        for name in labels:
            self._label_id(name)
        issue = StoredIssue(number, title, body, list(dict.fromkeys(labels)))
        self.issues[number] = issue
        return issue

    def _update(self, issue: StoredIssue, request: RecordedRequest) -> Answer:
        body = request.body
        if "state" in body and body["state"] not in ("open", "closed"):
            return self._invalid("state")
        if "state_reason" in body and body["state_reason"] not in (*STATE_REASONS, None):
            return self._invalid("state_reason")
        if "labels" in body and not self._labels_ok(body["labels"]):
            return self._invalid("labels")
        if "title" in body:
            issue.title = str(body["title"])
        if "body" in body:
            if body["body"] is not None and (not isinstance(body["body"], str) or len(body["body"]) > 65536):
                return self._invalid("body")
            issue.body = body["body"]
        if "labels" in body:
            issue.labels = list(dict.fromkeys(body["labels"]))
            for name in issue.labels:
                self._label_id(name)
        if body.get("state") == "closed" and issue.state != "closed":
            issue.state, issue.closed_at, issue.closed_by = "closed", _now(), "amlaudit-bot"
            issue.state_reason = body.get("state_reason") or "completed"
        elif body.get("state") == "open" and issue.state != "open":
            issue.state, issue.closed_at, issue.state_reason = "open", None, "reopened"
        issue.updated_at = _now()
        return Answer(200, self._issue_json(issue, single=True), write=True)

    def _comment(self, issue: StoredIssue, request: RecordedRequest) -> Answer:
        text = request.body.get("body")
        if not isinstance(text, str) or not text.strip() or len(text) > 65536:
            return Answer(422, {"message": "Validation Failed", "errors": [{"resource": "IssueComment",
                                                                            "code": "missing_field", "field": "body"}],
                                "documentation_url": DOCS, "status": "422"})
        issue.comments.append(text)
        issue.updated_at = _now()
        return Answer(201, self._comment_json(issue, len(issue.comments) - 1), write=True)

    def _add_labels(self, issue: StoredIssue, request: RecordedRequest) -> Answer:
        labels = request.body.get("labels")
        if not self._labels_ok(labels):
            return self._invalid("labels")
        issue.labels = list(dict.fromkeys([*issue.labels, *labels]))
        for name in labels:
            self._label_id(name)
        return Answer(200, [self._label_json(name) for name in issue.labels], write=True)

    def _remove_label(self, issue: StoredIssue, name: str) -> Answer:
        match = next((x for x in issue.labels if x.lower() == name.lower()), None)
        if match is None:
            return Answer(404, {"message": "Label does not exist", "documentation_url": DOCS, "status": "404"})
        issue.labels.remove(match)
        return Answer(200, [self._label_json(x) for x in issue.labels], write=True)

    # -- object shapes ----------------------------------------------------------------------------

    def _label_id(self, name: str) -> int:
        return self.label_ids.setdefault(name.lower(), 208045946 + len(self.label_ids))

    def _user(self, login: str) -> dict[str, Any]:
        base = f"{self.api_url}/users/{login}"
        return {"login": login, "id": 1 + sum(map(ord, login)), "node_id": "MDQ6VXNlcjE=", "avatar_url":
                "https://avatars.githubusercontent.com/u/1?v=4", "gravatar_id": "", "url": base,
                "html_url": f"{self.base_url}/{login}", "followers_url": f"{base}/followers",
                "following_url": f"{base}/following{{/other_user}}", "gists_url": f"{base}/gists{{/gist_id}}",
                "starred_url": f"{base}/starred{{/owner}}{{/repo}}", "subscriptions_url": f"{base}/subscriptions",
                "organizations_url": f"{base}/orgs", "repos_url": f"{base}/repos",
                "events_url": f"{base}/events{{/privacy}}", "received_events_url": f"{base}/received_events",
                "type": "User", "site_admin": False, "user_view_type": "public"}

    def _label_json(self, name: str) -> dict[str, Any]:
        label_id = self._label_id(name)
        return {"id": label_id, "node_id": f"MDU6TGFiZWw{label_id}", "url":
                f"{self.api_url}/repos/{self.owner}/{self.repo}/labels/{name}", "name": name,
                "description": None, "color": "d73a4a" if name == "amlaudit" else "ededed", "default": False}

    def _issue_json(self, issue: StoredIssue, *, single: bool = False) -> dict[str, Any]:
        repo_url = f"{self.api_url}/repos/{self.owner}/{self.repo}"
        url = f"{repo_url}/issues/{issue.number}"
        html = f"{self.base_url}/{self.owner}/{self.repo}/{'pull' if issue.is_pull_request else 'issues'}/{issue.number}"
        data: dict[str, Any] = {
            "id": 1_000_000 + issue.number, "node_id": f"I_kwDOStandIn{issue.number}", "url": url,
            "repository_url": repo_url, "labels_url": f"{url}/labels{{/name}}", "comments_url": f"{url}/comments",
            "events_url": f"{url}/events", "html_url": html, "number": issue.number, "state": issue.state,
            "state_reason": issue.state_reason, "title": issue.title, "body": issue.body,
            "user": self._user("amlaudit-bot"), "labels": [self._label_json(name) for name in issue.labels],
            "assignee": None, "assignees": [], "milestone": None, "locked": False, "active_lock_reason": None,
            "comments": len(issue.comments), "closed_at": issue.closed_at, "created_at": issue.created_at,
            "updated_at": issue.updated_at, "author_association": "OWNER", "timeline_url": f"{url}/timeline",
            "performed_via_github_app": None,
            "reactions": {"url": f"{url}/reactions", "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
                          "confused": 0, "heart": 0, "rocket": 0, "eyes": 0},
        }
        if issue.is_pull_request:
            pr = f"{repo_url}/pulls/{issue.number}"
            data["pull_request"] = {"url": pr, "html_url": html, "diff_url": f"{html}.diff",
                                    "patch_url": f"{html}.patch", "merged_at": None}
            data["draft"] = False
        if single:  # only the single-issue answers say who closed it
            data["closed_by"] = self._user(issue.closed_by) if issue.closed_by else None
        return data

    def _comment_json(self, issue: StoredIssue, index: int) -> dict[str, Any]:
        comment_id = 1_500_000 + issue.number * 1000 + index
        repo_url = f"{self.api_url}/repos/{self.owner}/{self.repo}"
        return {"id": comment_id, "node_id": f"IC_kwDOStandIn{comment_id}", "url": f"{repo_url}/issues/comments/{comment_id}",
                "html_url": f"{self.base_url}/{self.owner}/{self.repo}/issues/{issue.number}#issuecomment-{comment_id}",
                "body": issue.comments[index], "user": self._user("amlaudit-bot"), "created_at": issue.updated_at,
                "updated_at": issue.updated_at, "issue_url": f"{repo_url}/issues/{issue.number}",
                "author_association": "OWNER", "performed_via_github_app": None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.github_standin", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--repo", default="contoso/aml-security", help="OWNER/NAME")
    parser.add_argument("--prefix", default="", help="path prefix, e.g. /api/v3 as on GitHub Enterprise Server")
    parser.add_argument("--page-size", type=int, default=100, help="most issues per listing page")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--writes-per-minute", type=int, default=80)
    parser.add_argument("--writes-per-hour", type=int, default=500)
    args = parser.parse_args(argv)
    server = GitHubStandIn(repository=args.repo, prefix=args.prefix, page_size=args.page_size, latency=args.latency,
                           write_limits=((args.writes_per_minute, 60.0), (args.writes_per_hour, 3600.0)))
    serve_by_hand(server, lambda s: [
        f"# stand-in GitHub at {s.api_url}, repository {args.repo} (Ctrl-C to stop)",
        *(f"export {name}={value}" for name, value in s.credentials_env.items()),
        f"# amlaudit tickets sync --to github --github-repo {args.repo} --github-api-url {s.api_url} "
        "--findings amlaudit-out/findings.json --dry-run",
    ], args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
