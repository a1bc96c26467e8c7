"""Longest-prefix routing of address sets over user and system routes."""

from __future__ import annotations

from typing import Any

from amlaudit.auditor.netpolicy import AddressSet, Endpoint, compile_route_table, describe

VNET = AddressSet.parse("10.1.0.0/16")


def route(name: str, prefix: str, next_hop: str, next_hop_ip: str | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {"addressPrefix": prefix, "nextHopType": next_hop, "provisioningState": "Succeeded"}
    if next_hop_ip:
        properties["nextHopIpAddress"] = next_hop_ip
    return {"name": name, "id": f"/rt/routes/{name}", "properties": properties}


def table(*routes: dict[str, Any]) -> dict[str, Any]:
    return {"name": "compute-rt", "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/routeTables/compute-rt",
            "properties": {"routes": list(routes)}}


def test_more_specific_route_steals_part_of_a_batch_prefix(tags_2020) -> None:
    batch = tags_2020.regional_or_global("BatchNodeManagement", "eastus").only(4)
    # 20.42.6.224/27 is a Batch prefix; a /28 inside it goes to a firewall.
    rt = table(
        route("batch-internet", "20.42.6.224/27", "Internet"),
        route("to-firewall", "20.42.6.240/28", "VirtualAppliance", "10.1.0.4"),
        route("default-to-firewall", "0.0.0.0/0", "VirtualAppliance", "10.1.0.4"),
    )
    verdict = compile_route_table(rt, tags_2020, VNET).route(Endpoint.of_tag(batch))
    assert not verdict.all_via("Internet")
    stolen = verdict.addresses_via("VirtualAppliance")
    assert AddressSet.parse("20.42.6.240/28") <= stolen
    assert "20.42.6.230" not in stolen
    assert verdict.addresses_via("Internet") == AddressSet.parse("20.42.6.224/28")
    by_route = {part.route.name: part for part in verdict.parts}
    assert by_route["to-firewall"].addresses == AddressSet.parse("20.42.6.240/28")
    assert by_route["to-firewall"].route.next_hop_ip == "10.1.0.4"
    # every other Batch prefix follows the user default route, not the system one
    assert by_route["default-to-firewall"].addresses == batch.addresses - AddressSet.parse("20.42.6.224/27")
    assert all(not part.route.is_system for part in verdict.parts)
    assert verdict.is_complete
    text = describe(verdict)
    assert "to-firewall" in text and "VirtualAppliance 10.1.0.4" in text


def test_without_user_routes_the_system_default_route_is_internet(tags) -> None:
    batch = tags.regional_or_global("BatchNodeManagement", "eastus")  # IPv4 and IPv6 prefixes
    verdict = compile_route_table(None, tags).route(batch.addresses)
    assert verdict.all_via("internet")
    assert {part.route.address_prefix for part in verdict.parts} == {"0.0.0.0/0", "::/0"}
    assert all(part.route.is_system for part in verdict.parts)


def test_user_route_wins_a_tie_with_a_system_route(tags) -> None:
    rt = table(route("forced-tunnel", "0.0.0.0/0", "VirtualNetworkGateway"))
    verdict = compile_route_table(rt, tags, VNET).route(AddressSet.parse(["52.0.0.0/8", "10.1.5.0/24", "2001:db8::/64"]))
    assert verdict.addresses_via("VirtualNetworkGateway") == AddressSet.parse("52.0.0.0/8")
    assert verdict.addresses_via("VnetLocal") == AddressSet.parse("10.1.5.0/24")  # the VNet's own route is longer
    assert verdict.addresses_via("Internet") == AddressSet.parse("2001:db8::/64")  # IPv6 default is untouched


def test_private_ranges_outside_the_vnet_are_dropped_by_system_routes(tags) -> None:
    verdict = compile_route_table(None, tags, VNET).route(AddressSet.parse(["10.2.0.0/16", "192.168.1.0/24", "10.1.0.0/24"]))
    assert verdict.addresses_via("None") == AddressSet.parse(["10.2.0.0/16", "192.168.1.0/24"])
    assert verdict.addresses_via("VnetLocal") == AddressSet.parse("10.1.0.0/24")


def test_service_tag_as_route_prefix(tags) -> None:
    rt = table(
        route("batch-direct", "BatchNodeManagement.EastUS", "Internet"),
        route("all-to-firewall", "0.0.0.0/0", "VirtualAppliance", "10.1.0.4"),
    )
    batch = tags.regional_or_global("BatchNodeManagement", "eastus").only(4)
    verdict = compile_route_table(rt, tags, VNET).route(Endpoint.of_tag(batch))
    assert verdict.all_via("Internet")
    assert [part.route.name for part in verdict.parts] == ["batch-direct"]


def test_explicit_prefix_beats_tag_route_of_equal_length(tags) -> None:
    batch = tags.regional_or_global("BatchNodeManagement", "eastus").only(4)
    first_prefix = batch.prefixes[0]
    rt = table(
        route("batch-direct", "BatchNodeManagement.EastUS", "Internet"),
        route("one-prefix-to-firewall", first_prefix, "VirtualAppliance", "10.1.0.4"),
    )
    verdict = compile_route_table(rt, tags, VNET).route(batch.addresses)
    assert verdict.addresses_via("VirtualAppliance") == AddressSet.parse(first_prefix)


def test_unknown_tag_route_is_unresolved(tags) -> None:
    rt = table(route("mystery", "NoSuchTag", "Internet"))
    verdict = compile_route_table(rt, tags, VNET).route(AddressSet.parse("52.0.0.0/8"))
    assert not verdict.is_complete
    assert verdict.unresolved[0].kind == "unknown-service-tag" and verdict.unresolved[0].value == "NoSuchTag"


def test_route_table_without_routes_fails_closed(tags) -> None:
    verdict = compile_route_table({"name": "rt", "properties": {}}, tags).route(AddressSet.parse("52.0.0.0/8"))
    assert not verdict.is_complete


def test_real_arm_route_table_example(tags, sample) -> None:
    body = sample("arm-examples/network-2023-09-01-RouteTableGet.json")["responses"]["200"]["body"]
    verdict = compile_route_table(body, tags).route(AddressSet.parse(["10.0.3.0/24", "10.0.4.0/24", "52.1.1.1"]))
    assert verdict.addresses_via("VirtualNetworkGateway") == AddressSet.parse("10.0.3.0/24")
    assert verdict.addresses_via("None") == AddressSet.parse("10.0.4.0/24")
    assert verdict.addresses_via("Internet") == AddressSet.parse("52.1.1.1")
    gateway_part = next(part for part in verdict.parts if part.route.next_hop_type == "VirtualNetworkGateway")
    assert gateway_part.route.name == "route1" and gateway_part.route.route_table_name == "testrt"
