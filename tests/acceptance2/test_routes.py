"""compute-forced-tunneling: combinations of user routes over the Batch prefixes.

Row (critical; AmlCompute compute; applies when the compute subnet has a route table): every address of
every BatchNodeManagement tag prefix is routed (longest prefix match over the user routes, else the
system route) with next hop Internet. For public addresses the system route is 0.0.0.0/0 -> Internet.
Tag prefixes for eastus: BatchNodeManagement.EastUS, 17 IPv4 prefixes (the subnet is IPv4 only).
"""

from __future__ import annotations

import ipaddress

import pytest

from tests.acceptance.harness import NOT_APPLICABLE, expect, run
from tests.acceptance.scenarios import aml_scenario
from tests.acceptance2.kit import Route, attach_route_table, covers, ipv4, routes_to, tag

CHECK = "compute-forced-tunneling"

BATCH_V4 = ipv4(tag("BatchNodeManagement.EastUS"))
BATCH_GLOBAL_V4 = ipv4(tag("BatchNodeManagement"))
BATCH_27 = ipaddress.ip_network("20.42.6.224/27")
assert BATCH_27 in BATCH_V4
ONE_ADDRESS_INSIDE = "20.42.6.230/32"
assert ipaddress.ip_network(ONE_ADDRESS_INSIDE).subnet_of(BATCH_27)

# The /8s that hold the eastus Batch prefixes: 13, 20, 23, 40, 52, 104, 137, 168, 191.
BATCH_SLASH_8S = sorted({ipaddress.ip_network(f"{n.network_address}/8", strict=False) for n in BATCH_V4})
assert covers(BATCH_SLASH_8S, BATCH_V4) and len(BATCH_SLASH_8S) == 9

DEFAULT_TO_FIREWALL: list[Route] = [("default-to-firewall", "0.0.0.0/0", "VirtualAppliance")]
HALVES_TO_INTERNET: list[Route] = [("low-half", "0.0.0.0/1", "Internet"), ("high-half", "128.0.0.0/1", "Internet")]

CASES: dict[str, tuple[list[Route], str]] = {
    # Two /1 routes to Internet beat the /0 to the firewall for every address.
    "halves-to-internet-beat-default-to-firewall": (DEFAULT_TO_FIREWALL + HALVES_TO_INTERNET, "pass"),
    "one-half-to-internet-only": (DEFAULT_TO_FIREWALL + HALVES_TO_INTERNET[:1], "fail"),
    "slash-8s-to-internet": (DEFAULT_TO_FIREWALL + routes_to(BATCH_SLASH_8S, stem="net"), "pass"),
    "slash-8s-but-one": (DEFAULT_TO_FIREWALL + routes_to(BATCH_SLASH_8S[1:], stem="net"), "fail"),
    "all-udrs-plus-a-32-to-firewall-inside": (DEFAULT_TO_FIREWALL + routes_to(BATCH_V4)
                                             + [("inspect", ONE_ADDRESS_INSIDE, "VirtualAppliance")], "fail"),
    "halves-plus-a-32-to-none-inside": (DEFAULT_TO_FIREWALL + HALVES_TO_INTERNET + [("drop", ONE_ADDRESS_INSIDE, "None")], "fail"),
    "halves-plus-a-32-to-none-outside": (DEFAULT_TO_FIREWALL + HALVES_TO_INTERNET + [("drop", "20.42.7.1/32", "None")], "pass"),
    "udrs-plus-a-28-to-vnet-local-inside": (DEFAULT_TO_FIREWALL + routes_to(BATCH_V4)
                                            + [("local", "20.42.6.240/28", "VnetLocal")], "fail"),
    # A wider route to the firewall does not beat the narrower UDR.
    "udrs-and-a-wider-route-to-firewall": (DEFAULT_TO_FIREWALL + routes_to(BATCH_V4)
                                           + [("wide", "20.42.0.0/16", "VirtualAppliance")], "pass"),
    "a-wider-route-to-firewall-without-udrs": ([("wide", "20.42.0.0/16", "VirtualAppliance")], "fail"),
    "global-prefixes-as-udrs": (DEFAULT_TO_FIREWALL + routes_to(BATCH_GLOBAL_V4), "pass"),
    "default-to-gateway-no-udrs": ([("default-to-gateway", "0.0.0.0/0", "VirtualNetworkGateway")], "fail"),
    "default-to-gateway-with-udrs": ([("default-to-gateway", "0.0.0.0/0", "VirtualNetworkGateway")] + routes_to(BATCH_V4),
                                     "pass"),
    "default-to-none": ([("blackhole", "0.0.0.0/0", "None")], "fail"),
    # The subnet is IPv4 only: the tag's IPv6 prefix is not judged, so an IPv6 default route does not matter.
    "ipv6-default-to-firewall-on-an-ipv4-subnet": ([("v6-default", "::/0", "VirtualAppliance")], "pass"),
    "private-routes-only": ([("onprem", "10.0.0.0/8", "VirtualNetworkGateway"), ("cgnat", "100.64.0.0/10", "None")], "pass"),
}


@pytest.mark.parametrize(("routes", "status"), list(CASES.values()), ids=list(CASES))
def test_routes(routes: list[Route], status: str) -> None:
    s = aml_scenario()
    attach_route_table(s.builder, s.subnet, routes)
    expect(run(s.builder), {(CHECK, s.compute_id): status})




@pytest.mark.parametrize("internet_first", [
    pytest.param(True),
    pytest.param(False),
])
def test_two_routes_for_one_prefix_is_an_error(internet_first: bool) -> None:
    # ARM refuses two routes with the same address prefix in one table, so which one Azure would use is
    # unknowable from such a snapshot; choosing the Internet one would pass on undecidable data.
    to_internet = ("batch-27", str(BATCH_27), "Internet")
    to_firewall = ("inspect-27", str(BATCH_27), "VirtualAppliance")
    pair = [to_internet, to_firewall] if internet_first else [to_firewall, to_internet]
    others = [r for r in routes_to(BATCH_V4) if r[1] != str(BATCH_27)]
    s = aml_scenario()
    attach_route_table(s.builder, s.subnet, DEFAULT_TO_FIREWALL + others + pair)
    expect(run(s.builder), {(CHECK, s.compute_id): "error"})


def test_route_table_on_another_subnet_is_not_ours() -> None:
    # The forcing route table is attached to a sibling subnet; the compute subnet has none.
    s = aml_scenario()
    sibling = s.builder.subnet(s.vnet, "appliance-spoke", "10.0.2.0/24")
    attach_route_table(s.builder, sibling, DEFAULT_TO_FIREWALL)
    expect(run(s.builder), {(CHECK, s.compute_id): NOT_APPLICABLE})


def test_route_table_forbidden_is_an_error() -> None:
    s = aml_scenario()
    table = attach_route_table(s.builder, s.subnet, DEFAULT_TO_FIREWALL + HALVES_TO_INTERNET)
    s.builder.drop(table)
    s.builder.collection_error(table["id"])
    expect(run(s.builder), {(CHECK, s.compute_id): "error"})


def test_route_without_next_hop_type_is_an_error() -> None:
    # A route whose next hop cannot be read may be the one that matches a Batch address.
    s = aml_scenario()
    table = attach_route_table(s.builder, s.subnet, DEFAULT_TO_FIREWALL + routes_to(BATCH_V4))
    del table["properties"]["routes"][-1]["properties"]["nextHopType"]
    expect(run(s.builder), {(CHECK, s.compute_id): "error"})


def test_two_clusters_one_route_table() -> None:
    # One route table, two AmlCompute subjects in two subnets: each gets its own finding.
    s = aml_scenario()
    table = attach_route_table(s.builder, s.subnet, DEFAULT_TO_FIREWALL)
    second_subnet = s.builder.subnet(s.vnet, "compute-2", "10.0.2.0/24")
    second_subnet["properties"]["routeTable"] = {"id": table["id"]}
    second = s.builder.aml_compute(s.workspace, "gpu-cluster", second_subnet)
    expect(run(s.builder), {(CHECK, s.compute_id): "fail", (CHECK, second["id"]): "fail"})
