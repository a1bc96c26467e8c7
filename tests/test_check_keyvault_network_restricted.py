"""keyvault-network-restricted: a vault used by experimentation compute denies unknown networks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from amlaudit.auditor.check import Verdict
from amlaudit.checks.keyvault import keyvault_network_restricted
from tests.estates import ARM_EXAMPLES, EstateBuilder


def _verdict(b: EstateBuilder) -> Verdict:
    verdicts = keyvault_network_restricted(b.estate())
    assert len(verdicts) == 1, verdicts
    return verdicts[0]


def _experimenting(b: EstateBuilder, vault: dict[str, Any]) -> dict[str, Any]:
    vnet = b.vnet()
    snet = b.subnet(vnet, "snet-train", "10.0.1.0/24")
    ws = b.workspace(key_vault=vault)
    b.aml_compute(ws, "cpu-cluster", snet)
    return ws


def test_pass_when_default_action_deny(builder: EstateBuilder) -> None:
    kv = builder.key_vault(default_action="Deny")
    ws = _experimenting(builder, kv)
    v = _verdict(builder)
    assert v.status == "pass" and v.resource_id == kv["id"]
    assert v.evidence["experimentation_computes"] == [f"{ws['id']}/computes/cpu-cluster"]


def test_fail_when_default_action_allow(builder: EstateBuilder) -> None:
    kv = builder.key_vault(default_action="Allow")
    _experimenting(builder, kv)
    v = _verdict(builder)
    assert v.status == "fail" and v.evidence["default_action"] == "Allow"


def test_fail_when_firewall_never_configured(builder: EstateBuilder) -> None:
    """The REST spec's plain vault GET carries no networkAcls: Azure allows all networks."""
    vault = json.loads((ARM_EXAMPLES / "keyvault-2023-07-01-getVault.json").read_text())["responses"]["200"]["body"]
    builder.resources.append(vault)
    _experimenting(builder, vault)
    v = _verdict(builder)
    assert v.status == "fail" and v.resource_id == vault["id"]
    assert v.evidence["network_acls_present"] is False and "never configured" in v.message


@pytest.mark.parametrize("access", ["Disabled", "SecuredByPerimeter", 1])
def test_public_network_access_does_not_change_the_verdict(builder: EstateBuilder, access: object) -> None:
    """Disabled + Allow still fails: the row keys on defaultAction alone."""
    kv = builder.key_vault(default_action="Allow")
    kv["properties"]["publicNetworkAccess"] = access
    _experimenting(builder, kv)
    v = _verdict(builder)
    assert v.status == "fail" and v.evidence["public_network_access"] == access
    kv["properties"]["networkAcls"]["defaultAction"] = "Deny"
    assert _verdict(builder).status == "pass"


def test_not_applicable_without_experimentation_compute(builder: EstateBuilder) -> None:
    kv = builder.key_vault(default_action="Allow")
    ws = builder.workspace(key_vault=kv)
    builder.aks_compute(ws, "aks-inference", builder.managed_cluster("aks-score", None))
    v = _verdict(builder)
    assert v.status == "not_applicable"


def test_applies_with_inference_compute_too(builder: EstateBuilder) -> None:
    kv = builder.key_vault(default_action="Allow")
    ws = _experimenting(builder, kv)
    builder.aks_compute(ws, "aks-inference", builder.managed_cluster("aks-score", None))
    assert _verdict(builder).status == "fail"


def test_error_when_vault_unreadable(builder: EstateBuilder) -> None:
    kv = builder.key_vault(default_action="Deny")
    _experimenting(builder, kv)
    builder.drop(kv)
    builder.collection_error(kv["id"], status=403)
    v = _verdict(builder)
    assert v.status == "error" and "403" in v.message


def test_error_when_vault_reference_is_not_an_id(builder: EstateBuilder) -> None:
    ws = builder.workspace()
    ws["properties"]["keyVault"] = "kv-ml-prod"
    builder.aml_compute(ws, "cpu-cluster", None)
    v = _verdict(builder)
    assert v.status == "error" and v.resource_id == "kv-ml-prod"


def test_unlisted_computes_make_applicability_unknown(builder: EstateBuilder) -> None:
    kv = builder.key_vault(default_action="Allow")
    ws = builder.workspace(key_vault=kv)
    builder.collection_error(ws["id"] + "/computes", status=403)
    v = _verdict(builder)
    assert v.status == "error" and "could not be listed" in v.message


def test_known_experimentation_compute_decides_despite_an_unlisted_workspace(builder: EstateBuilder) -> None:
    kv = builder.key_vault(default_action="Allow")
    _experimenting(builder, kv)
    other = builder.workspace("mlw-other", key_vault=kv)
    builder.collection_error(other["id"] + "/computes", status=403)
    assert _verdict(builder).status == "fail"
