from amlaudit.checks.flows import compute_forced_tunneling
from tests.estates import EstateBuilder
from tests.flow_helpers import Cluster, split_prefix, tag_prefixes, verdict_of

BATCH_EASTUS = tag_prefixes("BatchNodeManagement.EastUS")
TO_FIREWALL = ("default-to-firewall", "0.0.0.0/0", "VirtualAppliance")


def _batch_routes(prefixes: list[str] = BATCH_EASTUS) -> list[tuple[str, str, str]]:
    """The document's UDRs: one route per Batch prefix, next hop Internet."""
    return [(f"batch-{i}", prefix, "Internet") for i, prefix in enumerate(prefixes)]


def _verdict(cluster: Cluster):
    return verdict_of(compute_forced_tunneling, cluster.builder, cluster.compute)


def test_pass_with_a_route_to_internet_for_every_batch_prefix(builder: EstateBuilder) -> None:
    v = _verdict(Cluster(builder, [], routes=[TO_FIREWALL, *_batch_routes()]))
    assert v.status == "pass", v.message
    assert v.evidence["service_tag"] == "BatchNodeManagement.EastUS"
    assert v.evidence["route_count"] == 17
    assert all("-> Internet) in rt-train" in words for words in v.evidence["routes"][:10])
    assert "17 routes of rt-train" in v.message


def test_pass_with_one_route_naming_the_batch_service_tag(builder: EstateBuilder) -> None:
    v = _verdict(Cluster(builder, [], routes=[TO_FIREWALL, ("batch", "BatchNodeManagement.EastUS", "Internet")]))
    assert v.status == "pass", v.message


def test_fail_when_the_default_route_takes_batch_to_a_firewall(builder: EstateBuilder) -> None:
    v = _verdict(Cluster(builder, [], routes=[TO_FIREWALL]))
    assert v.status == "fail"
    assert "default-to-firewall" in v.message and "VirtualAppliance" in v.message
    (part,) = v.evidence["not_via_internet"]["parts"]
    assert part["route"]["route"] == "default-to-firewall"
    assert part["addresses"]["matching_prefixes"] == 17


def test_fail_when_a_more_specific_route_steals_part_of_a_batch_prefix(builder: EstateBuilder) -> None:
    first_half, _ = split_prefix("20.42.6.224/27")
    routes = [TO_FIREWALL, *_batch_routes(), ("inspect-partner", first_half, "VirtualAppliance")]
    v = _verdict(Cluster(builder, [], routes=routes))
    assert v.status == "fail"
    assert "inspect-partner" in v.message and first_half in v.message
    (part,) = v.evidence["not_via_internet"]["parts"]
    assert part["addresses"]["cidrs"] == [first_half]
    assert "16 Batch addresses" in v.message


def test_pass_with_an_empty_route_table(builder: EstateBuilder) -> None:
    # Only the system routes: 0.0.0.0/0 -> Internet.
    v = _verdict(Cluster(builder, [], routes=[]))
    assert v.status == "pass"
    assert "system route 0.0.0.0/0 -> Internet" in v.message


def test_not_applicable_without_a_route_table(builder: EstateBuilder) -> None:
    v = _verdict(Cluster(builder, [], routes=None))
    assert v.status == "not_applicable" and "no route table" in v.message


def test_ipv6_batch_prefixes_are_ignored_for_an_ipv4_subnet(builder: EstateBuilder) -> None:
    v = _verdict(Cluster(builder, [], routes=[TO_FIREWALL, ("v6-to-firewall", "::/0", "VirtualAppliance"),
                                              *_batch_routes()]))
    assert v.status == "pass"
    assert v.evidence["service_tag_prefixes"].endswith("1 IPv6 prefix ignored)")


def test_routes_for_another_regions_batch_prefixes_fail(builder: EstateBuilder) -> None:
    routes = [TO_FIREWALL, *_batch_routes()]
    v = _verdict(Cluster(builder, [], routes=routes, location="westeurope"))
    assert v.status == "fail"
    assert v.evidence["service_tag"] == "BatchNodeManagement.WestEurope"


def test_error_when_the_route_table_could_not_be_read(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [], routes=[])
    builder.drop(cluster.route_table)
    builder.collection_error(cluster.route_table["id"], status=403)
    v = _verdict(cluster)
    assert v.status == "error" and "403" in v.message


def test_error_when_a_route_names_an_unknown_tag(builder: EstateBuilder) -> None:
    v = _verdict(Cluster(builder, [], routes=[*_batch_routes(), ("to-partner", "ContosoPartner", "VirtualAppliance")]))
    assert v.status == "error"
    assert "ContosoPartner" in v.message


def test_error_without_service_tag_data(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [], routes=[TO_FIREWALL], tags=False)
    builder.service_tags = None
    v = _verdict(cluster)
    assert v.status == "error" and "BatchNodeManagement" in v.message


def test_a_route_table_on_a_subnet_without_nsg_is_judged(builder: EstateBuilder) -> None:
    assert _verdict(Cluster(builder, None, routes=[TO_FIREWALL])).status == "fail"
