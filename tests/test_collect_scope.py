"""`--workspace` never passes what the whole estate fails: scoped collection and scoped reporting.

The oracle is the whole estate's offline scan restricted to what the named workspace uses
(`workspace_footprint`, read from the raw JSON). Each case is one where reading only the named
workspace would hide a failure or an unknown: another workspace's cluster in the named one's
subnet, another workspace sharing its key vault, another workspace whose computes cannot be
listed or whose compute is of unknown kind. Both paths: live through the HTTPS stand-in, and
offline from a snapshot that records the scope.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from amlaudit.auditor.check import check
from amlaudit.auditor.cli import main
from amlaudit.auditor.graph import build_estate
from amlaudit.auditor.ids import id_key
from amlaudit.auditor.pipeline import audit_snapshot
from amlaudit.auditor.runner import run_checks
from amlaudit.auditor.scope import WorkspaceScope, footprint, scope_findings
from amlaudit.auditor.snapshot import load_snapshot, parse_snapshot
from tests.standin.fixtures import StartStandIn, arm_standin, standin_ca  # noqa: F401 - fixtures
from tests.test_collect_adversarial import (
    _offline_scan_of,
    assert_only_gets,
    computes_of,
    demo_estate,
    resource,
    restricted_to,
    retry_waits,  # noqa: F401 - fixture: retry waits recorded, not slept
    scan_live,
    scan_offline,
    with_errors,
    workspace_footprint,
)

WORKSPACE = "Microsoft.MachineLearningServices/workspaces"
COMPUTE = "Microsoft.MachineLearningServices/workspaces/computes"
FORECAST = ("rg-retail-ml", "mlw-retail-forecast")


def _workspace(estate: dict[str, Any], name: str) -> dict[str, Any]:
    return resource(estate, name, WORKSPACE)


def _training_subnet(estate: dict[str, Any]) -> str:
    return resource(estate, "vnet-retail-eus", "Microsoft.Network/virtualNetworks")["id"] + "/subnets/snet-training"


def _research_outgrows_the_shared_subnet(estate: dict[str, Any]) -> dict[str, Any]:
    # mlw-retail-research's cluster shares snet-training (a /24) with mlw-retail-forecast's.
    resource(estate, "cpu-research", COMPUTE)["properties"]["properties"]["scaleSettings"]["maxNodeCount"] = 400
    return estate


def _scoped_document(estate: dict[str, Any], *workspaces: str) -> dict[str, Any]:
    return {**copy.deepcopy(estate), "scope": {"subscriptions": [], "workspaces": list(workspaces)}}


def _status(scan_findings: list[tuple[str, str, str, str]], check: str, subject: str) -> str:
    [status] = [f[2] for f in scan_findings if f[0] == check and id_key(f[1]) == id_key(subject)]
    return status


# -- live, through the HTTPS stand-in ---------------------------------------------------------------


def test_another_workspaces_cluster_outgrowing_the_shared_subnet_fails_it(arm_standin: StartStandIn, tmp_path: Path,
                                                                        tmp_path_factory: pytest.TempPathFactory) -> None:
    estate = _research_outgrows_the_shared_subnet(demo_estate())
    whole = scan_offline(estate, tmp_path_factory)
    assert _status(whole.findings, "compute-subnet-capacity", _training_subnet(estate)) == "fail"
    standin = arm_standin(estate)

    live = scan_live(standin, tmp_path, "--workspace", "/".join(FORECAST))

    assert live.findings == restricted_to(whole, workspace_footprint(estate, _workspace(estate, FORECAST[1])["id"]))
    assert _status(live.findings, "compute-subnet-capacity", _training_subnet(estate)) == "fail"
    assert live.status == 1
    # The research cluster is in the snapshot (it counts) but none of its own findings is reported.
    research = resource(estate, "cpu-research", COMPUTE)["id"]
    saved = load_snapshot(next(tmp_path.glob("live-*.snapshot.json")))
    assert id_key(research) in {id_key(r["id"]) for r in saved.resources}
    assert not [f for f in live.findings if id_key(f[1]) == id_key(research)]
    assert_only_gets(standin)


def test_a_403_on_another_workspaces_compute_list_makes_the_capacity_verdict_an_error(
        arm_standin: StartStandIn, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    estate = demo_estate()
    research = _workspace(estate, "mlw-retail-research")
    subnet = _training_subnet(estate)
    assert _status(scan_offline(estate, tmp_path_factory).findings, "compute-subnet-capacity", subnet) == "pass"
    standin = arm_standin(estate)
    standin.fail(re.escape(research["id"]) + "/computes$", 403, code="AuthorizationFailed",
                 message="The client does not have authorization to perform action "
                         "'Microsoft.MachineLearningServices/workspaces/computes/read'.")

    live = scan_live(standin, tmp_path, "--workspace", "/".join(FORECAST))

    # Not a pass: mlw-retail-research may run clusters in snet-training.
    assert _status(live.findings, "compute-subnet-capacity", subnet) == "error"
    message = next(f[3] for f in live.findings if f[0] == "compute-subnet-capacity")
    assert "mlw-retail-research" in message
    assert [(e["scope"], e["status"]) for e in live.errors] == [(research["id"] + "/computes", 403)]
    assert live.status == 1  # forecast's own failures still fail the run
    # The whole estate read with the same 403 judges every subject of the scope alike.
    error = {"scope": research["id"] + "/computes", "operation": "Microsoft.MachineLearningServices/workspaces/computes/read",
             "status": 403, "code": "AuthorizationFailed", "message": "denied"}
    unreadable = with_errors(_without_computes_of(estate, research["id"]), error)
    whole = scan_offline(unreadable, tmp_path_factory)
    footprint_keys = workspace_footprint(estate, _workspace(estate, FORECAST[1])["id"])
    assert [f[:3] for f in live.findings] == [f[:3] for f in restricted_to(whole, footprint_keys)]
    assert_only_gets(standin)


def _without_computes_of(estate: dict[str, Any], workspace_id: str) -> dict[str, Any]:
    gone = {id_key(c["id"]) for c in computes_of(estate, workspace_id)}
    return {**estate, "resources": [r for r in estate["resources"] if id_key(r["id"]) not in gone]}


@pytest.mark.parametrize("first", ["the named workspace", "the workspace sharing its key vault"])
def test_a_workspace_sharing_the_named_ones_key_vault_is_judged_with_it(first: str, arm_standin: StartStandIn,
                                                                       tmp_path: Path,
                                                                       tmp_path_factory: pytest.TempPathFactory) -> None:
    # mlw-fraud-detection (another subscription) uses mlw-retail-forecast's key vault, whose virtual network
    # rules name only the retail subnets: the whole estate fails the vault.
    estate = demo_estate()
    forecast, fraud = _workspace(estate, FORECAST[1]), _workspace(estate, "mlw-fraud-detection")
    vault = forecast["properties"]["keyVault"]
    fraud["properties"]["keyVault"] = vault
    whole = scan_offline(estate, tmp_path_factory)
    assert _status(whole.findings, "keyvault-vnet-rule", vault) == "fail"
    standin = arm_standin(estate)
    # Either workspace list answers well before the other, so each order of discovery is exercised.
    late = fraud if first == "the named workspace" else forecast
    standin.delay("^/subscriptions/" + late["id"].split("/")[2] + "/providers/Microsoft.MachineLearningServices/workspaces$",
                  0.5)

    live = scan_live(standin, tmp_path, "--workspace", "/".join(FORECAST))

    assert _status(live.findings, "keyvault-vnet-rule", vault) == "fail"
    assert "snet-fraud-training" in next(f[3] for f in live.findings if f[0] == "keyvault-vnet-rule")
    assert live.findings == restricted_to(whole, workspace_footprint(estate, forecast["id"]))
    # mlw-fraud-detection was read in full (its computes' subnets are needed) but is not reported.
    assert standin.count("GET", re.escape(fraud["properties"]["storageAccount"]) + "$") == 1
    assert not [f for f in live.findings if "mlw-fraud-detection" in f[1]]
    assert_only_gets(standin)


def test_another_workspaces_compute_of_unknown_kind_leaves_the_capacity_unknown(
        arm_standin: StartStandIn, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    estate = demo_estate()
    fraud = _workspace(estate, "mlw-fraud-detection")
    mystery = resource(estate, "cpu-fraud-train", COMPUTE)
    del mystery["properties"]["computeType"]
    whole = scan_offline(estate, tmp_path_factory)
    subnet = _training_subnet(estate)
    assert _status(whole.findings, "compute-subnet-capacity", subnet) == "error"
    standin = arm_standin(estate)

    live = scan_live(standin, tmp_path, "--workspace", "/".join(FORECAST))

    assert _status(live.findings, "compute-subnet-capacity", subnet) == "error"
    assert live.findings == restricted_to(whole, workspace_footprint(estate, _workspace(estate, FORECAST[1])["id"]))
    saved = {id_key(r["id"]) for r in load_snapshot(next(tmp_path.glob("live-*.snapshot.json"))).resources}
    assert {id_key(fraud["id"]), id_key(mystery["id"])} <= saved
    assert id_key(resource(estate, "cpu-fraud-small", COMPUTE)["id"]) not in saved  # in no subnet of the scope
    assert_only_gets(standin)


# -- offline, from a snapshot that records the scope -------------------------------------------------------


def test_a_scoped_snapshot_reports_what_the_named_workspace_uses(tmp_path: Path,
                                                                 tmp_path_factory: pytest.TempPathFactory) -> None:
    estate = _research_outgrows_the_shared_subnet(demo_estate())
    whole = scan_offline(estate, tmp_path_factory)

    scoped = _offline_scan_of(orjson.dumps(_scoped_document(estate, "RG-RETAIL-ML/mlw-retail-forecast")), tmp_path)

    assert scoped.findings == restricted_to(whole, workspace_footprint(estate, _workspace(estate, FORECAST[1])["id"]))
    assert _status(scoped.findings, "compute-subnet-capacity", _training_subnet(estate)) == "fail"
    # A quota region and a VNet used by the named workspace are reported; another workspace's are not.
    checks = {f[0] for f in scoped.findings}
    assert {"compute-network-quota", "compute-vnet-locks", "storage-vnet-rule", "keyvault-vnet-rule"} <= checks
    assert not [f for f in scoped.findings if "fraud" in f[1] or "marketing" in f[1] or "research" in f[1]]
    assert scoped.status == whole.status == 1


def test_a_snapshot_without_scope_is_reported_whole(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    estate = demo_estate()
    unscoped = _offline_scan_of(orjson.dumps(_scoped_document(estate)), tmp_path)
    assert unscoped.findings == scan_offline(estate, tmp_path_factory).findings


def test_a_scope_naming_two_workspaces_reports_both(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    estate = demo_estate()
    whole = scan_offline(estate, tmp_path_factory)
    names = ["rg-retail-ml/mlw-retail-research", "rg-fraud-ml/mlw-fraud-detection"]
    scoped = _offline_scan_of(orjson.dumps(_scoped_document(estate, *names)), tmp_path)
    both = workspace_footprint(estate, _workspace(estate, "mlw-retail-research")["id"]) | workspace_footprint(
        estate, _workspace(estate, "mlw-fraud-detection")["id"])
    assert scoped.findings == restricted_to(whole, both)
    assert not [f for f in scoped.findings if "forecast" in f[1] or "marketing" in f[1]]


@pytest.mark.parametrize("scope", [{"workspaces": ["mlw-retail-forecast"]}, {"workspaces": "rg/ws"},
                                   {"workspaces": ["rg/ws/extra"]}, ["rg/ws"]])
def test_an_unreadable_scope_is_bad_input(scope: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = tmp_path / "scoped.json"
    snapshot.write_bytes(orjson.dumps({**demo_estate(), "scope": scope}))
    out = tmp_path / "out"
    assert main(["scan", "--snapshot", str(snapshot), "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "scope" in err[0]
    assert not out.exists()


# -- the reporting step on its own ------------------------------------------------------------------------


def test_the_footprint_holds_the_shared_subjects_of_the_named_workspace() -> None:
    estate = build_estate(parse_snapshot(demo_estate(), "demo"))
    inside = footprint(estate, WorkspaceScope(["rg-retail-ml/MLW-RETAIL-FORECAST"]))
    forecast = _workspace(demo_estate(), FORECAST[1])
    vnet = resource(demo_estate(), "vnet-retail-eus", "Microsoft.Network/virtualNetworks")
    assert {id_key(forecast["id"]), id_key(forecast["id"] + "/computes"), id_key(forecast["properties"]["keyVault"]),
            id_key(_training_subnet(demo_estate())), id_key(vnet["id"]),
            id_key(f"/subscriptions/{vnet['id'].split('/')[2]}/providers/Microsoft.Network/locations/{vnet['location']}")} <= inside
    research = _workspace(demo_estate(), "mlw-retail-research")
    assert id_key(research["id"]) not in inside and id_key(research["properties"]["storageAccount"]) not in inside


@check(id="crashing", title="t", severity="low", subject="s", applies="a", passes="p", source="src", rationale="r",
       remediation="fix")
def _crashing(estate: Any, settings: Any) -> Any:
    yield from ()
    raise RuntimeError("boom")


def test_a_crashed_check_and_compute_list_gaps_are_always_reported() -> None:
    estate_document = demo_estate()
    research = _workspace(estate_document, "mlw-retail-research")
    unlisted = with_errors(_without_computes_of(estate_document, research["id"]), {
        "scope": research["id"] + "/computes", "operation": "Microsoft.MachineLearningServices/workspaces/computes/read",
        "status": 403, "code": "AuthorizationFailed", "message": "denied"})
    estate = build_estate(parse_snapshot(_scoped_document(unlisted, "/".join(FORECAST)), "scoped demo"))

    result = scope_findings(run_checks(estate, [_crashing]), estate)

    assert [(f.check_id, f.status, f.resource_id) for f in result.findings] == [("crashing", "error", "")]
    # research's compute list is outside the footprint, but unknown computes bear on every subnet.
    assert [g["id"] for g in result.coverage_gaps if g["kind"] == "compute list"] == [research["id"] + "/computes"]
    assert research["id"] + "/computes" in [e["scope"] for e in result.errors]  # collection errors are all kept


def test_scope_names_must_be_resource_group_and_name() -> None:
    assert WorkspaceScope(["rg/ws"]).match("/subscriptions/s/resourceGroups/RG/providers/Microsoft.MachineLearningServices"
                                           "/workspaces/WS") == ("rg", "ws")
    assert not WorkspaceScope()
    assert WorkspaceScope().keeps("/subscriptions/s/resourceGroups/rg/providers/x/workspaces/any")
    for bad in ("ws", "rg/", "/ws", "rg/ws/more"):
        with pytest.raises(ValueError, match="RESOURCE_GROUP/NAME"):
            WorkspaceScope([bad])


def test_the_pipeline_scopes_like_the_command_line() -> None:
    estate = _research_outgrows_the_shared_subnet(demo_estate())
    scoped = audit_snapshot(parse_snapshot(_scoped_document(estate, "/".join(FORECAST)), "scoped"))
    whole = audit_snapshot(parse_snapshot(estate, "whole"))
    inside = workspace_footprint(estate, _workspace(estate, FORECAST[1])["id"])
    assert [(f.check_id, f.resource_id, f.status) for f in scoped.findings] == [
        (f.check_id, f.resource_id, f.status) for f in whole.findings if id_key(f.resource_id) in inside]
    assert json.dumps(scoped.to_document()["coverage_gaps"])  # serialisable, and smaller than the whole's
    assert len(scoped.coverage_gaps) <= len(whole.coverage_gaps)
