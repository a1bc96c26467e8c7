"""Raw Resource Manager reads through the azure-mgmt-* clients' pipelines.

Each read goes through the SDK client of the resource's provider (so it carries that
SDK's authentication, retry, redirect, logging and user-agent policies) with the
client's `send_request` (`_send_request` in older generated clients), which azure-core
documents as the way to send a request of your own through a client's pipeline. We
use it for every read, not only missing ones, because the typed operations return
models: msrest models rename keys to snake_case and drop keys they do not know, and a
`cls=` hook on a list operation only ever sees those models, never the page body.
`send_request` hands back the bytes Resource Manager sent, which is what a snapshot
must hold. See docs/collect.md.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import orjson
from azure.core.exceptions import (
    ClientAuthenticationError,
    DecodeError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.rest import HttpRequest, HttpResponse
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource.locks import ManagementLockClient
from azure.mgmt.resource.subscriptions import SubscriptionClient
from azure.mgmt.storage import StorageManagementClient

from amlaudit.auditor.collect.errors import ArmReadError, CollectError
from amlaudit.auditor.collect.readonly import ReadOnlyPolicy, RefusedRequestError
from amlaudit.auditor.collect.token_cache import SharedTokenCredential

_LOG = logging.getLogger(__name__)

# The provider namespace of a path picks the SDK client whose pipeline carries the read.
_CLIENTS: dict[str, Callable[..., Any]] = {
    "microsoft.resources": SubscriptionClient,
    "microsoft.machinelearningservices": MachineLearningServicesMgmtClient,
    "microsoft.network": NetworkManagementClient,
    "microsoft.storage": StorageManagementClient,
    "microsoft.keyvault": KeyVaultManagementClient,
    "microsoft.compute": ComputeManagementClient,
    "microsoft.containerservice": ContainerServiceClient,
    "microsoft.authorization": ManagementLockClient,
}
# Providers read here without an SDK of their own (installing one for a single GET would add a
# dependency and its model code for nothing): their reads go through the pipeline of the client
# named here. Every client's pipeline carries the same azure-mgmt-core policies, and `send_request`
# takes any URL on the endpoint, so the borrowed client changes nothing in the request but the
# user agent. Microsoft.Resources' client is the one not tied to any one resource provider.
_BORROWED_CLIENTS: dict[str, str] = {
    "microsoft.hdinsight": "microsoft.resources",
}
_TAKES_NO_SUBSCRIPTION = {SubscriptionClient}
# The SDK clients want a subscription id at construction for their typed operations; every
# request here is a full path the collector built, so the value is never used.
_UNUSED_SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"
# azure-mgmt-core's auto-registration policy logs this warning and then POSTs `.../register`, which
# ReadOnlyPolicy refuses; the promise would be false, so that one record (matched on the library's
# exact format string) is dropped. The refusal itself is recorded as the list's outcome.
_REGISTRATION_PROMISE = "Resource provider '%s' used by this operation is not registered. We are registering for you."


class _DropRegistrationPromise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != _REGISTRATION_PROMISE


_DROP_REGISTRATION_PROMISE = _DropRegistrationPromise()

# RFC 3986 path characters: ids pass through unchanged, anything else (spaces, braces) is escaped.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def provider_namespace(path: str) -> str:
    """The lower-case namespace that owns `path`: the last `providers/<ns>` in it, else Microsoft.Resources."""
    segments = [s for s in path.lower().split("/") if s]
    for i in range(len(segments) - 2, -1, -1):
        if segments[i] == "providers":
            return segments[i + 1]
    return "microsoft.resources"


class ArmReader:
    """Reads JSON documents from one Resource Manager endpoint, GET only.

    Thread-safe: the collector's workers share one reader (and so one client per provider,
    one connection pool per client, and one token).
    """

    def __init__(self, endpoint: str, credential_scope: str, credential: Any, *,
                 max_retries: int, retry_backoff: float, retry_backoff_max: float,
                 connect_timeout: float, read_timeout: float) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._credential = SharedTokenCredential(credential)
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._client_settings: dict[str, Any] = {
            # Passed on to each client's RequestsTransport (azure-core's ConnectionConfiguration); they
            # bound every attempt, retries included. The connect timeout covers the TLS handshake too.
            "connection_timeout": connect_timeout,
            "read_timeout": read_timeout,
            "base_url": self.endpoint,
            "credential_scopes": [credential_scope],
            "per_retry_policies": [ReadOnlyPolicy(self.endpoint)],
            "retry_total": max_retries,
            # azure-core also counts status-code, connect and read retries separately (default 3 each);
            # one budget is easier to reason about (and is what CollectOptions.max_retries promises).
            "retry_status": max_retries,
            "retry_connect": max_retries,
            "retry_read": max_retries,
            "retry_backoff_factor": retry_backoff,
            "retry_backoff_max": retry_backoff_max,
        }
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        logging.getLogger("azure.mgmt.core.policies._base").addFilter(_DROP_REGISTRATION_PROMISE)

    def url(self, path: str) -> str:
        """The absolute URL of an ARM path (an id or a collection path)."""
        return self.endpoint + quote(path, safe=_PATH_SAFE)

    def get(self, path_or_url: str, api_version: str) -> dict[str, Any]:
        """GET a path (or an absolute `nextLink`) and return the decoded JSON object, unchanged.

        Raises ArmReadError for any answer but 200 with a JSON object body (after retries), and
        CollectError when no request can be made at all (no token, endpoint unreachable).
        """
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        params = {} if _has_api_version(url) else {"api-version": api_version}
        client = self.client(provider_namespace(urlsplit(url).path))
        send = getattr(client, "send_request", None) or client._send_request
        try:
            response: HttpResponse = send(HttpRequest("GET", url, params=params))
        except RefusedRequestError as exc:
            raise _refusal(exc) from None
        except ClientAuthenticationError as exc:
            raise CollectError(f"cannot get a token for {self.endpoint}: {_first_line(exc)}") from exc
        except ServiceRequestTimeoutError as exc:
            # urllib3's own text here is the repr of a connection object; the timeout says it all.
            raise CollectError(f"cannot reach {self.endpoint}: no connection within {self._connect_timeout:g} s") from exc
        except ServiceRequestError as exc:
            raise CollectError(f"cannot reach {self.endpoint}: {_first_line(exc)}") from exc
        except DecodeError as exc:
            # azure-core's ContentDecodePolicy may parse a JSON body on arrival (it skips it for
            # send_request today); should it raise on a broken body, that is still the service's fault.
            status = exc.response.status_code if exc.response is not None else None
            raise ArmReadError(status, "MalformedResponse", f"response body is not valid JSON ({_first_line(exc)})") from None
        except ServiceResponseTimeoutError:
            # Connected, and then silence on the last attempt: the request went unanswered, or the TLS
            # handshake stalled (urllib3 reports that as a read timeout, held to the connect timeout).
            # Resource Manager was reachable, so this read is lost, not the collection: an error entry.
            raise ArmReadError(None, "ServiceResponseTimeoutError", f"no answer within the timeouts "
                               f"(connect {self._connect_timeout:g} s, read {self._read_timeout:g} s)") from None
        except ServiceResponseError as exc:
            raise ArmReadError(None, type(exc).__name__, _first_line(exc)) from None
        _LOG.debug("GET %s -> %s", urlsplit(url).path, response.status_code)
        body = response.content
        if response.status_code != 200:
            code, message = _error_detail(body)
            raise ArmReadError(response.status_code, code or f"HTTP{response.status_code}", message or response.reason or "")
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ArmReadError(200, "MalformedResponse", f"response body is not valid JSON ({exc})") from None
        if not isinstance(document, dict):
            # Every Resource Manager GET answers with an object (lists too: {"value": [...]}). Anything
            # else, `null` included, must be an error entry: read as "nothing there" it would vanish unrecorded.
            raise ArmReadError(200, "MalformedResponse", f"response body is a JSON {_JSON_KINDS.get(type(document), 'value')}, "
                                                         "not an object")
        return document

    def close(self) -> None:
        with self._clients_lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def __enter__(self) -> ArmReader:
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()

    def client(self, namespace: str) -> Any:
        """The SDK client whose pipeline carries reads for a provider namespace (made on first use)."""
        key = namespace.lower()
        key = _BORROWED_CLIENTS.get(key, key)
        with self._clients_lock:
            client = self._clients.get(key)
            if client is None:
                factory = _CLIENTS.get(key)
                if factory is None:
                    raise ArmReadError(None, "UnsupportedProvider", f"amlaudit has no client for namespace {namespace!r}")
                if factory in _TAKES_NO_SUBSCRIPTION:
                    client = factory(self._credential, **self._client_settings)
                else:
                    client = factory(self._credential, _UNUSED_SUBSCRIPTION_ID, **self._client_settings)
                self._clients[key] = client
            return client


_JSON_KINDS = {type(None): "null", list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


def _has_api_version(url: str) -> bool:
    return any(key.lower() == "api-version" for key, _ in parse_qsl(urlsplit(url).query))


def _refusal(exc: RefusedRequestError) -> ArmReadError:
    path = urlsplit(exc.url).path
    if exc.method == "POST" and path.lower().endswith("/register"):
        # The auto-registration policy answered a 409 MissingSubscriptionRegistration with a POST;
        # the provider is not registered in that subscription, so none of its resources exist there.
        return ArmReadError(409, "MissingSubscriptionRegistration",
                            f"resource provider is not registered (amlaudit does not register it: refused POST {path})")
    return ArmReadError(None, "RequestRefused", str(exc))


def _error_detail(body: bytes) -> tuple[str | None, str | None]:
    """`code` and `message` of an ARM error body (`{"error": {...}}`, or the fields at top level)."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, body[:500].decode("utf-8", "replace").strip() or None
    if not isinstance(document, dict):
        return None, None
    detail = document.get("error") if isinstance(document.get("error"), dict) else document
    # Some providers capitalise the keys (`Code`, `Message`).
    lowered = {str(k).lower(): v for k, v in detail.items()}
    code, message = lowered.get("code"), lowered.get("message")
    return (code if isinstance(code, str) else None, message if isinstance(message, str) else None)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
