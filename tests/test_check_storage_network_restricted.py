"""storage-network-restricted: an account serving only experimentation denies unknown networks."""

from __future__ import annotations

from typing import Any

import pytest

from amlaudit.auditor.check import Verdict
from amlaudit.checks.storage import storage_network_restricted
from tests.estates import EstateBuilder


def _verdict(b: EstateBuilder) -> Verdict:
    verdicts = storage_network_restricted(b.estate())
    assert len(verdicts) == 1, verdicts
    return verdicts[0]


def _experimenting(b: EstateBuilder, default_action: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    vnet = b.vnet()
    snet = b.subnet(vnet, "snet-train", ["10.0.1.0/24"], service_endpoints=("Microsoft.Storage",))
    st = b.storage_account(default_action=default_action, subnets=[snet])
    ws = b.workspace(storage=st)
    b.aml_compute(ws, "cpu-cluster", snet)
    return st, ws


def test_pass_when_default_action_deny(builder: EstateBuilder) -> None:
    st, ws = _experimenting(builder, "Deny")
    v = _verdict(builder)
    assert v.status == "pass" and v.resource_id == st["id"]
    assert v.evidence["experimentation_computes"] == [f"{ws['id']}/computes/cpu-cluster"]


def test_fail_when_default_action_allow(builder: EstateBuilder) -> None:
    st, _ = _experimenting(builder, "Allow")
    v = _verdict(builder)
    assert v.status == "fail" and v.resource_id == st["id"]
    assert v.evidence["default_action"] == "Allow" and "1 experimentation compute" in v.message


def test_error_when_network_acls_absent(builder: EstateBuilder) -> None:
    # A storage GET always carries networkAcls: without it the firewall was not collected.
    _experimenting(builder, None)
    v = _verdict(builder)
    assert v.status == "error" and "networkAcls" in v.message


@pytest.mark.parametrize("access", ["Disabled", "SecuredByPerimeter", "Enabled"])
def test_public_network_access_does_not_change_the_verdict(builder: EstateBuilder, access: str) -> None:
    """Disabled + Allow still fails: the row keys on defaultAction alone."""
    st, _ = _experimenting(builder, "Allow")
    st["properties"]["publicNetworkAccess"] = access
    v = _verdict(builder)
    assert v.status == "fail" and v.evidence["public_network_access"] == access
    st["properties"]["networkAcls"]["defaultAction"] = "Deny"
    assert _verdict(builder).status == "pass"


def test_not_applicable_when_inference_compute_uses_the_account(builder: EstateBuilder) -> None:
    st, ws = _experimenting(builder, "Allow")
    cluster = builder.managed_cluster("aks-score", None)
    builder.aks_compute(ws, "aks-inference", cluster)
    v = _verdict(builder)
    assert v.status == "not_applicable" and "aks-inference" in v.message


def test_not_applicable_without_experimentation_compute(builder: EstateBuilder) -> None:
    st = builder.storage_account(default_action="Allow")
    ws = builder.workspace(storage=st)
    builder.aml_compute(ws, "no-vnet-cluster", None)
    assert _verdict(builder).status == "not_applicable"


def test_error_when_account_unreadable(builder: EstateBuilder) -> None:
    st, _ = _experimenting(builder, "Deny")
    builder.drop(st)
    builder.collection_error(st["id"], status=403)
    v = _verdict(builder)
    assert v.status == "error" and "403" in v.message


def test_error_when_default_action_unrecognised(builder: EstateBuilder) -> None:
    st, _ = _experimenting(builder, "Deny")
    st["properties"]["networkAcls"]["defaultAction"] = 0
    assert _verdict(builder).status == "error"


def test_unlisted_workspace_may_hold_inference_compute(builder: EstateBuilder) -> None:
    st, _ = _experimenting(builder, "Allow")
    other = builder.workspace("mlw-other", storage=st)
    builder.collection_error(other["id"] + "/computes", status=500, code="InternalServerError")
    v = _verdict(builder)
    assert v.status == "error" and "mlw-other" in v.message


def test_hdinsight_compute_not_collected_counts_as_experimentation(builder: EstateBuilder) -> None:
    st = builder.storage_account(default_action="Allow")
    ws = builder.workspace(storage=st)
    builder._compute(ws, "hdi", "HDInsight", {"address": "10.0.5.4", "sshPort": 22},
                     resource_id="/subscriptions/x/resourceGroups/rg/providers/Microsoft.HDInsight/clusters/hdi")
    assert _verdict(builder).status == "fail"
