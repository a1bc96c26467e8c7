"""The normalized graph: typed nodes and relations built once from a snapshot."""

from auditor.graph.build import build_estate
from auditor.graph.estate import Estate
from auditor.graph.model import *  # noqa: F401,F403 - the node types are the graph's vocabulary

__all__ = ["build_estate", "Estate"]
