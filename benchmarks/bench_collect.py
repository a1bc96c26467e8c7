"""Live collection against the stand-in: calls made vs. the minimum, wall time vs. the throughput bound.

    /work/venv/bin/python benchmarks/bench_collect.py [--subscriptions 20] [--latency 0.05] [--concurrency 8]

A generated estate (per subscription: one VNet with three subnets, three NSGs, a route table,
two workspaces each with its own storage account, key vault, an AmlCompute, an attached VM
with one NIC and an AKS cluster; regions rotate over three) is served with a fixed latency per
call. The minimum number of calls is worked out from that layout, independently of the
collector. Wall time is bounded below by the larger of two figures: throughput (calls /
concurrency x latency: the pool can do no better) and the dependency chain (the longest run of
reads each waiting on the one before, x latency). Targets: calls equal to the minimum, wall time
at most 1.5x the bound.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import trustme

# Run as a script from anywhere: the stand-in lives in the test tree.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from amlaudit.auditor.collect import CollectOptions, collect  # noqa: E402
from tests.estates import EstateBuilder  # noqa: E402
from tests.standin import StandIn  # noqa: E402
from tests.standin.environment import standin_environment  # noqa: E402

REGIONS = ("eastus", "westeurope", "southeastasia")
WORKSPACES_PER_SUBSCRIPTION = 2


def generated_estate(subscriptions: int) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for index in range(subscriptions):
        subscription_id = f"{index:08x}-0000-4000-8000-000000000000"
        estate = EstateBuilder(location=REGIONS[index % len(REGIONS)], subscription=subscription_id)
        vnet = estate.vnet("vnet-ml")
        nsg_aml, nsg_aks, nsg_nic = estate.nsg("nsg-aml"), estate.nsg("nsg-aks"), estate.nsg("nsg-nic")
        route_table = estate.route_table("rt-ml", [("to-internet", "0.0.0.0/0", "Internet")])
        aml_subnet = estate.subnet(vnet, "aml", "10.0.1.0/24", nsg=nsg_aml, route_table=route_table)
        aks_subnet = estate.subnet(vnet, "aks", "10.0.2.0/24", nsg=nsg_aks)
        vm_subnet = estate.subnet(vnet, "vms", "10.0.3.0/24")
        for w in range(WORKSPACES_PER_SUBSCRIPTION):
            workspace = estate.workspace(f"mlw-{w}", storage=estate.storage_account(f"stml{index}x{w}"),
                                         key_vault=estate.key_vault(f"kv-ml-{index}-{w}"))
            estate.aml_compute(workspace, "cpu", aml_subnet)
            nic = estate.nic(f"vm-{w}-nic", vm_subnet, f"10.0.3.{4 + w}", nsg=nsg_nic)
            estate.vm_compute(workspace, "vm", estate.vm(f"vm-{w}", nic))
            estate.aks_compute(workspace, "aks", estate.managed_cluster(f"aks-{w}", aks_subnet))
        estate.network_usages()
        estate.lock(vnet["id"].split("/providers/")[0])
        part = estate.document()
        if not document:
            document = part
            document["service_tags"] = []
        else:
            for key in ("subscriptions", "resources", "usages", "locks"):
                document[key] += part[key]
    tags = EstateBuilder()
    for region in REGIONS[:subscriptions]:
        tags.real_service_tags(region)
    document["service_tags"] = tags.document()["service_tags"]
    return document


def minimum_calls(subscriptions: int) -> int:
    """What this layout needs, read by read."""
    per_workspace = 1 + 1 + 1  # compute list, storage account, key vault
    per_workspace += 1 + 1  # the attached VM, its NIC
    per_workspace += 1  # the AKS cluster
    per_subscription = 1  # workspace list
    per_subscription += WORKSPACES_PER_SUBSCRIPTION * per_workspace
    per_subscription += 3  # VNet, NSG and route table lists (all three referenced by compute subnets)
    per_subscription += 1 + 1  # network usages for its region, locks list
    regions = min(subscriptions, len(REGIONS))  # one service-tag read per region
    return 1 + subscriptions * per_subscription + regions  # 1: the subscription list


def dependency_depth() -> int:
    """The longest chain of reads where each needs the answer of the one before."""
    # subscription list -> workspace list -> compute list -> VM -> NIC -> VNet list (the NIC's subnet)
    # -> NSG list (the subnet's NSG), or usages / service tags / locks (the VNet's region and subscription).
    return 7


def _serve(connection: Connection, estate: dict[str, Any], ca: trustme.CA, latency: float) -> None:
    """Child process: serve `estate` until told to stop, then report the requests it saw."""
    with StandIn(estate, ca=ca, latency=latency) as standin:
        connection.send(standin.url)
        connection.recv()
        connection.send([(r.method, r.path) for r in standin.requests])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every call")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    estate = generated_estate(args.subscriptions)
    ca = trustme.CA()
    # The stand-in runs in its own process, as Resource Manager would: in this one it would
    # compete with the collector for the GIL and the measurement would include its CPU time.
    ours, theirs = multiprocessing.get_context("fork").Pipe()
    server = multiprocessing.get_context("fork").Process(target=_serve, args=(theirs, estate, ca, args.latency))
    server.start()
    try:
        url = ours.recv()
        with tempfile.TemporaryDirectory() as workdir:
            to_set, to_remove = standin_environment(url, ca, Path(workdir))
            for name in to_remove:
                os.environ.pop(name, None)
            os.environ.update(to_set)
            started = time.perf_counter()
            snapshot = collect(CollectOptions(arm_endpoint=url, concurrency=args.concurrency, progress=False))
            wall = time.perf_counter() - started
        ours.send("stop")
        requests = ours.recv()
    finally:
        server.join(timeout=10)

    calls = len(requests)
    needed = minimum_calls(args.subscriptions)
    throughput_bound = calls / args.concurrency * args.latency
    chain_bound = dependency_depth() * args.latency
    bound = max(throughput_bound, chain_bound)
    print(f"estate: {args.subscriptions} subscriptions, {len(estate['resources'])} resources; "
          f"collected {len(snapshot['resources'])} resources, {len(snapshot['errors'])} errors; "
          f"methods used: {sorted({method for method, _ in requests})}")
    print(f"calls: {calls} made, {needed} minimum for this layout (ratio {calls / needed:.2f}; target 1.00)")
    ratio = f"ratio {wall / bound:.2f}; target <= 1.50" if bound else "no latency: CPU cost only"
    print(f"wall: {wall:.2f} s; bound {bound:.2f} s = max(calls/concurrency x latency {throughput_bound:.2f} s, "
          f"dependency chain {dependency_depth()} x latency {chain_bound:.2f} s) ({ratio})")


if __name__ == "__main__":
    main()
