"""Attached HDInsight computes: the cluster behind one is read by id, and the network its roles' subnet needs.

The graph finds an HDInsight compute's subnet in its cluster (`computeProfile.roles[].virtualNetworkProfile.subnet`),
so a live scan must collect the cluster, and then that subnet's VNet, NSG and route table, and the usages,
service tags and locks of that VNet, exactly as for a VM's NIC. The oracle is the offline audit of the
estate itself (or of the estate as a collection denied the cluster must see it).
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from amlaudit.auditor.collect import CollectOptions, collect
from amlaudit.auditor.findings import AuditResult
from amlaudit.auditor.ids import id_key
from amlaudit.auditor.pipeline import audit_snapshot
from amlaudit.auditor.snapshot import parse_snapshot
from tests.standin import StandIn
from tests.standin.fixtures import StartStandIn, arm_standin, standin_ca  # noqa: F401 - fixtures
from tests.standin.sample_estate import SUB_B, SampleEstate, sample_estate_with_hdinsight

FAST = {"max_retries": 2, "retry_backoff": 0.0}
HDINSIGHT_READ = "Microsoft.HDInsight/clusters/read"


@pytest.fixture
def estate() -> SampleEstate:
    return sample_estate_with_hdinsight()


def _collect(standin: StandIn, **options: Any) -> dict[str, Any]:
    return collect(CollectOptions(arm_endpoint=standin.url, **{**FAST, **options}))


def _by_id(snapshot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["id"].lower(): r for r in snapshot["resources"]}


def _audit(document: dict[str, Any]) -> AuditResult:
    # Messages name their subjects in snapshot order; a collection writes resources sorted by id.
    ordered = {**document, "resources": sorted(document["resources"], key=lambda r: id_key(r["id"]))}
    return audit_snapshot(parse_snapshot(ordered, "estate"))


def _findings(result: AuditResult) -> dict[tuple[str, str], tuple[str, str]]:
    return {(f.check_id, id_key(f.resource_id)): (f.status, f.message) for f in result.findings}


def _comparable(result: AuditResult) -> dict[str, Any]:
    return {"findings": _findings(result), "gaps": result.coverage_gaps, "summary": result.summary,
            "errors": sorted(result.errors, key=lambda e: (e["scope"].lower(), e.get("operation") or ""))}


def test_the_cluster_and_the_network_of_its_subnet_are_collected(arm_standin: StartStandIn,
                                                                 estate: SampleEstate) -> None:
    standin = arm_standin(estate.document)
    snapshot = _collect(standin)

    assert snapshot["errors"] == [] and snapshot["redacted"] == []
    collected = _by_id(snapshot)
    # Subscription B's network is needed now (the cluster's subnet lives there), so its lists were read:
    # everything in the estate is collected, vnet-b included, and every body as served.
    assert collected == {r["id"].lower(): r for r in estate.document["resources"]}
    # The cluster was read by id, once, at its pinned api-version, and nothing else of its type was asked.
    cluster_reads = [r for r in standin.requests if "microsoft.hdinsight" in r.path.lower()]
    assert [(r.path, r.query["api-version"]) for r in cluster_reads] == [(estate.ids["hdi_cluster"], ["2021-06-01"])]
    # The VNet's region and subscription bring their usages, service tags and locks.
    assert {(u["subscription_id"], u["location"]) for u in snapshot["usages"]} >= {(SUB_B, "westus")}
    assert "westus" in {t["location"] for t in snapshot["service_tags"]}
    assert "hdi-vnet-keep" in {lock["name"] for lock in snapshot["locks"]}
    assert {r.method for r in standin.requests} == {"GET"}


def test_live_scan_of_an_hdinsight_compute_audits_like_the_estate(arm_standin: StartStandIn,
                                                                  estate: SampleEstate) -> None:
    expected = _audit(estate.document)
    # The comparison must be about something: the compute is judged on its cluster's subnet NSG.
    assert _findings(expected)[("attached-compute-ssh", id_key(estate.ids["spark"]))][0] == "pass"
    standin = arm_standin(estate.document, page_size=1)

    collected = _collect(standin)

    assert _comparable(_audit(collected)) == _comparable(expected)


@pytest.mark.parametrize("page_size", [None, 1])
def test_denied_cluster_errors_the_computes_checks_and_nothing_else(arm_standin: StartStandIn, estate: SampleEstate,
                                                                     page_size: int | None) -> None:
    cluster_id = estate.ids["hdi_cluster"]
    message = (f"The client does not have authorization to perform action '{HDINSIGHT_READ}' over scope '{cluster_id}'.")
    standin = arm_standin(estate.document, page_size=page_size)
    standin.fail(f"^{re.escape(cluster_id)}$", 403, code="AuthorizationFailed", message=message)

    collected = _collect(standin)

    denied = {"scope": cluster_id, "operation": HDINSIGHT_READ, "status": 403, "code": "AuthorizationFailed",
              "message": message}
    assert collected["errors"] == [denied]
    assert standin.count("GET", re.escape(cluster_id) + "$") == 1  # a 403 is not retried
    # Nothing behind the cluster could be found: subscription B's network was never listed.
    assert standin.count("GET", f"^/subscriptions/{SUB_B}/providers/Microsoft.Network") == 0
    # Audited exactly as the estate without the cluster, plus the error that says why it is missing.
    as_denied = copy.deepcopy(estate.document)
    as_denied["resources"] = [r for r in as_denied["resources"] if id_key(r["id"]) != id_key(cluster_id)]
    as_denied["errors"] = [denied]
    live = _audit(collected)
    assert _comparable(live) == _comparable(_audit(as_denied))
    # Against the full estate: only the HDInsight compute's findings change, and they become errors.
    before, after = _findings(_audit(estate.document)), _findings(live)
    spark = id_key(estate.ids["spark"])
    changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    assert changed == {key for key in before if key[1] == spark} != set()
    assert {after[key][0] for key in changed} == {"error"}


def test_secrets_an_hdinsight_get_might_echo_are_dropped_and_reported(arm_standin: StartStandIn,
                                                                      estate: SampleEstate) -> None:
    cluster = estate.resource("hdi_cluster")
    cluster["properties"]["computeProfile"]["roles"][1]["osProfile"]["linuxOperatingSystemProfile"]["password"] = "hunter2"
    cluster["properties"]["clusterDefinition"]["configurations"] = {
        "gateway": {"restAuthCredential.isEnabled": True, "restAuthCredential.username": "admin",
                    "restAuthCredential.password": "hunter2"}}
    standin = arm_standin(estate.document)

    snapshot = _collect(standin)

    kept = _by_id(snapshot)[estate.ids["hdi_cluster"].lower()]
    roles = kept["properties"]["computeProfile"]["roles"]
    assert [role["osProfile"]["linuxOperatingSystemProfile"] for role in roles] == [{"username": "sshuser"}] * 3
    assert "configurations" not in kept["properties"]["clusterDefinition"]
    assert kept["properties"]["clusterDefinition"]["kind"] == "SPARK"  # the rest is kept as served
    assert snapshot["redacted"] == [
        {"id": estate.ids["hdi_cluster"], "path": "properties.clusterDefinition.configurations"},
        {"id": estate.ids["hdi_cluster"],
         "path": "properties.computeProfile.roles[1].osProfile.linuxOperatingSystemProfile.password"},
    ]
    assert "hunter2" not in repr(snapshot)
