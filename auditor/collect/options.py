"""What to collect and from where: the options the CLI hands to :func:`amlaudit.auditor.collect.collect`."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from azure.core import AzureClouds
from azure.identity import AzureAuthorityHosts
from azure.mgmt.core.tools import get_arm_endpoints

ARM_ENDPOINT_ENV = "AMLAUDIT_ARM_ENDPOINT"

# The names `az cloud list` uses, mapped to azure-core's cloud identifiers and Entra ID login hosts.
_CLOUDS: dict[str, tuple[AzureClouds, str]] = {
    "AzureCloud": (AzureClouds.AZURE_PUBLIC_CLOUD, AzureAuthorityHosts.AZURE_PUBLIC_CLOUD),
    "AzureChinaCloud": (AzureClouds.AZURE_CHINA_CLOUD, AzureAuthorityHosts.AZURE_CHINA),
    "AzureUSGovernment": (AzureClouds.AZURE_US_GOVERNMENT, AzureAuthorityHosts.AZURE_GOVERNMENT),
}

# Subscription ids go into URL paths; anything but a GUID-like token would let a caller address other paths.
_SUBSCRIPTION_ID = re.compile(r"^[0-9A-Za-z-]{1,64}$")


@dataclass(frozen=True)
class CollectOptions:
    """Scope and behaviour of one live collection.

    `max_retries`, `retry_backoff` and `retry_backoff_max` bound azure-core's retry policy
    (429 and 5xx answers are retried; a `Retry-After` header sets the wait instead of the backoff).
    `connect_timeout` bounds opening a connection (TCP and TLS); `read_timeout` bounds each wait for
    bytes of an answer. Both apply per attempt, so one read that never answers ends after at most
    (max_retries + 1) x (connect_timeout + read_timeout) plus the backoff waits (see docs/collect.md).
    """

    subscriptions: tuple[str, ...] = ()  # empty: every subscription the identity can list
    workspaces: tuple[str, ...] = ()  # "RG/NAME" filters (case-insensitive); empty: all workspaces
    arm_endpoint: str | None = None  # None: AMLAUDIT_ARM_ENDPOINT env, else the cloud's endpoint
    cloud: str = "AzureCloud"  # AzureCloud | AzureChinaCloud | AzureUSGovernment
    concurrency: int = 8  # bounded concurrent calls
    progress: bool | None = None  # None: show a rich progress bar only when stderr is a TTY
    max_retries: int = 5
    retry_backoff: float = 0.8
    retry_backoff_max: float = 60.0
    # azure-core's defaults are 300 s each: a call that hangs would hold a worker for half an hour
    # across six attempts. Resource Manager answers these reads in well under a second (a region's
    # service tags, a few MB, start arriving as quickly); a read silent for a minute is not coming.
    connect_timeout: float = 10.0
    read_timeout: float = 60.0

    def __post_init__(self) -> None:
        # Accept any iterable from callers (lists from click or a config file) but keep tuples.
        object.__setattr__(self, "subscriptions", tuple(self.subscriptions))
        object.__setattr__(self, "workspaces", tuple(self.workspaces))
        if self.cloud not in _CLOUDS:
            raise ValueError(f"unknown cloud {self.cloud!r} (expected one of {', '.join(_CLOUDS)})")
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {self.concurrency}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must not be negative, not {self.max_retries}")
        for name in ("connect_timeout", "read_timeout"):
            seconds = getattr(self, name)
            # NaN and infinity included: requests would wait forever on either.
            if not isinstance(seconds, (int, float)) or not 0 < seconds < float("inf"):
                raise ValueError(f"{name} must be a positive number of seconds, not {seconds!r}")
        for subscription in self.subscriptions:
            if not _SUBSCRIPTION_ID.match(subscription):
                raise ValueError(f"subscription {subscription!r} is not a subscription id")
        for workspace in self.workspaces:
            group, _, name = workspace.partition("/")
            if not group or not name or "/" in name:
                raise ValueError(f"workspace filter {workspace!r}: expected RESOURCE_GROUP/NAME")

    @property
    def authority_host(self) -> str:
        """The Entra ID host that issues tokens for this cloud."""
        return _CLOUDS[self.cloud][1]

    def resolve_arm_endpoint(self) -> str:
        """The Resource Manager base URL, without a trailing slash."""
        endpoint = self.arm_endpoint or os.environ.get(ARM_ENDPOINT_ENV) or self._cloud_endpoint()
        parts = urlsplit(endpoint)
        if parts.scheme != "https" or not parts.hostname:
            # azure-core refuses to send a bearer token over plain HTTP; say so before any call.
            raise ValueError(f"ARM endpoint {endpoint!r} must be an https:// URL")
        if parts.query or parts.fragment:
            raise ValueError(f"ARM endpoint {endpoint!r} must not carry a query or fragment")
        return endpoint.rstrip("/")

    def credential_scope(self, endpoint: str) -> str:
        """The token scope for `endpoint`.

        The cloud's own endpoint uses the scope Microsoft publishes for it (US Government's
        differs from its endpoint); any other endpoint (Azure Stack, a stand-in) uses `URL/.default`.
        """
        cloud_endpoints = get_arm_endpoints(_CLOUDS[self.cloud][0])
        if endpoint == cloud_endpoints["resource_manager"].rstrip("/"):
            return str(cloud_endpoints["credential_scopes"][0])
        return f"{endpoint}/.default"

    def _cloud_endpoint(self) -> str:
        return str(get_arm_endpoints(_CLOUDS[self.cloud][0])["resource_manager"])
