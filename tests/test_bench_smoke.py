"""The benchmark's estate generator makes a valid, realistic snapshot that scans without a crash;
the garbage-collector settings the benchmark led to leave the process as they found it.

Speed is measured in benchmarks/bench_scan.py, never asserted here.
"""

from __future__ import annotations

import gc
import ipaddress
from pathlib import Path
from typing import Any

import orjson
import pytest
from netaddr import IPSet

from amlaudit.auditor.cli import main as amlaudit
from amlaudit.auditor.graph import build_estate
from amlaudit.auditor.graph.model import Gap, NetworkSecurityGroup
from amlaudit.auditor.pipeline import audit_snapshot
from amlaudit.auditor.runner import cyclic_gc_paused
from amlaudit.auditor.snapshot import parse_snapshot
from benchmarks.estate_gen import REGIONS, SUBSCRIPTION_COUNT, generate, load_service_tags, vnet_spaces

N = 2
# Address tokens that are not service-tag names (the rest must name an entry of the tag data).
_BUILT_IN_TOKENS = {"*", "Any", "VirtualNetwork", "Internet", "AzureLoadBalancer"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return generate(N, seed=7)


def _by_type(document: dict[str, Any], arm_type: str) -> list[dict[str, Any]]:
    return [r for r in document["resources"] if r["type"].lower() == arm_type.lower()]


def test_same_seed_same_estate_other_seed_other_estate(document: dict[str, Any]) -> None:
    assert orjson.dumps(generate(N, seed=7)) == orjson.dumps(document)
    assert orjson.dumps(generate(N, seed=8)) != orjson.dumps(document)


def test_each_workspace_has_the_benchmark_shape(document: dict[str, Any]) -> None:
    parse_snapshot(document, "generated")  # the envelope and every resource header validate
    assert len(_by_type(document, "Microsoft.MachineLearningServices/workspaces")) == N
    computes = _by_type(document, "Microsoft.MachineLearningServices/workspaces/computes")
    assert sorted(c["properties"]["computeType"] for c in computes) == ["AKS", "AKS", "AmlCompute", "AmlCompute", "VirtualMachine", "VirtualMachine"]
    for arm_type in ("Microsoft.Network/virtualNetworks", "Microsoft.Network/routeTables", "Microsoft.Storage/storageAccounts",
                     "Microsoft.KeyVault/vaults", "Microsoft.Compute/virtualMachines", "Microsoft.Network/networkInterfaces",
                     "Microsoft.ContainerService/managedClusters"):
        assert len(_by_type(document, arm_type)) == N, arm_type
    for vnet in _by_type(document, "Microsoft.Network/virtualNetworks"):
        assert [s["name"] for s in vnet["properties"]["subnets"]] == ["snet-aml", "snet-aks", "snet-vm", "snet-pe"]
    compute_nsgs = [n for n in _by_type(document, "Microsoft.Network/networkSecurityGroups") if len(n["properties"]["subnets"]) == 3]
    assert len(compute_nsgs) == N
    assert all(len(n["properties"]["securityRules"]) >= 120 for n in compute_nsgs)
    # usages for every (subscription, region); the full weekly tag file once per region
    assert {(u["subscription_id"], u["location"]) for u in document["usages"]} == {
        (s["subscriptionId"], region) for s in document["subscriptions"] for region in REGIONS}
    assert len(document["subscriptions"]) == SUBSCRIPTION_COUNT
    assert [t["location"] for t in document["service_tags"]] == list(REGIONS)
    assert all(len(t["body"]["values"]) == 3041 for t in document["service_tags"])


def test_nsg_rules_are_valid_arm_rules(document: dict[str, Any]) -> None:
    tag_names = {v["name"] for v in load_service_tags().document["values"]}
    for nsg in _by_type(document, "Microsoft.Network/networkSecurityGroups"):
        priorities: dict[str, set[int]] = {"Inbound": set(), "Outbound": set()}
        for rule in nsg["properties"]["securityRules"]:
            props = rule["properties"]
            assert 100 <= props["priority"] <= 4096
            assert props["priority"] not in priorities[props["direction"]], f"duplicate priority in {rule['name']}"
            priorities[props["direction"]].add(props["priority"])
            for singular in ("sourceAddressPrefix", "destinationAddressPrefix", "sourcePortRange", "destinationPortRange"):
                plural = singular[:-6] + "Prefixes" if singular.endswith("Prefix") else singular + "s"
                assert (singular in props) != bool(props[plural]), f"{rule['name']}: exactly one of {singular}/{plural}"
                for token in [props[singular]] if singular in props else props[plural]:
                    if singular.endswith("Prefix") and token not in _BUILT_IN_TOKENS:
                        try:
                            ipaddress.ip_network(token)
                        except ValueError:
                            assert token in tag_names, f"{rule['name']} names unknown tag {token!r}"


def test_vnet_spaces_are_distinct_and_clear_of_azure_prefixes() -> None:
    tags = load_service_tags()
    spaces = vnet_spaces(1200, tags)
    assert len(set(spaces)) == 1200 and all(s.prefixlen == 16 for s in spaces)
    # Checked with netaddr, independently of the generator's own interval search.
    azure = IPSet(p for v in tags.document["values"] for p in v["properties"]["addressPrefixes"] if ":" not in p)
    assert not (azure & IPSet(str(s) for s in spaces))


def test_graph_resolves_every_relation(document: dict[str, Any]) -> None:
    estate = build_estate(parse_snapshot(document, "generated"))
    assert estate.gaps == []
    for ws in estate.workspaces:
        assert not isinstance(ws.storage_account, Gap) and not isinstance(ws.key_vault, Gap)
        assert {c.kind for c in ws.computes} == {"AmlCompute", "VirtualMachine", "AKS"}
        for compute in ws.computes:
            assert compute.subnet is not None and not isinstance(compute.subnet, Gap), compute.id
            assert isinstance(compute.subnet.nsg, NetworkSecurityGroup)


def test_every_registered_check_runs_without_crashing(document: dict[str, Any]) -> None:
    result = audit_snapshot(parse_snapshot(document, "generated"))
    assert result.findings
    crashed = [f for f in result.findings if "exception" in f.evidence]
    assert crashed == [], [(f.check_id, f.message) for f in crashed]


def test_amlaudit_scan_writes_the_reports(document: dict[str, Any], tmp_path: Path) -> None:
    snapshot = tmp_path / "estate.json.gz"
    from amlaudit.auditor.snapshot import write_snapshot

    write_snapshot(document, snapshot)
    out = tmp_path / "out"
    status = amlaudit(["scan", "--snapshot", str(snapshot), "--out", str(out), "--quiet"])
    assert status in (0, 1, 3)
    assert gc.isenabled()  # the scan pauses the cyclic collector for the audit only
    findings = orjson.loads((out / "findings.json").read_bytes())
    assert findings["format"] == "amlaudit.findings/v1" and findings["findings"]
    assert (out / "report.html").stat().st_size > 0


def test_collector_is_paused_for_the_audit_and_restored_even_on_error() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), cyclic_gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("a check pack blew up")
    assert gc.isenabled()
    gc.disable()
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()


def test_large_snapshot_decodes_the_same_with_the_collector_left_on() -> None:
    """Large documents are decoded with the cyclic collector paused and then frozen (a benchmark fix)."""
    from amlaudit.auditor.snapshot import _FREEZE_FROM_BYTES, read_snapshot_bytes

    filler = [{"id": f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n{i}",
               "type": "Microsoft.Network/networkSecurityGroups", "properties": {"description": "d" * 2000, "n": i}}
              for i in range(_FREEZE_FROM_BYTES // 2000)]
    data = orjson.dumps({"format": "amlaudit.snapshot/v1", "resources": filler})
    assert len(data) >= _FREEZE_FROM_BYTES
    frozen_before = gc.get_freeze_count()
    try:
        snapshot = read_snapshot_bytes(data, "large")
        assert gc.isenabled()
        assert gc.get_freeze_count() > frozen_before
        assert snapshot.resources == filler
    finally:
        gc.unfreeze()  # give the test process its collector back in full
