"""Shared pieces of the flow-check tests: real tag prefixes and small estates around a compute.

Every estate carries the real service-tag download (`EstateBuilder.real_service_tags()`),
so rules and expectations name the prefixes Azure really publishes.
"""

from __future__ import annotations

import gzip
import ipaddress
import json
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from amlaudit.auditor.check import Check, Verdict
from tests.estates import SERVICE_TAGS_FULL_GZ, SERVICE_TAGS_SUBSET, EstateBuilder, rid, security_rule


@cache
def _tag_prefixes(name: str) -> tuple[str, ...]:
    values = {v["name"]: v for v in json.loads(SERVICE_TAGS_SUBSET.read_text())["values"]}
    return tuple(values[name]["properties"]["addressPrefixes"])


def tag_prefixes(name: str, family: int | None = 4) -> list[str]:
    """The prefixes of one entry of the real download, of one family (None: both)."""
    return [p for p in _tag_prefixes(name) if family is None or ipaddress.ip_network(p).version == family]


@cache
def _full_download() -> dict[str, Any]:
    with gzip.open(SERVICE_TAGS_FULL_GZ, "rt", encoding="utf-8") as handle:
        loaded: dict[str, Any] = json.load(handle)
    return loaded


def full_download_subset(*names: str) -> dict[str, Any]:
    """A service-tags body holding exactly the named entries of the full real download (a fresh copy)."""
    full = _full_download()
    values = [json.loads(json.dumps(v)) for v in full["values"] if v["name"] in names]
    assert sorted(v["name"] for v in values) == sorted(names), names
    return {"changeNumber": full["changeNumber"], "cloud": full["cloud"], "values": values}


def rule(name: str, priority: int, direction: str, access: str, protocol: str = "*", source: str | list[str] = "*",
         destination: str | list[str] = "*", ports: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    """`tests.estates.security_rule` with keyword extras merged into `properties`
    (e.g. destinationApplicationSecurityGroups)."""
    made = security_rule(name, priority, direction, access, protocol, source, destination, ports)
    made["properties"].update(extra)
    return made


def asg(name: str) -> dict[str, str]:
    return {"id": rid("Microsoft.Network/applicationSecurityGroups", name)}


def allow_batch(priority: int = 100, source: str | list[str] = "BatchNodeManagement.EastUS",
                ports: str | list[str] = "29876-29877") -> dict[str, Any]:
    return rule("AllowBatchNodeManagement", priority, "Inbound", "Allow", "Tcp", source, "*", ports)


def deny_internet_inbound(priority: int = 4000) -> dict[str, Any]:
    return rule("DenyInternetInbound", priority, "Inbound", "Deny", "*", "Internet", "*", "*")


class Cluster:
    """A workspace with one AmlCompute cluster in `snet-train` of `vnet-ml`."""

    def __init__(self, builder: EstateBuilder, rules: Sequence[dict[str, Any]] | None = (),
                 prefix: str | list[str] = "10.0.1.0/24", vnet_prefixes: list[str] | None = None,
                 location: str = "eastus", routes: list[tuple[str, str, str]] | None = None,
                 tags: bool = True, **compute: Any) -> None:
        """`rules`: the subnet NSG's custom rules (None: no NSG); `routes`: a route table's
        (name, addressPrefix, nextHopType) routes (None: no route table)."""
        self.builder = builder
        self.vnet = builder.vnet(prefixes=vnet_prefixes or ["10.0.0.0/16"], location=location)
        self.nsg = builder.nsg("nsg-train", rules=list(rules)) if rules is not None else None
        self.route_table = builder.route_table("rt-train", routes=routes) if routes is not None else None
        self.subnet = builder.subnet(self.vnet, "snet-train", prefix, nsg=self.nsg, route_table=self.route_table)
        self.workspace = builder.workspace(location=location)
        self.compute = builder.aml_compute(self.workspace, "cpu", self.subnet, location=location, **compute)
        if tags:
            builder.real_service_tags(location)


def verdict_of(check: Check, builder: EstateBuilder, compute: dict[str, Any]) -> Verdict:
    """The one verdict `check` reaches on `compute`."""
    found = [v for v in check(builder.estate()) if v.resource_id == compute["id"]]
    assert len(found) == 1, found
    return found[0]


def verdicts_by_id(check: Check, builder: EstateBuilder) -> dict[str, Verdict]:
    return {v.resource_id: v for v in check(builder.estate())}


def deciders(verdict: Verdict, key: str = "flow") -> list[str]:
    """The rule names that decided the flow, from compact or detailed evidence."""
    if "decided_by" in verdict.evidence:  # compact evidence of a pass
        return [words.split(": ", 1)[1].split(" (priority")[0] for words in verdict.evidence["decided_by"]]
    flow = verdict.evidence[key]

    def rule_of(words: str) -> str:  # "subnet NSG nsg-x: AllowBatch (priority 100, Allow)" or "subnet: (no subnet NSG)"
        return words.split(": ", 1)[1].split(" (priority")[0]

    if "parts" not in flow:  # lean, for flows from the public clients: allowed parts, then the denying rules
        return [rule_of(words) for entry in flow["allowed_parts"] + flow["denied_by"] for words in entry["deciders"]]
    return [d["rule"] for part in flow["parts"] for d in part["deciders"]]


def denied_parts(verdict: Verdict, key: str = "flow") -> list[dict[str, Any]]:
    return [p for p in verdict.evidence[key]["parts"] if p["access"] == "Deny"]


def split_prefix(prefix: str) -> tuple[str, str]:
    """The two halves of a CIDR."""
    first, second = ipaddress.ip_network(prefix).subnets(prefixlen_diff=1)
    return str(first), str(second)


def with_first_half_of(prefixes: Iterable[str], victim: str) -> list[str]:
    """`prefixes` with `victim` replaced by its first half."""
    return [split_prefix(p)[0] if p == victim else p for p in prefixes]


def add_hdinsight(builder: EstateBuilder, workspace: dict[str, Any], name: str, subnet: dict[str, Any] | None,
                  address: str = "10.0.2.4") -> dict[str, Any]:
    """An HDInsight cluster (roles in `subnet`, or in none) attached as a workspace compute."""
    cluster_id = rid("Microsoft.HDInsight/clusters", f"hdi-{name}")
    roles = [{"name": role, "targetInstanceCount": 2,
              **({"virtualNetworkProfile": {"id": subnet["id"].split("/subnets/")[0], "subnet": subnet["id"]}}
                 if subnet is not None else {})}
             for role in ("headnode", "workernode")]
    builder.resources.append({"id": cluster_id, "name": f"hdi-{name}", "type": "Microsoft.HDInsight/clusters",
                              "location": builder.location,
                              "properties": {"clusterVersion": "5.1", "computeProfile": {"roles": roles}}})
    compute = {"id": f"{workspace['id']}/computes/{name}", "name": name,
               "type": "Microsoft.MachineLearningServices/workspaces/computes", "location": workspace["location"],
               "properties": {"computeType": "HDInsight", "provisioningState": "Succeeded", "resourceId": cluster_id,
                              "isAttachedCompute": True, "properties": {"sshPort": 22, "address": address}}}
    builder.resources.append(compute)
    return compute


class AksCluster:
    """A workspace with an AKS compute whose agent pool sits in `snet-aks` (10.0.4.0/22).

    `created`: the compute carries `aksNetworkingConfiguration` (a cluster Azure Machine
    Learning created); else its networking comes from the managed cluster (an attached one).
    """

    def __init__(self, builder: EstateBuilder, rules: Sequence[dict[str, Any]] | None = (),
                 ssl_status: str = "Enabled", created: bool = True, location: str = "eastus",
                 tags: bool = True) -> None:
        self.builder = builder
        self.vnet = builder.vnet(location=location)
        self.nsg = builder.nsg("nsg-aks", rules=list(rules)) if rules is not None else None
        self.subnet = builder.subnet(self.vnet, "snet-aks", "10.0.4.0/22", nsg=self.nsg)
        self.cluster = builder.managed_cluster("aks-ml", self.subnet, location=location)
        networking = ({"subnetId": self.subnet["id"], "serviceCidr": "10.2.0.0/16", "dnsServiceIP": "10.2.0.10"}
                      if created else None)
        self.compute = builder.aks_compute(builder.workspace(location=location), "aks-score", self.cluster,
                                           networking=networking, ssl_status=ssl_status)
        if tags:
            builder.real_service_tags(location)
