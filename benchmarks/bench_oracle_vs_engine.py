"""The engine against the z3 oracle on one required-flow question, timed.

Run:  /work/venv/bin/python benchmarks/bench_oracle_vs_engine.py [--runs 15]

A realistic 200-rule NSG (130 inbound, 70 outbound; service tags from the
full 2025-11-09 download, Internet/VirtualNetwork, port ranges, plural
prefix and port fields, partial overlaps with the Batch prefixes) and the
question compute-batch-inbound asks: "is inbound TCP 29876-29877 from every
IPv4 prefix of BatchNodeManagement.EastUS to the compute subnet 10.1.1.0/24
allowed?". Asked twice: of the NSG as built (every packet allowed: the
solver must prove unsatisfiability, its hardest case) and of the NSG with
one deny inserted that catches part of one Batch prefix (a counterexample
exists).

Timed per question, median of ``--runs``:
- engine, warm: the NSG already compiled (what a scan pays per question once
  the NSG is compiled; compilation is cached per NSG and VNet);
- engine, cold: compile the NSG from its ARM dict, then decide;
- z3, cold: build the SMT encoding from the oracle's parsed rules and solve
  (the term cache cleared each time: a plain encoding per question);
- z3, warm: terms cached, only the solver runs.
The ARM parsing of each side (engine compile / oracle parse) is reported on
its own line. Both must give the same answer, or the script exits 1.

Prints numbers only; nothing here asserts timings.
"""

from __future__ import annotations

import argparse
import ipaddress
import gzip
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from amlaudit.auditor.netpolicy import AddressSet, FlowClass, Question, ServiceTagIndex, compile_nsg, evaluate  # noqa: E402
from tests.oracle import z3_oracle  # noqa: E402
from tests.oracle.arm_rules import AddressContext, parse_nsg  # noqa: E402
from tests.oracle.flows import FlowClass as OracleFlow  # noqa: E402

SERVICE_TAGS = Path(__file__).resolve().parents[1] / "tests/data/azure-samples/service-tags/ServiceTags_Public_20251109.json.gz"
REGION = "eastus"
VIRTUAL_NETWORK = ("10.1.0.0/16", "10.200.0.0/16")
COMPUTE_SUBNET = "10.1.1.0/24"
ALLOW_TAGS = (
    "Storage.EastUS", "AzureMonitor.EastUS", "Sql.EastUS", "EventHub.EastUS", "AppService.EastUS",
    "AzureKeyVault.EastUS", "ServiceBus.EastUS", "AzureMachineLearning", "AzureContainerRegistry.EastUS",
    "AzureActiveDirectory", "GatewayManager", "AzureFrontDoor.Backend",
)
BATCH_TAG = "BatchNodeManagement.EastUS"
# Ports denied from the Internet; none of them is 29876 or 29877.
DENIED_PORTS = (["3389"], ["22"], ["445", "139"], ["1433-1434"], ["5985-5986"], ["29000-29875"], ["29878-29999"], ["23", "21"])


def _rule(name: str, priority: int, direction: str, access: str, protocol: str, **fields: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "protocol": protocol,
        "sourcePortRange": "*",
        "access": access,
        "priority": priority,
        "direction": direction,
        "provisioningState": "Succeeded",
    }
    for side in ("source", "destination"):
        prefixes = fields.pop(f"{side}_prefixes")
        if len(prefixes) == 1:
            properties[f"{side}AddressPrefix"], properties[f"{side}AddressPrefixes"] = prefixes[0], []
        else:
            properties[f"{side}AddressPrefix"], properties[f"{side}AddressPrefixes"] = "", prefixes
    ports = fields.pop("ports")
    if len(ports) == 1:
        properties["destinationPortRange"], properties["destinationPortRanges"] = ports[0], []
    else:
        properties["destinationPortRange"], properties["destinationPortRanges"] = "", ports
    assert not fields
    return {"name": name, "id": f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/compute-nsg/securityRules/{name}", "properties": properties}


def _public_prefixes(rng: random.Random, count: int, avoid: list[ipaddress.IPv4Network]) -> list[str]:
    chosen: list[str] = []
    while len(chosen) < count:
        length = rng.choice((32, 32, 28, 24))
        address = ipaddress.IPv4Address(rng.randrange(int(ipaddress.IPv4Address("45.0.0.0")), int(ipaddress.IPv4Address("100.0.0.0"))))
        network = ipaddress.ip_network(f"{address}/{length}", strict=False)
        if not any(network.overlaps(other) for other in avoid):
            chosen.append(str(network.network_address) if length == 32 else str(network))
    return chosen


def build_nsg(batch_v4: list[str], rng: random.Random) -> dict[str, Any]:
    """130 inbound and 70 outbound rules; inbound TCP 29876-29877 from Batch is allowed at priority 3000."""
    batch_networks = [ipaddress.ip_network(prefix) for prefix in batch_v4]
    rules: list[dict[str, Any]] = []
    priority = 100
    for index in range(127):
        kind = index % 6
        name = f"in{index:03d}"
        if kind == 0:
            rules.append(_rule(f"DenyBadActors{name}", priority, "Inbound", "Deny", "*",
                               source_prefixes=_public_prefixes(rng, rng.randint(3, 12), batch_networks),
                               destination_prefixes=["*"], ports=["*"]))
        elif kind == 1:
            corp = [f"10.{rng.randint(2, 150)}.0.0/16", f"172.{rng.randint(16, 31)}.{rng.randint(0, 255)}.0/24"]
            rules.append(_rule(f"AllowCorp{name}", priority, "Inbound", "Allow", "Tcp",
                               source_prefixes=corp, destination_prefixes=[COMPUTE_SUBNET],
                               ports=rng.choice((["22", "443"], ["8080-8090", "9000"], ["443"]))))
        elif kind == 2:
            rules.append(_rule(f"AllowTag{name}", priority, "Inbound", "Allow", rng.choice(("Tcp", "*")),
                               source_prefixes=[rng.choice(ALLOW_TAGS)], destination_prefixes=["VirtualNetwork"],
                               ports=rng.choice((["443"], ["1433"], ["443", "8443"], ["*"]))))
        elif kind == 3:
            rules.append(_rule(f"DenyInternetPorts{name}", priority, "Inbound", "Deny", rng.choice(("Tcp", "*")),
                               source_prefixes=["Internet"], destination_prefixes=["*"], ports=rng.choice(DENIED_PORTS)))
        elif kind == 4:
            # Touches the Batch prefixes but on UDP only: must be split, not matched.
            rules.append(_rule(f"DenyUdpFromBatch{name}", priority, "Inbound", "Deny", "Udp",
                               source_prefixes=[BATCH_TAG], destination_prefixes=[COMPUTE_SUBNET], ports=["29876-29877"]))
        else:
            # Allows part of the Batch prefixes early: the flow is split across rules.
            some = rng.sample(batch_v4, k=min(3, len(batch_v4)))
            rules.append(_rule(f"AllowSomeBatch{name}", priority, "Inbound", "Allow", "Tcp",
                               source_prefixes=some, destination_prefixes=[COMPUTE_SUBNET], ports=["29876"]))
        priority += 20
    rules.append(_rule("AllowBatchNodeManagement", 3000, "Inbound", "Allow", "Tcp",
                       source_prefixes=[BATCH_TAG], destination_prefixes=["VirtualNetwork"], ports=["29876", "29877"]))
    rules.append(_rule("DenyInternetInbound", 3100, "Inbound", "Deny", "*",
                       source_prefixes=["Internet"], destination_prefixes=["*"], ports=["*"]))
    rules.append(_rule("AllowVnetInboundExplicit", 3200, "Inbound", "Allow", "*",
                       source_prefixes=["VirtualNetwork"], destination_prefixes=["VirtualNetwork"], ports=["*"]))
    for index in range(70):
        access = "Deny" if index % 4 == 0 else "Allow"
        target = ["Internet"] if access == "Deny" else [rng.choice(ALLOW_TAGS)]
        rules.append(_rule(f"Out{index:03d}", 100 + 10 * index, "Outbound", access, rng.choice(("Tcp", "Udp", "*")),
                           source_prefixes=["VirtualNetwork"], destination_prefixes=target,
                           ports=rng.choice((["443"], ["80", "443"], ["1000-2000"], ["*"]))))
    assert len(rules) == 200
    return {"name": "compute-nsg", "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/compute-nsg",
            "properties": {"securityRules": rules}}


def with_partial_deny(nsg: dict[str, Any], batch_v4: list[str]) -> dict[str, Any]:
    """The same NSG plus a deny (priority 2990) on the upper half of the first Batch prefix."""
    first = ipaddress.ip_network(batch_v4[0])
    upper_half = str(list(first.subnets())[1]) if first.prefixlen < 32 else str(first)
    extra = _rule("DenyHalfABatchPrefix", 2990, "Inbound", "Deny", "Tcp",
                  source_prefixes=[upper_half], destination_prefixes=["*"], ports=["29877"])
    return {**nsg, "properties": {"securityRules": [*nsg["properties"]["securityRules"], extra]}}


def median_seconds(action: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per z3 measurement (engine uses 20x as many)")
    args = parser.parse_args()

    body = json.loads(gzip.decompress(SERVICE_TAGS.read_bytes()))
    tags = ServiceTagIndex([body])
    entries = {entry["name"]: entry["properties"]["addressPrefixes"] for entry in body["values"]}
    batch_v4 = [prefix for prefix in entries[BATCH_TAG] if ":" not in prefix]
    context = AddressContext(VIRTUAL_NETWORK, {name: entries[name] for name in (*ALLOW_TAGS, BATCH_TAG)})
    vnet = AddressSet.parse(list(VIRTUAL_NETWORK))

    engine_flow = FlowClass.of("Inbound", protocols="Tcp", src=tags.regional_or_global("BatchNodeManagement", REGION).only(4),
                               dst=COMPUTE_SUBNET, dst_ports="29876-29877")
    oracle_flow = OracleFlow.of("Inbound", {"Tcp"}, batch_v4, [(0, 65535)], [COMPUTE_SUBNET], [(29876, 29877)])
    base = build_nsg(batch_v4, random.Random(200))

    print(f"NSG: {len(base['properties']['securityRules'])} rules; question: inbound TCP 29876-29877 from "
          f"{len(batch_v4)} IPv4 prefixes of {BATCH_TAG} to {COMPUTE_SUBNET}; median of {args.runs} z3 runs, "
          f"{args.runs * 20} engine runs")
    disagreements = 0
    for label, nsg in (("allowed (z3 proves unsat)", base), ("partly denied (counterexample)", with_partial_deny(base, batch_v4))):
        compiled = compile_nsg(nsg, vnet, tags)
        verdict = evaluate(engine_flow, compiled, Question.ALL_ALLOWED)
        parsed = parse_nsg(nsg, context)
        z3_oracle.clear_term_cache()
        answer = z3_oracle.all_allowed(oracle_flow, parsed)
        agree = verdict.all_allowed == answer.holds
        disagreements += not agree

        engine_warm = median_seconds(lambda: evaluate(engine_flow, compiled, Question.ALL_ALLOWED), args.runs * 20)
        engine_cold = median_seconds(
            lambda: evaluate(engine_flow, compile_nsg(nsg, vnet, tags), Question.ALL_ALLOWED), args.runs * 20
        )
        engine_compile = median_seconds(lambda: compile_nsg(nsg, vnet, tags), args.runs * 20)
        oracle_parse = median_seconds(lambda: parse_nsg(nsg, context), args.runs)

        def z3_cold() -> object:
            z3_oracle.clear_term_cache()
            return z3_oracle.all_allowed(oracle_flow, parsed)

        z3_cold_seconds = median_seconds(z3_cold, args.runs)
        z3_oracle.all_allowed(oracle_flow, parsed)
        z3_warm_seconds = median_seconds(lambda: z3_oracle.all_allowed(oracle_flow, parsed), args.runs)

        print(f"\n{label}: engine all_allowed={verdict.all_allowed} ({len(verdict.parts)} parts), "
              f"z3 holds={answer.holds}{'' if answer.packet is None else f' e.g. {answer.packet}'}"
              f"{'' if agree else '   <-- DISAGREE'}")
        print(f"  engine, warm (compiled NSG)   {engine_warm * 1e3:9.3f} ms/question")
        print(f"  engine, cold (compile+decide) {engine_cold * 1e3:9.3f} ms/question")
        print(f"  z3, cold (encode+solve)       {z3_cold_seconds * 1e3:9.3f} ms/question")
        print(f"  z3, warm (solve only)         {z3_warm_seconds * 1e3:9.3f} ms/question")
        print(f"  ARM reading alone: engine compile {engine_compile * 1e3:.3f} ms, oracle parse {oracle_parse * 1e3:.3f} ms")
        print(f"  ratio z3 cold / engine warm   {z3_cold_seconds / engine_warm:9.1f}x")
        print(f"  ratio z3 cold / engine cold   {z3_cold_seconds / engine_cold:9.1f}x")
        print(f"  ratio z3 warm / engine warm   {z3_warm_seconds / engine_warm:9.1f}x")
    return 1 if disagreements else 0


if __name__ == "__main__":
    raise SystemExit(main())
