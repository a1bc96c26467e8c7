"""keyvault-vnet-rule: every compute subnet is in the vault's virtual network rules and has a KeyVault endpoint."""

from __future__ import annotations

import json
from typing import Any

from amlaudit.auditor.check import Verdict
from amlaudit.checks.keyvault import keyvault_vnet_rule
from tests.estates import ARM_EXAMPLES, EstateBuilder


def _verdict(b: EstateBuilder) -> Verdict:
    verdicts = keyvault_vnet_rule(b.estate())
    assert len(verdicts) == 1, verdicts
    return verdicts[0]


def _subnet_evidence(v: Verdict, subnet_id: str) -> dict[str, Any]:
    (entry,) = [s for s in v.evidence["subnets"] if (s["subnet_id"] or "").lower() == subnet_id.lower()]
    return entry


def _estate(b: EstateBuilder, endpoints: tuple[str, ...] = ("Microsoft.KeyVault",), in_rules: bool = True,
            ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    vnet = b.vnet()
    snet = b.subnet(vnet, "snet-train", "10.0.1.0/24", service_endpoints=endpoints)
    # Key Vault reports the endpoint's locations as "*".
    for entry in snet["properties"].get("serviceEndpoints", []):
        entry["locations"] = ["*"]
    kv = b.key_vault(default_action="Deny", subnets=[snet] if in_rules else [])
    ws = b.workspace(storage=b.storage_account(), key_vault=kv)
    b.aml_compute(ws, "cpu-cluster", snet)
    return snet, kv, ws


def test_pass_with_lower_cased_rule_ids(builder: EstateBuilder) -> None:
    snet, kv, ws = _estate(builder)
    assert kv["properties"]["networkAcls"]["virtualNetworkRules"][0]["id"] == snet["id"].lower()
    v = _verdict(builder)
    assert v.status == "pass" and v.resource_id == kv["id"]
    entry = _subnet_evidence(v, snet["id"])
    assert entry["in_virtual_network_rules"] is True and entry["service_endpoint"] is True
    assert entry["subnet_id"] == snet["id"]  # as the VNet spelled it, not the vault's lower-cased copy
    assert entry["computes"] == [f"{ws['id']}/computes/cpu-cluster"]


def test_fail_when_subnet_not_in_rules(builder: EstateBuilder) -> None:
    snet, _, _ = _estate(builder, in_rules=False)
    v = _verdict(builder)
    assert v.status == "fail" and _subnet_evidence(v, snet["id"])["in_virtual_network_rules"] is False
    assert "snet-train" in v.message and "cpu-cluster" in v.message


def test_fail_when_only_a_storage_endpoint(builder: EstateBuilder) -> None:
    snet, _, _ = _estate(builder, endpoints=("Microsoft.Storage",))
    v = _verdict(builder)
    assert v.status == "fail" and _subnet_evidence(v, snet["id"])["service_endpoint"] is False
    assert "Microsoft.KeyVault" in v.message


def test_endpoint_name_compares_case_insensitively(builder: EstateBuilder) -> None:
    _estate(builder, endpoints=("MICROSOFT.KEYVAULT",))
    assert _verdict(builder).status == "pass"


def test_not_applicable_when_default_action_allow(builder: EstateBuilder) -> None:
    _, kv, _ = _estate(builder)
    kv["properties"]["networkAcls"]["defaultAction"] = "Allow"
    assert _verdict(builder).status == "not_applicable"


def test_not_applicable_when_network_acls_absent(builder: EstateBuilder) -> None:
    _, kv, _ = _estate(builder)
    del kv["properties"]["networkAcls"]
    v = _verdict(builder)
    assert v.status == "not_applicable" and v.evidence["network_acls_present"] is False


def test_not_applicable_without_experimentation_compute(builder: EstateBuilder) -> None:
    kv = builder.key_vault(default_action="Deny")
    builder.workspace(key_vault=kv)
    assert _verdict(builder).status == "not_applicable"


def test_error_when_vault_unreadable(builder: EstateBuilder) -> None:
    _, kv, _ = _estate(builder)
    builder.drop(kv)
    builder.collection_error(kv["id"], status=403)
    v = _verdict(builder)
    assert v.status == "error" and v.resource_id == kv["id"] and "403" in v.message


def test_error_when_subnet_missing(builder: EstateBuilder) -> None:
    snet, _, _ = _estate(builder)
    vnet = next(r for r in builder.resources if r["type"] == "Microsoft.Network/virtualNetworks")
    builder.drop(vnet)
    v = _verdict(builder)
    assert v.status == "error" and "not in the snapshot" in v.message
    assert _subnet_evidence(v, snet["id"])["service_endpoint"] is None


def test_unlisted_computes_make_applicability_unknown(builder: EstateBuilder) -> None:
    kv = builder.key_vault(default_action="Deny")
    ws = builder.workspace(key_vault=kv)
    builder.collection_error(ws["id"] + "/computes", status=403)
    assert _verdict(builder).status == "error"


def test_public_network_access_disabled_does_not_change_the_verdict(builder: EstateBuilder) -> None:
    snet, kv, _ = _estate(builder)
    kv["properties"]["publicNetworkAccess"] = "Disabled"
    v = _verdict(builder)
    assert v.status == "pass" and v.evidence["public_network_access"] == "Disabled"
    del snet["properties"]["serviceEndpoints"]
    assert _verdict(builder).status == "fail"


def test_endpoint_counts_outside_the_vault_region(builder: EstateBuilder) -> None:
    snet, kv, _ = _estate(builder)
    snet["properties"]["serviceEndpoints"][0]["locations"] = ["westeurope"]
    kv["location"] = "eastus"
    assert _verdict(builder).status == "pass"


def test_failed_endpoint_counts_as_absent(builder: EstateBuilder) -> None:
    snet, _, _ = _estate(builder)
    snet["properties"]["serviceEndpoints"][0]["provisioningState"] = "Failed"
    v = _verdict(builder)
    assert v.status == "fail" and _subnet_evidence(v, snet["id"])["service_endpoint"] is False


def test_definite_failure_wins_over_an_unlisted_workspace(builder: EstateBuilder) -> None:
    _, kv, _ = _estate(builder, in_rules=False)
    other = builder.workspace("mlw-other", key_vault=kv)
    builder.collection_error(other["id"] + "/computes", status=500)
    v = _verdict(builder)
    assert v.status == "fail" and "mlw-other" in v.message


def test_real_vault_sample_with_lower_cased_subnet_rule(builder: EstateBuilder) -> None:
    """The REST spec's vault (westus), whose rule names test-vnet/subnet1 in lower case."""
    sample = json.loads((ARM_EXAMPLES / "keyvault-2025-05-01-createVaultWithNetworkAcls.json").read_text())
    vault = sample["responses"]["200"]["body"]
    rule_id = vault["properties"]["networkAcls"]["virtualNetworkRules"][0]["id"]
    assert rule_id != rule_id.replace("resourcegroups", "resourceGroups")  # the sample's quirk
    builder.resources.append(vault)
    vnet = builder.vnet("test-vnet", rg="rg1", sub="subid", location="westus")
    snet = builder.subnet(vnet, "subnet1", "10.0.0.0/24", service_endpoints=("Microsoft.KeyVault",))
    ws = builder.workspace(key_vault=vault)
    builder.aml_compute(ws, "cpu-cluster", snet)
    v = _verdict(builder)
    assert v.status == "pass" and v.resource_id == vault["id"]
    assert _subnet_evidence(v, snet["id"])["virtual_network_rule"]["id"] == rule_id

    del snet["properties"]["serviceEndpoints"]
    assert _verdict(builder).status == "fail"
