"""Resource ids compare case-insensitively, as Azure's do (contracts.md), and findings name the
subject "as Azure spelled it". Resource Manager really does hand back `resourcegroups`,
`microsoft.network` and lower-cased types, so every verdict must survive re-spelling.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.acceptance.harness import run
from tests.acceptance.scenarios import aks_scenario, aml_scenario, batch_allow_rule, vm_scenario
from tests.estates import security_rule


def lower_cased(node: Any, key: str | None = None) -> Any:
    """The document with every ARM id, every reference and every resource type lower-cased."""
    if isinstance(node, dict):
        return {k: lower_cased(v, k) for k, v in node.items()}
    if isinstance(node, list):
        return [lower_cased(v, key) for v in node]
    if isinstance(node, str) and (node.startswith("/subscriptions/") or key == "type"):
        return node.lower()
    return node


def _mixed_aml() -> Any:
    # Some checks fail here, so equal verdicts are not just "everything passes".
    deny_internet = security_rule("DenyInternet", 100, "Outbound", "Deny", "*", "*", "Internet", "*")
    s = aml_scenario(rules=[batch_allow_rule(), deny_internet], max_nodes=300)
    table = s.builder.route_table(routes=[("default", "0.0.0.0/0", "VirtualAppliance")])
    s.subnet["properties"]["routeTable"] = {"id": table["id"]}
    s.builder.lock(s.vnet["id"])
    return s


SCENARIOS: dict[str, Callable[[], Any]] = {
    "aml-compute": _mixed_aml,
    "attached-vm": lambda: vm_scenario(nic_rules=[]),
    "aks-config": lambda: aks_scenario(service_cidr="10.0.0.0/16", dns_service_ip="10.0.0.1"),
    "aks-cluster": lambda: aks_scenario(via="cluster", ssl_status="Disabled"),
}


@pytest.mark.parametrize("make", list(SCENARIOS.values()), ids=list(SCENARIOS))
def test_lower_cased_ids_and_types_give_the_same_verdicts(make: Callable[[], Any]) -> None:
    document = make().builder.document()
    as_spelled = {(f.check_id, f.resource_id.lower()): f.status for f in run(document).result.findings}
    lowered = {(f.check_id, f.resource_id.lower()): f.status for f in run(lower_cased(document)).result.findings}
    assert {"fail", "pass"} <= set(as_spelled.values())
    assert lowered == as_spelled


def test_subject_id_is_the_resource_own_spelling() -> None:
    # The workspace points at its storage account and key vault in lower case; the findings still name
    # the accounts as their own GET spells them.
    s = aml_scenario()
    s.workspace["properties"]["storageAccount"] = s.storage["id"].lower()
    s.workspace["properties"]["keyVault"] = s.key_vault["id"].lower()
    s.compute["properties"]["properties"]["subnet"]["id"] = s.subnet["id"].lower()
    audit = run(s.builder)
    assert audit.finding("storage-trusted-services", s.storage["id"]).resource_id == s.storage["id"]
    assert audit.finding("keyvault-trusted-services", s.key_vault["id"]).resource_id == s.key_vault["id"]
    assert audit.finding("compute-subnet-capacity", s.subnet["id"]).resource_id == s.subnet["id"]
    assert audit.finding("compute-vnet-locks", s.vnet["id"]).resource_id == s.vnet["id"]
