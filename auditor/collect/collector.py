"""`collect()`: one live collection, from options to an `amlaudit.snapshot/v1` document."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from azure.identity import DefaultAzureCredential

from amlaudit.auditor.collect.arm import ArmReader
from amlaudit.auditor.collect.crawl import Crawl
from amlaudit.auditor.collect.options import CollectOptions
from amlaudit.auditor.collect.scheduler import Scheduler
from amlaudit.auditor.scope import WorkspaceScope
from amlaudit.auditor.snapshot import SNAPSHOT_FORMAT

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential


def collect(options: CollectOptions, credential: TokenCredential | None = None) -> dict[str, Any]:
    """Return an amlaudit.snapshot/v1 document (a plain dict, see shared/contracts.md).

    Without `credential`, authenticates with azure-identity's DefaultAzureCredential (so
    `AZURE_TOKEN_CREDENTIALS` narrows its chain). Reads that fail are recorded in `errors`
    and collection carries on; raises CollectError only when nothing can be read at all
    (no token, Resource Manager unreachable), and ValueError for unusable options.
    """
    endpoint = options.resolve_arm_endpoint()
    collected_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    owned_credential = credential is None
    if credential is None:
        # The public cloud's login host is azure-identity's default; passing it would override
        # AZURE_AUTHORITY_HOST, which Azure Stack and private clouds set.
        authority = {} if options.cloud == "AzureCloud" else {"authority": options.authority_host}
        credential = DefaultAzureCredential(**authority)
    try:
        with ArmReader(endpoint, options.credential_scope(endpoint), credential, max_retries=options.max_retries,
                       retry_backoff=options.retry_backoff, retry_backoff_max=options.retry_backoff_max,
                       connect_timeout=options.connect_timeout, read_timeout=options.read_timeout) as arm, \
                Scheduler(options.concurrency, options.progress) as scheduler:
            crawl = Crawl(arm, scheduler, WorkspaceScope(options.workspaces))
            crawl.start(options.subscriptions)
            scheduler.wait()
            sections = crawl.sections()
    finally:
        if owned_credential:
            credential.close()  # type: ignore[union-attr]
    return {
        "format": SNAPSHOT_FORMAT,
        "collected_at": collected_at,
        "arm_endpoint": endpoint,
        "scope": {"subscriptions": list(options.subscriptions), "workspaces": list(options.workspaces)},
        **sections,
    }
