"""Exceptions and the "unresolved" marker of the network-policy engine.

The engine fails closed: data it cannot read is never silently treated as an
empty set. Either it raises (bad input from the caller) or the result carries
an :class:`Unresolved` marker (bad or missing data inside an ARM object) that
callers turn into an ``error`` finding.
"""

from __future__ import annotations

from dataclasses import dataclass


class NetPolicyError(Exception):
    """Base class of every exception raised by ``amlaudit.auditor.netpolicy``."""


class ParseError(NetPolicyError, ValueError):
    """A prefix, port range or protocol string is not valid."""


class UnknownServiceTagError(NetPolicyError, LookupError):
    """No entry of the service-tag data has this name (regional or global)."""

    def __init__(self, tag: str, region: str | None = None) -> None:
        self.tag = tag
        self.region = region
        if region:
            super().__init__(f"neither an entry named {tag}.{region.lower().replace(' ', '')} nor the global {tag} is "
                             "in the service-tag data")
        else:
            super().__init__(f"service tag {tag} is not in the service-tag data")


class ServiceTagDataError(NetPolicyError, ValueError):
    """A service-tag entry exists but its data is malformed or ambiguous."""


class EmptyFlowError(NetPolicyError, ValueError):
    """The flow class holds no packet (e.g. IPv4 sources and IPv6 destinations only).

    Raised rather than answered because "every packet of nothing is allowed"
    would turn a data problem into a pass.
    """


UNKNOWN_SERVICE_TAG = "unknown-service-tag"
INVALID_VALUE = "invalid-value"
MISSING_DATA = "missing-data"


@dataclass(frozen=True)
class Unresolved:
    """Something in an NSG or route table the engine could not turn into sets.

    ``kind`` is one of ``"unknown-service-tag"``, ``"invalid-value"``,
    ``"missing-data"``; ``value`` is the offending text (e.g. the tag name).
    """

    kind: str
    container: str
    item: str | None
    value: str
    detail: str

    def __str__(self) -> str:
        where = f"{self.container} {self.item}" if self.item else self.container
        return f"{where}: {self.detail}"
