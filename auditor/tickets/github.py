"""GitHub Issues (github.com or GitHub Enterprise Server) as a ticketing target: one issue per fingerprint.

Client: githubkit, chosen over PyGithub for what the table needs:
- listing follows the `Link: rel="next"` header (`rest.paginate`), so a sync reads exactly
  the pages GitHub has; PyGithub's objects fetch themselves again when an attribute the
  listing left out is read (`issue.pull_request` on a plain issue is one GET per issue);
- rate limits are classified as GitHub documents them (429 or 403 with Retry-After, 403
  with x-ratelimit-remaining 0 and its reset) and the retry decision is a plain function,
  so the waits here are bounded per request and per sync; PyGithub's retry (urllib3) also
  re-sends POSTs on 5xx, which could create an issue twice;
- its throttler hook runs before every request, which is where writes are paced.
Both take a GitHub Enterprise base URL. Answers are read as plain JSON (the listing of
2,000 issues is not turned into models), and every call states the REST API version
(`X-GitHub-Api-Version`, default 2022-11-28, which github.com and GitHub Enterprise Server
3.9+ both serve).

On an issue:
- marker: labels `amlaudit` and `amlaudit:<fingerprint>` (GitHub label names hold up to
  50 characters; these are 41). Listing: `GET /repos/{o}/{r}/issues?labels=amlaudit&state=all
  &per_page=100`, every page; pull requests (which that endpoint also returns) are skipped.
- state: one hidden line at the end of the body, `<!-- amlaudit-state: {json} -->`, that
  only amlaudit rewrites (GitHub does not render HTML comments): the evidence digest, the
  waiver expiry while accepted, and whether (and when) amlaudit closed the issue. The
  listing returns bodies, so no read per issue is needed. A body rewrite keeps everything
  else people wrote; titles are never written after creation.
- accepted: the label `amlaudit-accepted` while a waiver holds.
- closed by amlaudit: the state line says amlaudit closed it, and GitHub's `closed_at` is
  no later than CLOSE_TOLERANCE after the time amlaudit recorded; an issue a person
  reopened and closed again is therefore "closed by a person" and is not reopened.

Writes are paced under GitHub's secondary limits for content creation (at most 80 writes
in any minute and 500 in any hour; every POST/PATCH/PUT/DELETE counts), and a refusal
with Retry-After is waited out: each wait at most `max_wait` seconds, at most
`max_retries` times a request and `max_total_wait` seconds a sync, then the run stops
with exit 2. Credentials: GITHUB_TOKEN from the environment, sent only in the
Authorization header.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Generator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from githubkit import GitHub, TokenAuthStrategy
from githubkit.exception import GitHubException, RateLimitExceeded, RequestError, RequestFailed, RequestTimeout
from githubkit.throttling import BaseThrottler
from githubkit.typing import RetryOption

from amlaudit.auditor import __version__
from amlaudit.auditor.tickets.http_retry import DEFAULT_MAX_RETRIES, DEFAULT_MAX_WAIT, one_line, refusal
from amlaudit.auditor.tickets.pacing import SlidingWindows
from amlaudit.auditor.tickets.target import (
    ACCEPTED_LABEL,
    MARKER_LABEL,
    TargetError,
    TargetName,
    Ticket,
    TicketDraft,
    TicketState,
    fingerprint_label,
)

DEFAULT_API_URL = "https://api.github.com"
TOKEN_VARIABLE = "GITHUB_TOKEN"
API_VERSION = "2022-11-28"
STATE_LINE = re.compile(r"<!-- amlaudit-state: (\{[^\n]*?\}) -->")
CLOSE_TOLERANCE = timedelta(minutes=10)  # clock difference allowed between amlaudit's record and GitHub's closed_at
WRITE_LIMITS = ((80, 60.0), (500, 3600.0))  # GitHub's secondary limits on content-creating requests
BODY_LIMIT = 65_536  # characters GitHub accepts in an issue body
_WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


@dataclass(frozen=True, slots=True)
class GitHubSettings:
    repository: str  # "owner/name"
    api_url: str = DEFAULT_API_URL  # GitHub Enterprise Server: https://HOST/api/v3
    api_version: str = API_VERSION
    labels: tuple[str, ...] = ()  # extra labels on created issues
    page_size: int = 100  # issues per listing page (GitHub's maximum)
    timeout: float = 30.0  # seconds per request
    max_retries: int = DEFAULT_MAX_RETRIES  # rate-limit waits per request
    max_wait: float = DEFAULT_MAX_WAIT  # longest single wait honoured, seconds
    max_total_wait: float = 600.0  # all rate-limit waits of one sync, seconds
    write_limits: tuple[tuple[int, float], ...] = field(default=WRITE_LIMITS)  # (writes, seconds) windows

    def owner_and_name(self) -> tuple[str, str]:
        owner, _, name = self.repository.strip().partition("/")
        if not owner or not name or "/" in name:
            raise TargetError(f"GitHub: repository {self.repository!r}: expected OWNER/NAME")
        return owner, name.removesuffix(".git")


def token_from_environment(environ: Mapping[str, str]) -> str:
    token = (environ.get(TOKEN_VARIABLE) or "").strip()
    if not token:
        raise TargetError(f"GitHub: no credentials in the environment: set {TOKEN_VARIABLE}")
    return token


class GitHubTarget:
    """A TicketTarget for one repository's issues. Close it (or use `with`) to release its connection."""

    name: TargetName = "github"

    def __init__(self, settings: GitHubSettings, token: str) -> None:
        self.settings = settings
        self._owner, self._repo = settings.owner_and_name()
        self._api = settings.api_url.rstrip("/")
        parsed = httpx.URL(self._api) if self._api.startswith(("https://", "http://")) else None
        if parsed is None or not parsed.host:
            raise TargetError("GitHub: the API URL is not an http(s) URL")
        if parsed.userinfo or parsed.query or parsed.fragment:
            # Never echoed: a URL with user:password@ would carry a secret into messages.
            raise TargetError("GitHub: the API URL must be a plain https://HOST[/api/v3] (credentials go in GITHUB_TOKEN)")
        self._waits = _BoundedRateLimitWaits(settings.max_retries, settings.max_wait, settings.max_total_wait)
        self.pacer = SlidingWindows(settings.write_limits)
        self._github = GitHub(
            TokenAuthStrategy(token), base_url=self._api + "/", user_agent=f"amlaudit/{__version__}",
            timeout=settings.timeout, http_cache=False, auto_retry=self._waits,
            throttler=_WritePacer(self.pacer), follow_redirects=False)
        self._github.__enter__()  # one HTTP client (one kept-alive connection) for the whole sync
        self._headers = {"X-GitHub-Api-Version": settings.api_version}
        # Per issue number, what the listing said that writes need: the body and the label names.
        self._known: dict[str, tuple[str, list[str]]] = {}

    @classmethod
    def from_settings(cls, settings: GitHubSettings, environ: Mapping[str, str] | None = None) -> GitHubTarget:
        return cls(settings, token_from_environment(os.environ if environ is None else environ))

    def close_connection(self) -> None:
        self._github.__exit__()

    def __enter__(self) -> GitHubTarget:
        return self

    def __exit__(self, *args: Any) -> None:
        self.close_connection()

    def describe(self) -> str:
        where = "" if self._api == DEFAULT_API_URL else f" at {self._api}"
        return f"GitHub {self._owner}/{self._repo}{where}"

    def __repr__(self) -> str:
        return f"GitHubTarget({self.describe()!r})"

    @property
    def rate_limit_waited(self) -> float:
        """Seconds spent waiting: Retry-After waits plus write pacing."""
        return self._waits.waited + self.pacer.waited

    # -- reads ------------------------------------------------------------------------------------

    def list_managed(self) -> list[Ticket]:
        pages = self._github.rest.paginate(
            self._github.rest.issues.list_for_repo, _json_list, owner=self._owner, repo=self._repo,
            labels=MARKER_LABEL, state="all", per_page=max(1, min(self.settings.page_size, 100)),
            headers=self._headers)
        items = self._guard("listing issues", lambda: list(pages))
        return [ticket for ticket in map(self._ticket, items) if ticket is not None]

    def _ticket(self, item: Mapping[str, Any]) -> Ticket | None:
        if not isinstance(item, Mapping) or "pull_request" in item:
            return None  # the issues endpoint lists pull requests too
        labels = [str(label.get("name") if isinstance(label, Mapping) else label) for label in item.get("labels") or []]
        prefix = fingerprint_label("")
        fingerprints = sorted(label[len(prefix):] for label in labels if label.startswith(prefix) and len(label) > len(prefix))
        number = item.get("number")
        if not isinstance(number, int) or not fingerprints:
            return None  # carries `amlaudit` but no fingerprint: not one of ours to move
        key = str(number)
        body = item.get("body") if isinstance(item.get("body"), str) else ""
        self._known[key] = (body, labels)
        is_open = item.get("state") == "open"
        state = _state_from_body(fingerprints[0], body, closed_at=None if is_open else item.get("closed_at"))
        return Ticket(key=key, url=str(item.get("html_url") or ""), title=str(item.get("title") or ""),
                      is_open=is_open, state=state)

    # -- writes -----------------------------------------------------------------------------------

    def create(self, draft: TicketDraft) -> Ticket:
        state = TicketState(draft.fingerprint, evidence_digest=draft.evidence_digest)
        labels = list(dict.fromkeys([MARKER_LABEL, fingerprint_label(draft.fingerprint), *self.settings.labels]))
        body = _with_state(_bounded(draft.body_markdown), state)
        answer = self._call(f"creating an issue for {draft.check_id}", self._github.rest.issues.create,
                            data={"title": draft.title[:256], "body": body, "labels": labels})
        number = answer.get("number") if isinstance(answer, Mapping) else None
        if not isinstance(number, int):
            raise TargetError(f"{self.describe()}: creating an issue for {draft.check_id}: the answer had no issue number")
        key = str(number)
        self._known[key] = (body, labels)
        return Ticket(key=key, url=str(answer.get("html_url") or ""), title=draft.title[:256], is_open=True, state=state)

    def comment(self, ticket: Ticket, text: str, state: TicketState) -> None:
        self._comment(ticket, text)
        if state != ticket.state:
            self._update(ticket, state, {}, doing=f"recording amlaudit's state on #{ticket.key}")

    def close(self, ticket: Ticket, text: str, state: TicketState) -> None:
        self._comment(ticket, text)
        self._update(ticket, state, {"state": "closed", "state_reason": "completed"}, doing=f"closing #{ticket.key}")

    def reopen(self, ticket: Ticket, text: str, state: TicketState) -> None:
        self._comment(ticket, text)
        self._update(ticket, state, {"state": "open", "state_reason": "reopened"}, doing=f"reopening #{ticket.key}")

    def _comment(self, ticket: Ticket, text: str) -> None:
        self._call(f"commenting on #{ticket.key}", self._github.rest.issues.create_comment,
                   int(ticket.key), data={"body": _bounded(text)})

    def _update(self, ticket: Ticket, state: TicketState, change: dict[str, Any], *, doing: str) -> None:
        """One PATCH: the state line in the body (the rest of the body as people left it), the accepted
        label when acceptance changed, and `change` (open/closed)."""
        known = self._known.get(ticket.key)
        if known is None:  # rewriting a body this target has not read would drop what people wrote
            raise TargetError(f"{self.describe()}: {doing}: issue #{ticket.key} was not in this sync's listing")
        body, labels = known
        if state.closed_by_amlaudit and change.get("state") == "closed":
            closed_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            closed_at = None
        new_body = _with_state(body, state, closed_at=closed_at)
        patch: dict[str, Any] = dict(change)
        if new_body != body:
            patch["body"] = new_body
        new_labels = [label for label in labels if label != ACCEPTED_LABEL]
        if state.accepted_until is not None:
            new_labels.append(ACCEPTED_LABEL)
        if new_labels != labels:
            patch["labels"] = new_labels
        if patch:
            self._call(doing, self._github.rest.issues.update, int(ticket.key), data=patch)
        self._known[ticket.key] = (new_body, new_labels)

    # -- errors -----------------------------------------------------------------------------------

    def _call(self, what: str, method: Callable[..., Any], *args: Any, data: Mapping[str, Any]) -> Any:
        response = self._guard(what, lambda: method(self._owner, self._repo, *args, data=dict(data),
                                                     headers=self._headers))
        try:
            return response.raw_response.json() if response.raw_response.content else {}
        except ValueError as exc:
            raise TargetError(f"{self.describe()}: {what}: unexpected answer ({one_line(exc, 120)})") from None

    def _guard(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except RateLimitExceeded as exc:
            raise TargetError(f"{self.describe()}: {what}: still rate limited after the bounded waits "
                              f"({exc.response.status_code}, {self._waits.describe()}): {_message(exc)}") from None
        except RequestFailed as exc:
            status = exc.response.status_code
            if status == 429:
                raise TargetError(f"{self.describe()}: {what}: {refusal(429)} ({self._waits.describe()})") from None
            raise TargetError(f"{self.describe()}: {what}: {refusal(status, _message(exc))}") from None
        except RequestTimeout:
            raise TargetError(f"{self.describe()}: {what}: no answer from {self._api} within "
                              f"{self.settings.timeout:g} s") from None
        except RequestError as exc:
            raise TargetError(f"{self.describe()}: {what}: cannot reach {self._api} ({type(exc.exc).__name__})") from None
        except GitHubException as exc:
            raise TargetError(f"{self.describe()}: {what}: {type(exc).__name__}") from None
        except (ValueError, TypeError, KeyError) as exc:  # an answer of an unexpected shape
            raise TargetError(f"{self.describe()}: {what}: unexpected answer ({one_line(exc, 120)})") from None


# -- the state line -------------------------------------------------------------------------------


def _state_from_body(fingerprint: str, body: str, *, closed_at: Any) -> TicketState:
    match = STATE_LINE.search(body)
    stored: Mapping[str, Any] = {}
    if match:
        try:
            loaded = json.loads(match.group(1))
            stored = loaded if isinstance(loaded, Mapping) else {}
        except ValueError:
            stored = {}

    def text(name: str) -> str | None:
        value = stored.get(name)
        return value if isinstance(value, str) and value else None

    closed_by_us = stored.get("closed_by_amlaudit") is True
    if closed_by_us and closed_at is not None:
        closed_by_us = _closed_when_recorded(str(closed_at), text("closed_at"))
    return TicketState(fingerprint, evidence_digest=text("evidence_digest"), accepted_until=text("accepted_until"),
                       closed_by_amlaudit=closed_by_us)


def _closed_when_recorded(github_closed_at: str, recorded: str | None) -> bool:
    """The issue's last close is the one amlaudit recorded (not a later one by a person)."""
    try:
        closed = datetime.fromisoformat(github_closed_at.replace("Z", "+00:00"))
        ours = datetime.fromisoformat(str(recorded).replace("Z", "+00:00"))
    except ValueError:
        return False  # cannot tell: treat as a person's close, which is never reopened
    return closed <= ours + CLOSE_TOLERANCE


def _with_state(body: str, state: TicketState, *, closed_at: str | None = None) -> str:
    stored: dict[str, Any] = {"fingerprint": state.fingerprint, "evidence_digest": state.evidence_digest,
                              "accepted_until": state.accepted_until, "closed_by_amlaudit": state.closed_by_amlaudit}
    if state.closed_by_amlaudit:
        previous = STATE_LINE.search(body)
        kept = None
        if previous and closed_at is None:
            try:
                kept = json.loads(previous.group(1)).get("closed_at")
            except (ValueError, AttributeError):
                kept = None
        stored["closed_at"] = closed_at or kept
    line = f"<!-- amlaudit-state: {json.dumps(stored, separators=(',', ':'), sort_keys=True)} -->"
    if STATE_LINE.search(body):
        return STATE_LINE.sub(lambda _: line, body, count=1)
    return f"{body.rstrip()}\n\n{line}\n" if body.strip() else f"{line}\n"


def _bounded(markdown: str) -> str:
    limit = BODY_LIMIT - 400  # room for the state line
    return markdown if len(markdown) <= limit else markdown[:limit] + "\n\n… (shortened to fit GitHub's limit)\n"


# -- rate limits ----------------------------------------------------------------------------------


class _BoundedRateLimitWaits:
    """githubkit's retry decision: wait out rate limits as GitHub asks, within bounds; nothing else."""

    def __init__(self, max_retries: int, max_wait: float, max_total_wait: float) -> None:
        self.max_retries, self.max_wait, self.max_total_wait = max_retries, max_wait, max_total_wait
        self.waited = 0.0
        self.gave_up: str | None = None

    def __call__(self, exc: GitHubException, retry_count: int) -> RetryOption:
        if isinstance(exc, RateLimitExceeded):
            wait = max(exc.retry_after.total_seconds(), 0.0)
        elif isinstance(exc, RequestFailed) and exc.response.status_code == 429:
            wait = 60.0  # GitHub: without Retry-After or a reset time, wait at least a minute
        else:
            return RetryOption(False)  # not a rate limit: a refused or failed write is never sent again
        if retry_count >= self.max_retries:
            self.gave_up = f"{retry_count} waits already"
        elif wait > self.max_wait:
            self.gave_up = f"GitHub asked for {wait:.0f} s, more than the {self.max_wait:g} s allowed per wait"
        elif self.waited + wait > self.max_total_wait:
            self.gave_up = f"{self.waited:.0f} s waited in this sync, at most {self.max_total_wait:g} s allowed"
        else:
            self.waited += wait
            return RetryOption(True, timedelta(seconds=max(wait, 0.001)))  # githubkit sleeps 60 s for 0
        return RetryOption(False)

    def describe(self) -> str:
        return self.gave_up or f"{self.waited:.0f} s waited"


class _WritePacer(BaseThrottler):
    """githubkit's throttler hook: each write waits for room under GitHub's write windows."""

    def __init__(self, windows: SlidingWindows) -> None:
        self.windows = windows

    @contextmanager
    def acquire(self, request: httpx.Request) -> Generator[None, Any, Any]:
        if request.method not in _WRITE_METHODS:
            yield
            return
        self.windows.wait_for_slot()
        try:
            yield
        finally:
            self.windows.record_done()

    def async_acquire(self, request: httpx.Request) -> Any:  # pragma: no cover - amlaudit is synchronous
        raise NotImplementedError("amlaudit's GitHub target is synchronous")


def _json_list(response: Any) -> list[Any]:
    data = response.raw_response.json()
    if not isinstance(data, list):
        raise ValueError(f"expected a JSON list of issues, got {type(data).__name__}")
    return data


def _message(exc: RequestFailed) -> str:
    try:
        body = exc.response.raw_response.json()
    except ValueError:
        return ""
    message = body.get("message") if isinstance(body, Mapping) else None
    errors = body.get("errors") if isinstance(body, Mapping) else None
    detail = str(message or "")
    if isinstance(errors, list) and errors:
        first = errors[0]
        if isinstance(first, Mapping):
            detail += f" ({', '.join(f'{k}={first[k]}' for k in ('resource', 'field', 'code') if k in first)})"
    return one_line(detail, 200)
