"""Micro-benchmark of the network-policy engine (auditor/netpolicy).

    python -m benchmarks.bench_netpolicy                 # 200-rule NSG + 100-workspace estate
    python -m benchmarks.bench_netpolicy --workspaces 1000

1. One 200-rule NSG (service tags from the full 2025-11-09 file, partner
   CIDRs, port ranges and lists, plural fields, deny rules carving holes in
   the Batch ranges) and the required-flow question "is inbound TCP
   29876-29877 from every IPv4 prefix of global BatchNodeManagement to a /24
   allowed?": compile time and milliseconds per decision (median).
2. A scan-shaped run on an estate from benchmarks/estate_gen.py (enterprise
   NSGs of 120-126 rules): for every subnet with an NSG, the eight flow
   questions the compute checks ask, three times (three computes). Compile
   and decide time are printed beside json.load of the same snapshot file,
   the tracker's yardstick ("the whole scan <= 5x json.load").

Prints numbers only; nothing here asserts timings (the machine may be shared:
CPU time is printed beside wall time).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from amlaudit.auditor.netpolicy import (
    AddressSet,
    FlowClass,
    NsgCompiler,
    Question,
    ServiceTagIndex,
    compile_nsg,
    evaluate,
    evaluate_path,
)

REPO = Path(__file__).resolve().parent.parent
SERVICE_TAGS = REPO / "tests" / "data" / "azure-samples" / "service-tags" / "ServiceTags_Public_20251109.json.gz"
OUT_DIR = Path(__file__).resolve().parent / "out"


def _load_tags() -> ServiceTagIndex:
    import gzip

    with gzip.open(SERVICE_TAGS, "rt", encoding="utf-8") as handle:
        return ServiceTagIndex([json.load(handle)])


# --- 1. one 200-rule NSG ------------------------------------------------------------------


def two_hundred_rule_nsg(rng: random.Random, batch_prefixes: list[str]) -> dict[str, Any]:
    """Inbound and outbound rules of the kinds enterprise NSGs carry, 200 in all."""
    tags = ["AzureMachineLearning", "AzureMonitor", "Storage.EastUS", "AzureCloud.eastus", "AzureActiveDirectory",
            "Sql.EastUS", "AzureKeyVault.EastUS", "VirtualNetwork", "Internet", "AzureLoadBalancer"]
    rules: list[dict[str, Any]] = []

    def add(direction: str, access: str, protocol: str, src: Any, dst: Any, ports: Any) -> None:
        properties: dict[str, Any] = {"protocol": protocol, "access": access, "direction": direction,
                                      "priority": 100 + 10 * len(rules), "sourcePortRange": "*"}
        for singular, plural, value in (("sourceAddressPrefix", "sourceAddressPrefixes", src),
                                        ("destinationAddressPrefix", "destinationAddressPrefixes", dst),
                                        ("destinationPortRange", "destinationPortRanges", ports)):
            if isinstance(value, list):
                properties[singular], properties[plural] = "", value
            else:
                properties[singular] = value
        rules.append({"name": f"rule-{len(rules):03d}", "properties": properties})

    def partners() -> list[str]:
        return [f"{rng.randrange(20, 200)}.{rng.randrange(256)}.{rng.randrange(256)}.0/{rng.choice([24, 26, 28])}"
                for _ in range(rng.randrange(1, 6))]

    def ports() -> Any:
        return rng.choice([["443"], ["80", "443"], ["8080-8090", "9000"], ["22"], ["3389"], ["20000-30000"],
                           ["29876"], ["1024-65535"], ["5432", "6379", "27017"]])

    while len(rules) < 198:
        kind = rng.random()
        if kind < 0.35:
            add("Inbound", rng.choice(["Allow", "Allow", "Deny"]), rng.choice(["Tcp", "Tcp", "Udp", "*"]), partners(),
                rng.choice(["VirtualNetwork", "10.1.1.0/24", ["10.1.1.4", "10.1.1.5"]]), ports())
        elif kind < 0.45:
            # a deny carving one address out of a Batch range (a blocked node, a pen-test finding)
            victim = rng.choice(batch_prefixes).split("/")[0]
            add("Inbound", "Deny", "*", victim, "*", "*")
        elif kind < 0.55:
            add("Inbound", "Allow", "Tcp", rng.choice(tags), "VirtualNetwork", ports())
        elif kind < 0.85:
            add("Outbound", "Allow", rng.choice(["Tcp", "*"]), "VirtualNetwork", rng.choice(tags + [partners()]), ports())
        else:
            add("Outbound", "Deny", "*", "VirtualNetwork", rng.choice(["Internet", partners()]), ports())
    add("Inbound", "Allow", "Tcp", "BatchNodeManagement", "VirtualNetwork", ["29876", "29877"])
    add("Inbound", "Deny", "*", "Internet", "*", "*")
    return {"name": "bench-nsg", "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/bench-nsg",
            "properties": {"securityRules": rules}}


def _median_ms(action: Callable[[], object], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def single_nsg(tags: ServiceTagIndex) -> None:
    batch_tag = tags.get("BatchNodeManagement")
    assert batch_tag is not None
    batch = batch_tag.only(4)
    nsg = two_hundred_rule_nsg(random.Random(7), list(batch.prefixes))
    vnet = AddressSet.parse("10.1.0.0/16")
    flow = FlowClass.of("Inbound", protocols="Tcp", src=batch, dst="10.1.1.0/24", dst_ports="29876-29877")

    compile_ms = _median_ms(lambda: [r.resolve() for r in compile_nsg(nsg, vnet, tags).rules("Inbound")], 20)
    compiled = compile_nsg(nsg, vnet, tags)
    first_ms = _median_ms(lambda: evaluate(flow, compile_nsg(nsg, vnet, tags)), 20)
    decide_ms = _median_ms(lambda: evaluate(flow, compiled, Question.ALL_ALLOWED), 300)
    verdict = evaluate(flow, compiled, Question.ALL_ALLOWED)
    print("== one 200-rule NSG; is inbound TCP 29876-29877 from every IPv4 prefix of BatchNodeManagement to a /24 allowed?")
    print(f"   {len(batch.prefixes)} source prefixes; answer all_allowed={verdict.all_allowed},"
          f" {len(verdict.parts)} parts ({len(verdict.denied_parts)} denied)")
    print(f"   compile all inbound rules: {compile_ms:.2f} ms; first question incl. lazy compile: {first_ms:.2f} ms")
    print(f"   decide (compiled NSG): {decide_ms:.3f} ms per decision (median of 300)")


# --- 2. scan-shaped run on a generated estate -------------------------------------------------


def _estate_file(workspaces: int) -> Path:
    OUT_DIR.mkdir(exist_ok=True)
    path = OUT_DIR / f"estate-{workspaces}.json"
    if not path.exists():
        from benchmarks import estate_gen

        print(f"   (generating {workspaces} workspaces with benchmarks/estate_gen.py once; cached in {path})")
        tmp = path.with_suffix(".tmp")
        with tmp.open("w") as handle:
            json.dump(estate_gen.generate(workspaces), handle)
        os.replace(tmp, path)
    return path


def scan(workspaces: int) -> None:
    path = _estate_file(workspaces)
    gc.collect()
    start = time.perf_counter()
    with path.open() as handle:
        snapshot = json.load(handle)
    json_ms = (time.perf_counter() - start) * 1000

    wall, cpu = time.perf_counter(), time.process_time()
    phase_ms = {"tag index": 0.0, "compile (first pass)": 0.0, "first compute's questions": 0.0, "other computes' questions": 0.0}
    mark = time.perf_counter()
    tags = ServiceTagIndex.from_snapshot(snapshot["service_tags"])
    compiler = NsgCompiler(tags)
    by_id = {resource["id"].lower(): resource for resource in snapshot["resources"]}
    aml_global = tags.get("AzureMachineLearning")
    batch_global = tags.get("BatchNodeManagement")
    assert aml_global is not None and batch_global is not None
    service_addresses = aml_global.addresses | batch_global.addresses
    aml = aml_global.only(4)
    questions = 0
    phase_ms["tag index"] += (time.perf_counter() - mark) * 1000
    for resource in snapshot["resources"]:
        if resource["type"] != "Microsoft.Network/virtualNetworks":
            continue
        space = AddressSet.parse(resource["properties"]["addressSpace"]["addressPrefixes"])
        region = resource["location"]
        batch = tags.regional_or_global("BatchNodeManagement", region).only(4)
        storage = tags.regional_or_global("Storage", region).only(4)
        registry = tags.regional_or_global("AzureContainerRegistry", region).only(4)
        public_clients = (AddressSet.everything() - space - service_addresses).only(4)
        for subnet in resource["properties"]["subnets"]:
            reference = subnet["properties"].get("networkSecurityGroup")
            if not reference:
                continue
            mark = time.perf_counter()
            nsg = compiler.compile(by_id[reference["id"].lower()], space)
            phase_ms["compile (first pass)"] += (time.perf_counter() - mark) * 1000
            addresses = AddressSet.parse(subnet["properties"]["addressPrefix"])
            flows = [
                (FlowClass.of("Inbound", protocols="Tcp", src=batch, dst=addresses, dst_ports="29876-29877"), Question.ALL_ALLOWED),
                (FlowClass.of("Outbound", protocols=["Tcp", "Udp"], src=addresses, dst=space), Question.ALL_ALLOWED),
                (FlowClass.of("Outbound", protocols="Tcp", src=addresses, dst=storage, dst_ports="443"), Question.ALL_ALLOWED),
                (FlowClass.of("Outbound", protocols="Tcp", src=addresses, dst=registry, dst_ports="443"), Question.ALL_ALLOWED),
                (FlowClass.of("Outbound", protocols="Tcp", src=addresses, dst=aml, dst_ports="443"), Question.ALL_ALLOWED),
                (FlowClass.of("Inbound", protocols="Tcp", src=public_clients, dst=addresses, dst_ports="22"), Question.ANY_ALLOWED),
                (FlowClass.of("Inbound", protocols="Tcp", src=aml, dst=addresses, dst_ports="443"), Question.ALL_ALLOWED),
                (FlowClass.of("Inbound", protocols="Tcp", src=public_clients, dst=addresses, dst_ports="443"), Question.ANY_ALLOWED),
            ]
            for compute in range(3):
                mark = time.perf_counter()
                for flow, question in flows:
                    evaluate_path(flow, nsg, None, question)
                    questions += 1
                phase = "first compute's questions" if compute == 0 else "other computes' questions"
                phase_ms[phase] += (time.perf_counter() - mark) * 1000
    total_ms = (time.perf_counter() - wall) * 1000
    cpu_ms = (time.process_time() - cpu) * 1000
    print(f"== estate of {workspaces} workspaces ({path.stat().st_size / 1e6:.0f} MB snapshot)")
    print(f"   json.load: {json_ms:.0f} ms")
    print(f"   tag index + compile + {questions} flow questions: {total_ms:.0f} ms wall, {cpu_ms:.0f} ms CPU"
          f" = {total_ms / questions:.3f} ms per question, {total_ms / json_ms:.2f}x json.load")
    print("   " + "; ".join(f"{name} {value:.0f} ms" for name, value in phase_ms.items())
          + " (the first question of a direction resolves the rules it reaches)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspaces", type=int, default=100, help="estate size for the scan-shaped run (0 skips it)")
    arguments = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f}")
    single_nsg(_load_tags())
    if arguments.workspaces:
        scan(arguments.workspaces)


if __name__ == "__main__":
    main()
