from amlaudit.auditor.check import Settings
from amlaudit.checks.compute import compute_network_quota
from tests.estates import OTHER_SUB, SUB, EstateBuilder

REGION_ID = f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/eastus"


def _verdicts(b: EstateBuilder, planned: int = 1):
    return {v.resource_id: v for v in compute_network_quota(b.estate(), Settings(planned_new_clusters=planned))}


def _cluster(b: EstateBuilder, vnet_name="vnet-ml", **vnet_kwargs):
    vnet = b.vnet(vnet_name, **vnet_kwargs)
    subnet = b.subnet(vnet, "snet-train", "10.0.1.0/24")
    ws = b.workspace(f"mlw-{vnet_name}")
    return b.aml_compute(ws, "cpu", subnet), vnet


def test_pass_when_every_quota_has_room(builder: EstateBuilder) -> None:
    _cluster(builder)
    builder.network_usages(nsgs=(10, 5000), public_ips=(12, 1000), load_balancers=(3, 1000))
    v = _verdicts(builder)[REGION_ID]
    assert v.status == "pass", v.message
    by_name = {q["name"]: q for q in v.evidence["quotas"]}
    assert by_name["PublicIPAddresses"]["available"] == 988
    assert v.evidence["planned_new_clusters"] == 1


def test_fail_when_public_ips_exhausted(builder: EstateBuilder) -> None:
    _cluster(builder)
    builder.network_usages(public_ips=(1000, 1000))
    v = _verdicts(builder)[REGION_ID]
    assert v.status == "fail"
    assert "PublicIPAddresses 1000 of 1000 used, 0 left" in v.message
    assert [q["name"] for q in v.evidence["quotas"] if not q["sufficient"]] == ["PublicIPAddresses"]


def test_planned_clusters_setting_is_the_threshold(builder: EstateBuilder) -> None:
    _cluster(builder)
    builder.network_usages(load_balancers=(995, 1000))
    assert _verdicts(builder, planned=5)[REGION_ID].status == "pass"
    v = _verdicts(builder, planned=6)[REGION_ID]
    assert v.status == "fail" and v.evidence["planned_new_clusters"] == 6


def test_error_when_usages_not_collected(builder: EstateBuilder) -> None:
    _cluster(builder)
    builder.usages = None
    v = _verdicts(builder)[REGION_ID]
    assert v.status == "error" and "not collected" in v.message


def test_error_when_region_block_missing_names_the_collection_error(builder: EstateBuilder) -> None:
    _cluster(builder)
    builder.network_usages(location="westus")
    builder.collection_error(REGION_ID + "/usages?api-version=2024-03-01", status=403)
    v = _verdicts(builder)[REGION_ID]
    assert v.status == "error" and "403" in v.message


def test_error_when_a_quota_is_not_reported(builder: EstateBuilder) -> None:
    _cluster(builder)
    block = builder.network_usages()
    block["value"] = [u for u in block["value"] if u["name"]["value"] != "LoadBalancers"]
    v = _verdicts(builder)[REGION_ID]
    assert v.status == "error"
    assert v.evidence["missing_quotas"] == ["LoadBalancers"]


def test_fail_wins_over_a_missing_quota(builder: EstateBuilder) -> None:
    _cluster(builder)
    block = builder.network_usages(nsgs=(5000, 5000))
    block["value"] = [u for u in block["value"] if u["name"]["value"] != "LoadBalancers"]
    v = _verdicts(builder)[REGION_ID]
    assert v.status == "fail" and "LoadBalancers" in v.message


def test_one_subject_per_subscription_and_region(builder: EstateBuilder) -> None:
    _cluster(builder, "vnet-a")
    _cluster(builder, "vnet-b", location="East US")
    _cluster(builder, "vnet-c", location="westeurope")
    _cluster(builder, "vnet-d", sub=OTHER_SUB)
    builder.network_usages()
    builder.network_usages(location="westeurope", nsgs=(5000, 5000))
    verdicts = _verdicts(builder)
    assert set(verdicts) == {
        REGION_ID,
        f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/westeurope",
        f"/subscriptions/{OTHER_SUB}/providers/Microsoft.Network/locations/eastus",
    }
    assert verdicts[REGION_ID].status == "pass"
    assert len(verdicts[REGION_ID].evidence["vnets"]) == 2
    assert verdicts[f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/westeurope"].status == "fail"
    assert verdicts[f"/subscriptions/{OTHER_SUB}/providers/Microsoft.Network/locations/eastus"].status == "error"


def test_usages_match_subscription_case_insensitively(builder: EstateBuilder) -> None:
    _cluster(builder)
    builder.network_usages(sub=SUB.upper(), location="East US")
    assert _verdicts(builder)[REGION_ID].status == "pass"


def test_cluster_with_unknown_vnet_is_error_on_the_cluster(builder: EstateBuilder) -> None:
    ws = builder.workspace()
    cpu = builder.aml_compute(ws, "cpu", "test-subnet-resource-id")
    builder.network_usages()
    v = _verdicts(builder)[cpu["id"]]
    assert v.status == "error" and "quota region" in v.message


def test_cluster_without_subnet_draws_on_no_customer_vnet(builder: EstateBuilder) -> None:
    builder.aml_compute(builder.workspace(), "cpu", None)
    builder.network_usages()
    assert _verdicts(builder) == {}
