"""compute-forced-tunneling (critical; subject: AmlCompute compute; applies when the compute subnet
has a route table): every address of every BatchNodeManagement tag prefix is routed (longest prefix
match over the user routes, else the system route) with next hop Internet.

The system route for public addresses is 0.0.0.0/0 -> Internet. A user route may name a service tag
as its addressPrefix; it stands for that tag's prefixes, and an explicit prefix of equal length wins.
"""

from __future__ import annotations

import ipaddress

import pytest

from tests.acceptance.harness import NOT_APPLICABLE, expect, run
from tests.acceptance.scenarios import aml_scenario
from tests.acceptance.tagmath import covered, entry_ipv4, tag_prefixes_for_region

CHECK = "compute-forced-tunneling"

_, EASTUS_BATCH = tag_prefixes_for_region("BatchNodeManagement", "eastus")
GLOBAL_BATCH = entry_ipv4("BatchNodeManagement")
assert covered(EASTUS_BATCH, GLOBAL_BATCH)
SPLIT = next(n for n in EASTUS_BATCH if n.prefixlen == 27)
SINGLE = next(n for n in EASTUS_BATCH if n.prefixlen == 32)

Route = tuple[str, str, str]
DEFAULT_TO_APPLIANCE: list[Route] = [("default-to-firewall", "0.0.0.0/0", "VirtualAppliance")]
# The classic trick: two /1 routes beat 0.0.0.0/0 without replacing it.
SPLIT_DEFAULT_TO_APPLIANCE: list[Route] = [("low", "0.0.0.0/1", "VirtualAppliance"), ("high", "128.0.0.0/1", "VirtualAppliance")]


def batch_udrs(prefixes: list[ipaddress.IPv4Network] = EASTUS_BATCH, hop: str = "Internet") -> list[Route]:
    return [(f"batch-{i}", str(p), hop) for i, p in enumerate(prefixes)]


CASES: dict[str, tuple[list[Route], str]] = {
    "empty-route-table": ([], "pass"),
    "unrelated-private-route": ([("onprem", "192.168.0.0/16", "VirtualNetworkGateway")], "pass"),
    "explicit-default-to-internet": ([("default", "0.0.0.0/0", "Internet")], "pass"),
    "forced-tunnel-no-udrs": (DEFAULT_TO_APPLIANCE, "fail"),
    "forced-tunnel-all-udrs": (DEFAULT_TO_APPLIANCE + batch_udrs(), "pass"),
    "forced-tunnel-one-udr-missing": (DEFAULT_TO_APPLIANCE + batch_udrs(EASTUS_BATCH[1:]), "fail"),
    "forced-tunnel-udrs-split-in-halves": (
        DEFAULT_TO_APPLIANCE + batch_udrs([p for p in EASTUS_BATCH if p != SPLIT])
        + [(f"half-{i}", str(h), "Internet") for i, h in enumerate(SPLIT.subnets(new_prefix=28))], "pass"),
    "more-specific-route-steals-half": (
        DEFAULT_TO_APPLIANCE + batch_udrs() + [("steal", str(next(SPLIT.subnets(new_prefix=28))), "VirtualAppliance")], "fail"),
    "udr-to-gateway": (DEFAULT_TO_APPLIANCE + batch_udrs(hop="VirtualNetworkGateway"), "fail"),
    "one-udr-to-none": (DEFAULT_TO_APPLIANCE + batch_udrs(EASTUS_BATCH[1:]) + [("drop", str(EASTUS_BATCH[0]), "None")], "fail"),
    "split-default-halves-no-udrs": (SPLIT_DEFAULT_TO_APPLIANCE, "fail"),
    "split-default-halves-with-udrs": (SPLIT_DEFAULT_TO_APPLIANCE + batch_udrs(), "pass"),
    "regional-tag-route": (DEFAULT_TO_APPLIANCE + [("batch", "BatchNodeManagement.EastUS", "Internet")], "pass"),
    "global-tag-route": (DEFAULT_TO_APPLIANCE + [("batch", "BatchNodeManagement", "Internet")], "pass"),
    "other-region-tag-route": (DEFAULT_TO_APPLIANCE + [("batch", "BatchNodeManagement.WestUS2", "Internet")], "fail"),
    "tag-route-but-explicit-equal-prefix-to-appliance": (
        DEFAULT_TO_APPLIANCE + [("batch", "BatchNodeManagement.EastUS", "Internet"),
                                ("inspect-one", str(SINGLE), "VirtualAppliance")], "fail"),
}


@pytest.mark.parametrize(("routes", "status"), list(CASES.values()), ids=list(CASES))
def test_forced_tunneling_routes(routes: list[Route], status: str) -> None:
    s = aml_scenario()
    table = s.builder.route_table(routes=routes)
    s.subnet["properties"]["routeTable"] = {"id": table["id"]}
    expect(run(s.builder), {(CHECK, s.compute_id): status})


def test_subnet_without_route_table_is_not_applicable() -> None:
    s = aml_scenario()
    expect(run(s.builder), {(CHECK, s.compute_id): NOT_APPLICABLE})


@pytest.mark.parametrize(("routes", "status"), [
    (DEFAULT_TO_APPLIANCE + batch_udrs(), "fail"),                 # EastUS prefixes only: global tag applies
    (DEFAULT_TO_APPLIANCE + batch_udrs(GLOBAL_BATCH), "pass"),
])
def test_region_without_regional_entry_uses_global_tag(routes: list[Route], status: str) -> None:
    s = aml_scenario(location="northeurope")
    table = s.builder.route_table(routes=routes)
    s.subnet["properties"]["routeTable"] = {"id": table["id"]}
    expect(run(s.builder), {(CHECK, s.compute_id): status})


@pytest.mark.parametrize("how", ["absent", "403"])
def test_route_table_unreadable_is_an_error(how: str) -> None:
    s = aml_scenario()
    table = s.builder.route_table(routes=DEFAULT_TO_APPLIANCE + batch_udrs())
    s.subnet["properties"]["routeTable"] = {"id": table["id"]}
    s.builder.drop(table)
    if how == "403":
        s.builder.collection_error(table["id"])
    expect(run(s.builder), {(CHECK, s.compute_id): "error"})


def test_service_tags_absent_is_an_error() -> None:
    s = aml_scenario(tags=None)
    s.builder.service_tags = None
    table = s.builder.route_table(routes=DEFAULT_TO_APPLIANCE + batch_udrs())
    s.subnet["properties"]["routeTable"] = {"id": table["id"]}
    expect(run(s.builder), {(CHECK, s.compute_id): "error"})


def test_route_naming_a_tag_missing_from_the_download_is_an_error() -> None:
    # AzureCloud is not in the subset; one of its prefixes may be a longer match inside a Batch prefix.
    s = aml_scenario()
    table = s.builder.route_table(routes=DEFAULT_TO_APPLIANCE + batch_udrs() + [("cloud", "AzureCloud", "VirtualAppliance")])
    s.subnet["properties"]["routeTable"] = {"id": table["id"]}
    expect(run(s.builder), {(CHECK, s.compute_id): "error"})


def test_route_table_routes_not_collected_is_an_error() -> None:
    s = aml_scenario()
    table = s.builder.route_table(routes=[])
    del table["properties"]["routes"]
    s.subnet["properties"]["routeTable"] = {"id": table["id"]}
    expect(run(s.builder), {(CHECK, s.compute_id): "error"})


@pytest.mark.parametrize(("extra_routes", "status"), [
    ([], "pass"),                                                       # IPv6 leaves by the system route ::/0 -> Internet
    ([("v6-default", "::/0", "VirtualAppliance")], "fail"),             # the tag's IPv6 prefix is forced to the appliance
    ([("v6-default", "::/0", "VirtualAppliance"), ("batch-tag", "BatchNodeManagement.EastUS", "Internet")], "pass"),
])
def test_dual_stack_subnet_routes_the_ipv6_prefix_too(extra_routes: list[Route], status: str) -> None:
    s = aml_scenario(subnet_prefix=["10.0.1.0/24", "ace:cab:deca:deed::/64"])
    s.vnet["properties"]["addressSpace"]["addressPrefixes"] = ["10.0.0.0/16", "ace:cab:deca::/48"]
    table = s.builder.route_table(routes=DEFAULT_TO_APPLIANCE + batch_udrs() + extra_routes)
    s.subnet["properties"]["routeTable"] = {"id": table["id"]}
    expect(run(s.builder), {(CHECK, s.compute_id): status})
