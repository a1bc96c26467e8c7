"""The pipeline policy that makes the collector read-only by construction.

It sits in every SDK client's pipeline right after the retry policy (azure-core's
`per_retry_policies`), so it also sees requests that policies earlier in the chain
create on their own — azure-mgmt-core's auto-registration policy answers a 409
`MissingSubscriptionRegistration` by POSTing `.../providers/<ns>/register`.
It refuses, before anything is sent:

- any method but GET (writes, and secret-returning actions such as `listKeys`, which are POSTs);
- any URL outside the Resource Manager endpoint (a `nextLink` or redirect pointing
  elsewhere would otherwise receive the bearer token).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy


class RefusedRequestError(Exception):
    """The collector refused to send a request; nothing left this process."""

    def __init__(self, method: str, url: str, reason: str) -> None:
        super().__init__(f"refused {method} {url}: {reason}")
        self.method = method
        self.url = url
        self.reason = reason


def url_origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the default HTTPS port made explicit, for exact comparison."""
    parts = urlsplit(url)
    port = parts.port if parts.port is not None else (443 if parts.scheme == "https" else None)
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


class ReadOnlyPolicy(SansIOHTTPPolicy[Any, Any]):
    """Raises :class:`RefusedRequestError` for anything but a GET to the Resource Manager endpoint."""

    def __init__(self, endpoint: str) -> None:
        super().__init__()
        self._origin = url_origin(endpoint)

    def on_request(self, request: PipelineRequest[Any]) -> None:
        http_request = request.http_request
        method = http_request.method.upper()
        if method != "GET":
            raise RefusedRequestError(method, http_request.url, "amlaudit only reads (GET)")
        if url_origin(http_request.url) != self._origin:
            raise RefusedRequestError(method, http_request.url, "outside the Resource Manager endpoint")
