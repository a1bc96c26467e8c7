"""The normalized graph: typed nodes and relations built once from a snapshot."""

from amlaudit.auditor.graph.build import build_estate
from amlaudit.auditor.graph.estate import Estate
from amlaudit.auditor.graph.model import *  # noqa: F401,F403 - the node types are the graph's vocabulary

__all__ = ["build_estate", "Estate"]
