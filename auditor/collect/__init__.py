"""Live collection: read an Azure estate from Resource Manager into an `amlaudit.snapshot/v1` document.

    from amlaudit.auditor.collect import CollectOptions, collect
    document = collect(CollectOptions(subscriptions=("<id>",), workspaces=("rg/ws",)))

See docs/collect.md for what is read, how, and what failures look like in the snapshot.
"""

from amlaudit.auditor.collect.collector import collect
from amlaudit.auditor.collect.errors import CollectError
from amlaudit.auditor.collect.options import ARM_ENDPOINT_ENV, CollectOptions

__all__ = ["ARM_ENDPOINT_ENV", "CollectError", "CollectOptions", "collect"]
