"""Checks on the workspace storage account ("Storage account for your workspace")."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.check import Settings, Verdict, check, error, failed, not_applicable, passed
from auditor.graph.estate import Estate
from auditor.graph.model import Gap
from auditor.subjects import workspace_storage_accounts


@check(
    id="storage-trusted-services",
    title="Workspace storage lets trusted Microsoft services through its firewall",
    severity="high",
    subject="workspace storage account",
    applies="its networkAcls.defaultAction is Deny",
    passes="networkAcls.bypass contains AzureServices",
    source="Storage account for your workspace, step 4",
    rationale=(
        "With the storage firewall on, the Azure Machine Learning service reaches the account as a "
        "trusted Microsoft service; without the AzureServices bypass it is blocked."
    ),
    remediation=(
        "Storage account -> Networking -> Firewalls and virtual networks: tick 'Allow Azure services on the "
        "trusted services list to access this storage account' (az storage account update --bypass AzureServices)."
    ),
)
def storage_trusted_services(estate: Estate, settings: Settings) -> Iterator[Verdict]:
    for use in workspace_storage_accounts(estate):
        account = use.resource
        if isinstance(account, Gap):
            yield error(account, account)
            continue
        acls = account.network_acls
        default_action = acls.effective_default_action if acls else None
        if acls is None or default_action is None:
            yield error(account, "the account's networkAcls.defaultAction is missing or unrecognised",
                        default_action=acls.default_action if acls else None)
        elif default_action != "Deny":
            yield not_applicable(account, "the firewall accepts all networks (defaultAction Allow)",
                                 default_action=default_action)
        elif acls.bypasses("AzureServices"):
            yield passed(account, f"defaultAction is Deny and bypass is {acls.bypass_raw!r}, which includes AzureServices",
                         default_action=default_action, bypass=acls.bypass_raw)
        else:
            yield failed(account,
                         f"defaultAction is Deny and bypass is {acls.bypass_raw or 'None'!r}: trusted Microsoft services are blocked",
                         default_action=default_action, bypass=acls.bypass_raw)
