"""The nine compute/AKS checks over one mixed estate: one JSON-serializable verdict per subject."""

import json
from collections import Counter

from amlaudit.auditor.runner import run_checks
from amlaudit.checks import CHECKS
from tests.aks_helpers import aks_in_vnet, real_kubenet_cluster
from tests.estates import NET_RG, SUB, EstateBuilder

IDS = ("compute-vnet-location", "compute-subnet-capacity", "compute-network-quota", "compute-vnet-locks",
       "attached-compute-ubuntu", "aks-vnet-location", "aks-service-cidr", "aks-dns-service-ip", "aks-docker-bridge")


def _mixed_estate(b: EstateBuilder) -> None:
    aks = aks_in_vnet(b, service_cidr="10.0.0.0/16", dns_service_ip="10.0.0.1")
    train = aks.vnet["properties"]["subnets"][0]
    ws = b.workspace("mlw-train")
    b.aml_compute(ws, "cpu", train, max_nodes=300)
    b.aml_compute(ws, "gpu", train["id"].lower(), max_nodes=2)
    b.aml_compute(ws, "placeholder", "test-subnet-resource-id")
    b.aml_compute(ws, "novnet", None)
    vm = b.vm("vm1", b.nic("nic-vm1", train, "10.0.1.4"))
    b.vm_compute(ws, "vm1", vm)
    real_kubenet_cluster(b)
    b.network_usages(public_ips=(1000, 1000))
    b.lock(f"/subscriptions/{SUB}/resourceGroups/{NET_RG}")
    unlisted = b.workspace("mlw-unlisted")
    b.collection_error(unlisted["id"] + "/computes", status=403)


def test_one_json_serializable_finding_per_subject(builder: EstateBuilder) -> None:
    _mixed_estate(builder)
    checks = [c for c in CHECKS if c.id in IDS]
    assert [c.id for c in checks] == list(IDS)  # catalog order
    result = run_checks(builder.estate(), checks)
    json.dumps([f.to_dict() for f in result.findings])
    per_pair = Counter((f.check_id, f.resource_id.lower()) for f in result.findings)
    assert max(per_pair.values()) == 1
    crashed = [f for f in result.findings if "crashed" in f.message]
    assert crashed == []
    statuses = {(f.check_id, f.resource_id.rsplit("/", 1)[-1]): f.status for f in result.findings}
    assert statuses[("compute-subnet-capacity", "snet-train")] == "fail"
    assert statuses[("compute-network-quota", "eastus")] == "fail"
    assert statuses[("compute-vnet-locks", "vnet-ml")] == "fail"
    assert statuses[("aks-service-cidr", "aks-inference")] == "fail"
    assert statuses[("aks-dns-service-ip", "aks-inference")] == "fail"
    assert statuses[("aks-dns-service-ip", "aks-kubenet")] == "pass"
    assert statuses[("attached-compute-ubuntu", "vm1")] == "pass"
    assert statuses[("compute-vnet-location", "novnet")] == "not_applicable"
    assert all(statuses[(check_id, "computes")] == "error" for check_id in IDS)
