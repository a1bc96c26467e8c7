from amlaudit.checks.compute import compute_vnet_locks
from tests.estates import NET_RG, SUB, EstateBuilder


def _verdicts(b: EstateBuilder):
    return {v.resource_id: v for v in compute_vnet_locks(b.estate())}


def _vnet_with_cluster(b: EstateBuilder, name: str = "vnet-ml"):
    vnet = b.vnet(name)
    subnet = b.subnet(vnet, "snet-train", "10.0.1.0/24")
    b.aml_compute(b.workspace(f"mlw-{name}"), "cpu", subnet)
    return vnet


def test_pass_without_locks(builder: EstateBuilder) -> None:
    vnet = _vnet_with_cluster(builder)
    v = _verdicts(builder)[vnet["id"]]
    assert v.status == "pass"
    assert v.evidence["read_only_locks"] == [] and v.evidence["cannot_delete_locks"] == []


def test_cannot_delete_lock_passes_and_is_named(builder: EstateBuilder) -> None:
    vnet = _vnet_with_cluster(builder)
    lock = builder.lock(f"/subscriptions/{SUB}/resourceGroups/{NET_RG}", level="CanNotDelete", name="keep-network")
    v = _verdicts(builder)[vnet["id"]]
    assert v.status == "pass"
    assert [d["id"] for d in v.evidence["cannot_delete_locks"]] == [lock["id"]]
    assert lock["id"] in v.message


def test_fail_on_read_only_lock_on_the_vnet(builder: EstateBuilder) -> None:
    vnet = _vnet_with_cluster(builder)
    lock = builder.lock(vnet["id"])
    v = _verdicts(builder)[vnet["id"]]
    assert v.status == "fail"
    (found,) = v.evidence["read_only_locks"]
    assert found["id"] == lock["id"] and found["scope_kind"] == "virtual network"


def test_fail_on_read_only_lock_on_resource_group_in_lower_case(builder: EstateBuilder) -> None:
    vnet = _vnet_with_cluster(builder)
    lock = builder.lock(f"/subscriptions/{SUB}/resourcegroups/{NET_RG.upper()}", level="readonly")
    v = _verdicts(builder)[vnet["id"]]
    assert v.status == "fail"
    assert v.evidence["read_only_locks"][0]["scope_kind"] == "resource group"
    assert lock["id"] in v.message


def test_fail_on_read_only_lock_on_subscription(builder: EstateBuilder) -> None:
    vnet = _vnet_with_cluster(builder)
    builder.lock(f"/subscriptions/{SUB}", name="freeze")
    v = _verdicts(builder)[vnet["id"]]
    assert v.status == "fail"
    assert v.evidence["read_only_locks"][0]["scope_kind"] == "subscription"


def test_lock_on_another_resource_group_does_not_count(builder: EstateBuilder) -> None:
    vnet = _vnet_with_cluster(builder)
    builder.lock(f"/subscriptions/{SUB}/resourceGroups/rg-other")
    assert _verdicts(builder)[vnet["id"]].status == "pass"


def test_error_when_locks_not_collected(builder: EstateBuilder) -> None:
    vnet = _vnet_with_cluster(builder)
    builder.locks = None
    v = _verdicts(builder)[vnet["id"]]
    assert v.status == "error" and "not collected" in v.message


def test_error_when_a_covering_lock_list_failed(builder: EstateBuilder) -> None:
    vnet = _vnet_with_cluster(builder)
    builder.collection_error(f"/subscriptions/{SUB}/providers/Microsoft.Authorization/locks", status=403)
    v = _verdicts(builder)[vnet["id"]]
    assert v.status == "error"
    assert v.evidence["lock_listing_errors"][0]["status"] == 403


def test_error_on_unrecognised_lock_level(builder: EstateBuilder) -> None:
    vnet = _vnet_with_cluster(builder)
    builder.lock(vnet["id"], level="NotSpecified")
    assert _verdicts(builder)[vnet["id"]].status == "error"


def test_error_when_vnet_could_not_be_read(builder: EstateBuilder) -> None:
    vnet = _vnet_with_cluster(builder)
    builder.drop(vnet)
    builder.collection_error(vnet["id"], status=404, code="ResourceNotFound", message="not found")
    v = _verdicts(builder)[vnet["id"]]
    assert v.status == "error" and "404" in v.message


def test_one_subject_per_vnet(builder: EstateBuilder) -> None:
    vnet = builder.vnet()
    a = builder.subnet(vnet, "snet-a", "10.0.1.0/24")
    b = builder.subnet(vnet, "snet-b", "10.0.2.0/24")
    ws = builder.workspace()
    builder.aml_compute(ws, "cpu", a)
    builder.aml_compute(ws, "gpu", b["id"].lower())
    verdicts = _verdicts(builder)
    assert list(verdicts) == [vnet["id"]]
    assert len(verdicts[vnet["id"]].evidence["computes"]) == 2


def test_placeholder_subnet_is_error_on_the_cluster(builder: EstateBuilder) -> None:
    cpu = builder.aml_compute(builder.workspace(), "cpu", "test-subnet-resource-id")
    v = _verdicts(builder)[cpu["id"]]
    assert v.status == "error"
