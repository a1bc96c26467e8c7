"""A local HTTPS stand-in for Azure Resource Manager (and the `az` token command) for live-collection tests."""

from tests.standin.server import RecordedRequest, StandIn

__all__ = ["RecordedRequest", "StandIn"]
