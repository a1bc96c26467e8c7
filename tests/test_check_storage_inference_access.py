"""storage-inference-access: an account used by inference compute accepts all networks."""

from __future__ import annotations

from typing import Any

import pytest

from amlaudit.auditor.check import Verdict
from amlaudit.checks.storage import storage_inference_access
from tests.estates import EstateBuilder


def _verdict(b: EstateBuilder) -> Verdict:
    verdicts = storage_inference_access(b.estate())
    assert len(verdicts) == 1, verdicts
    return verdicts[0]


def _with_aks(b: EstateBuilder, default_action: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    vnet = b.vnet()
    aks_subnet = b.subnet(vnet, "snet-aks", "10.0.4.0/22")
    cluster = b.managed_cluster("aks-score", aks_subnet)
    st = b.storage_account(default_action=default_action)
    ws = b.workspace(storage=st, key_vault=b.key_vault())
    b.aks_compute(ws, "aks-inference", cluster)
    return st, ws


def test_pass_when_default_action_allow(builder: EstateBuilder) -> None:
    st, ws = _with_aks(builder, "Allow")
    v = _verdict(builder)
    assert v.status == "pass" and v.resource_id == st["id"]
    assert v.evidence["inference_computes"] == [f"{ws['id']}/computes/aks-inference"]
    assert v.evidence["default_action"] == "Allow"


def test_error_when_network_acls_absent(builder: EstateBuilder) -> None:
    # A storage GET always carries networkAcls: without it the firewall was not collected.
    _with_aks(builder, None)
    assert _verdict(builder).status == "error"


def test_fail_when_default_action_deny(builder: EstateBuilder) -> None:
    _with_aks(builder, "Deny")
    v = _verdict(builder)
    assert v.status == "fail" and v.evidence["default_action"] == "Deny"
    assert "aks-inference" in v.message and "Inference requires unrestricted access" in v.message


@pytest.mark.parametrize("access", ["Disabled", "SecuredByPerimeter", "Enabled", "disabled"])
def test_public_network_access_does_not_change_the_verdict(builder: EstateBuilder, access: str) -> None:
    """The row keys on defaultAction alone; publicNetworkAccess is evidence only."""
    st, _ = _with_aks(builder, "Allow")
    st["properties"]["publicNetworkAccess"] = access
    v = _verdict(builder)
    assert v.status == "pass" and v.evidence["public_network_access"] == access
    st["properties"]["networkAcls"]["defaultAction"] = "Deny"
    assert _verdict(builder).status == "fail"


def test_not_applicable_without_inference_compute(builder: EstateBuilder) -> None:
    vnet = builder.vnet()
    snet = builder.subnet(vnet, "snet-train", "10.0.1.0/24")
    st = builder.storage_account(default_action="Deny")
    ws = builder.workspace(storage=st)
    builder.aml_compute(ws, "cpu-cluster", snet)
    assert _verdict(builder).status == "not_applicable"


def test_error_when_account_unreadable(builder: EstateBuilder) -> None:
    st, _ = _with_aks(builder, "Allow")
    builder.drop(st)
    builder.collection_error(st["id"], status=404, code="ResourceNotFound", message="not found")
    v = _verdict(builder)
    assert v.status == "error" and v.resource_id == st["id"] and "404" in v.message


def test_error_when_default_action_unrecognised(builder: EstateBuilder) -> None:
    st, _ = _with_aks(builder, "Allow")
    st["properties"]["networkAcls"]["defaultAction"] = ""
    assert _verdict(builder).status == "error"


def test_error_when_account_has_no_properties(builder: EstateBuilder) -> None:
    st, _ = _with_aks(builder, "Allow")
    del st["properties"]
    assert _verdict(builder).status == "error"


def test_unlisted_computes_make_applicability_unknown(builder: EstateBuilder) -> None:
    st = builder.storage_account(default_action="Deny")
    ws = builder.workspace(storage=st)
    builder.collection_error(ws["id"] + "/computes", status=403)
    v = _verdict(builder)
    assert v.status == "error" and "could not be listed" in v.message


def test_known_inference_compute_decides_despite_an_unlisted_workspace(builder: EstateBuilder) -> None:
    st, _ = _with_aks(builder, "Deny")
    other = builder.workspace("mlw-other", storage=st)
    builder.collection_error(other["id"] + "/computes", status=403)
    assert _verdict(builder).status == "fail"


def test_shared_account_applies_when_any_workspace_serves_inference(builder: EstateBuilder) -> None:
    st, _ = _with_aks(builder, "Deny")
    builder.workspace("mlw-train-only", storage=st)
    v = _verdict(builder)
    assert v.status == "fail" and len(v.evidence["workspaces"]) == 2
