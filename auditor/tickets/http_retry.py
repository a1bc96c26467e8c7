"""Waiting out rate limits, bounded, for the ticketing clients built on `requests`.

Jira's client (atlassian-python-api) and Azure DevOps' (msrest) both send through a
`requests` session, so both take the same urllib3 `Retry`: answers 429 (and 503, which
Jira and Azure DevOps also send with Retry-After when a resource is busy) are retried after
the Retry-After the service asked for, each wait at most `max_wait` seconds and at most
`max_retries` times; a service still refusing after that reaches the target as its last
answer, which the target turns into a TargetError. Nothing else is retried: a refused
connection or a lost answer to a write must not be sent twice.
"""

from __future__ import annotations

import re

from urllib3.util.retry import Retry

RATE_LIMIT_STATUSES = frozenset({429, 503})
DEFAULT_MAX_RETRIES = 5
DEFAULT_MAX_WAIT = 60  # seconds: Azure DevOps delays up to 30 s; Jira asks for seconds to a minute


def rate_limit_retry(max_retries: int = DEFAULT_MAX_RETRIES, max_wait: int = DEFAULT_MAX_WAIT) -> Retry:
    return Retry(
        total=max_retries,
        connect=0,
        read=0,
        redirect=0,
        other=0,
        status=max_retries,
        status_forcelist=RATE_LIMIT_STATUSES,
        allowed_methods=None,  # a 429 means the request was not carried out, so a write may be sent again
        backoff_factor=0.5,  # only when no Retry-After came with the answer
        backoff_max=max_wait,
        respect_retry_after_header=True,
        retry_after_max=max_wait,
        raise_on_status=False,  # the last refusal goes to the client, which reports it
    )


def refusal(status: int | None, detail: str = "") -> str:
    """What a refused request means, for the one-line TargetError (detail: the service's words)."""
    meaning = {401: "credentials refused (401)", 403: "permission denied (403)",
               404: "not found (404): check the URL, the project and the names in the settings",
               429: "still rate limited after the bounded waits (429)"}.get(status or 0,
                                                                          f"refused ({status})" if status else "refused")
    return f"{meaning}: {detail}" if detail else meaning


def one_line(text: object, limit: int = 300) -> str:
    """A service's message, safe for a one-line error: whitespace collapsed, bounded."""
    flat = re.sub(r"\s+", " ", str(text)).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
