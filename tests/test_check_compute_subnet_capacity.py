from amlaudit.checks.compute import compute_subnet_capacity
from tests.estates import EstateBuilder


def _verdicts(b: EstateBuilder):
    return {v.resource_id: v for v in compute_subnet_capacity(b.estate())}


def _subnet(b: EstateBuilder, prefix="10.0.1.0/28", ip_configurations=0):
    vnet = b.vnet()
    return b.workspace(), b.subnet(vnet, "snet-train", prefix, ip_configurations=ip_configurations)


def test_pass_when_free_addresses_cover_growth(builder: EstateBuilder) -> None:
    ws, subnet = _subnet(builder, "10.0.1.0/28", ip_configurations=2)  # 16 - 5 = 11 usable, 9 free
    builder.aml_compute(ws, "cpu", subnet, max_nodes=6, current_nodes=2)  # can add 4
    builder.aml_compute(ws, "gpu", subnet, max_nodes=5, current_nodes=0)  # can add 5
    v = _verdicts(builder)[subnet["id"]]
    assert v.status == "pass", v.message
    assert (v.evidence["usable_address_count"], v.evidence["ip_configuration_count"], v.evidence["free_ip_count"]) == (11, 2, 9)
    assert v.evidence["required_ip_count"] == 9
    assert sorted(c["demand"] for c in v.evidence["clusters"]) == [4, 5]


def test_fail_when_one_address_short(builder: EstateBuilder) -> None:
    ws, subnet = _subnet(builder, "10.0.1.0/28", ip_configurations=3)  # 8 free
    builder.aml_compute(ws, "cpu", subnet, max_nodes=6, current_nodes=2)
    builder.aml_compute(ws, "gpu", subnet, max_nodes=5, current_nodes=0)
    v = _verdicts(builder)[subnet["id"]]
    assert v.status == "fail"
    assert v.evidence["free_ip_count"] == 8 and v.evidence["required_ip_count"] == 9
    assert "1 would get no address" in v.message


def test_shared_subnet_is_one_subject_across_workspaces(builder: EstateBuilder) -> None:
    vnet = builder.vnet()
    subnet = builder.subnet(vnet, "snet-train", "10.0.1.0/29")  # 3 usable
    builder.aml_compute(builder.workspace("mlw-a"), "cpu", subnet, max_nodes=2)
    builder.aml_compute(builder.workspace("mlw-b"), "cpu", subnet["id"].lower(), max_nodes=2)
    verdicts = _verdicts(builder)
    assert list(verdicts) == [subnet["id"]]
    assert verdicts[subnet["id"]].status == "fail"
    assert verdicts[subnet["id"]].evidence["required_ip_count"] == 4


def test_plural_prefixes_summed_and_ipv6_ignored(builder: EstateBuilder) -> None:
    ws, subnet = _subnet(builder, ["10.0.1.0/28", "10.0.2.0/29", "fd00:db8:deca::/64"])
    builder.aml_compute(ws, "cpu", subnet, max_nodes=14)
    v = _verdicts(builder)[subnet["id"]]
    assert v.status == "pass", v.message
    assert v.evidence["usable_address_count"] == 11 + 3
    assert v.evidence["ignored_ipv6_prefixes"] == ["fd00:db8:deca::/64"]


def test_cluster_above_its_maximum_adds_no_demand(builder: EstateBuilder) -> None:
    ws, subnet = _subnet(builder, "10.0.1.0/29", ip_configurations=3)  # 0 free
    builder.aml_compute(ws, "cpu", subnet, max_nodes=2, current_nodes=3)
    v = _verdicts(builder)[subnet["id"]]
    assert v.status == "pass"
    assert v.evidence["clusters"][0]["demand"] == 0


def test_error_when_max_node_count_missing(builder: EstateBuilder) -> None:
    ws, subnet = _subnet(builder, "10.0.1.0/24")
    cpu = builder.aml_compute(ws, "cpu", subnet)
    del cpu["properties"]["properties"]["scaleSettings"]["maxNodeCount"]
    v = _verdicts(builder)[subnet["id"]]
    assert v.status == "error"
    assert "maxNodeCount" in v.message


def test_error_when_scale_settings_missing(builder: EstateBuilder) -> None:
    ws, subnet = _subnet(builder, "10.0.1.0/24")
    cpu = builder.aml_compute(ws, "cpu", subnet)
    del cpu["properties"]["properties"]["scaleSettings"]
    assert _verdicts(builder)[subnet["id"]].status == "error"


def test_fail_when_known_demand_exceeds_even_with_an_unknown_cluster(builder: EstateBuilder) -> None:
    ws, subnet = _subnet(builder, "10.0.1.0/29")  # 3 free
    builder.aml_compute(ws, "cpu", subnet, max_nodes=10)
    gpu = builder.aml_compute(ws, "gpu", subnet)
    gpu["properties"]["properties"]["scaleSettings"]["maxNodeCount"] = "lots"
    v = _verdicts(builder)[subnet["id"]]
    assert v.status == "fail"
    assert any("gpu" in u for u in v.evidence["unknown"])


def test_missing_current_count_passes_only_if_the_whole_maximum_fits(builder: EstateBuilder) -> None:
    ws, subnet = _subnet(builder, "10.0.1.0/28")  # 11 free
    cpu = builder.aml_compute(ws, "cpu", subnet, max_nodes=11, current_nodes=5)
    del cpu["properties"]["properties"]["currentNodeCount"]
    assert _verdicts(builder)[subnet["id"]].status == "pass"
    cpu["properties"]["properties"]["scaleSettings"]["maxNodeCount"] = 12
    v = _verdicts(builder)[subnet["id"]]
    assert v.status == "error"
    assert "currentNodeCount" in v.message


def test_error_when_subnet_missing_from_its_vnet(builder: EstateBuilder) -> None:
    ws, subnet = _subnet(builder)
    vnet_id = subnet["id"].rsplit("/subnets/", 1)[0]
    cpu = builder.aml_compute(ws, "cpu", vnet_id + "/subnets/snet-gone")
    v = _verdicts(builder)[vnet_id + "/subnets/snet-gone"]
    assert v.status == "error"
    assert "no such subnet" in v.message
    assert v.evidence["computes"] == [cpu["id"]]


def test_error_on_malformed_prefix(builder: EstateBuilder) -> None:
    ws, subnet = _subnet(builder, "10.0.1.0/33")
    builder.aml_compute(ws, "cpu", subnet)
    v = _verdicts(builder)[subnet["id"]]
    assert v.status == "error" and "10.0.1.0/33" in v.message


def test_error_when_subnet_has_no_prefix(builder: EstateBuilder) -> None:
    ws, subnet = _subnet(builder)
    del subnet["properties"]["addressPrefix"]
    builder.aml_compute(ws, "cpu", subnet)
    assert _verdicts(builder)[subnet["id"]].status == "error"


def test_unlisted_workspace_blocks_a_pass_but_not_a_fail(builder: EstateBuilder) -> None:
    ws, subnet = _subnet(builder, "10.0.1.0/24")
    builder.aml_compute(ws, "cpu", subnet, max_nodes=4)
    other = builder.workspace("mlw-other")
    builder.collection_error(other["id"] + "/computes", status=500, code="InternalServerError")
    verdicts = _verdicts(builder)
    assert verdicts[subnet["id"]].status == "error"
    assert verdicts[other["id"] + "/computes"].status == "error"
    builder.aml_compute(ws, "big", subnet, max_nodes=500)
    assert _verdicts(builder)[subnet["id"]].status == "fail"


def test_computes_without_subnet_are_not_subjects(builder: EstateBuilder) -> None:
    ws = builder.workspace()
    builder.aml_compute(ws, "cpu", None)
    assert _verdicts(builder) == {}
