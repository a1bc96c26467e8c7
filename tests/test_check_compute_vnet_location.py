import json

from amlaudit.checks.compute import compute_vnet_location
from tests.estates import ARM_EXAMPLES, OTHER_SUB, EstateBuilder


def _verdicts(b: EstateBuilder):
    return {v.resource_id: v for v in compute_vnet_location(b.estate())}


def _cluster(b: EstateBuilder, **vnet_kwargs):
    vnet = b.vnet(**vnet_kwargs)
    subnet = b.subnet(vnet, "snet-train", "10.0.1.0/24")
    ws = b.workspace()
    return ws, vnet, subnet


def test_pass_when_vnet_in_workspace_subscription_and_region(builder: EstateBuilder) -> None:
    ws, vnet, subnet = _cluster(builder)
    cpu = builder.aml_compute(ws, "cpu", subnet)
    v = _verdicts(builder)[cpu["id"]]
    assert v.status == "pass"
    assert v.evidence["vnet_id"] == vnet["id"]
    assert v.evidence["vnet_location"] == v.evidence["workspace_location"] == "eastus"


def test_fail_when_vnet_in_another_region(builder: EstateBuilder) -> None:
    ws, _, subnet = _cluster(builder, location="westeurope")
    cpu = builder.aml_compute(ws, "cpu", subnet)
    v = _verdicts(builder)[cpu["id"]]
    assert v.status == "fail"
    assert v.evidence["vnet_location"] == "westeurope" and v.evidence["workspace_location"] == "eastus"
    assert "westeurope" in v.message


def test_fail_when_vnet_in_another_subscription(builder: EstateBuilder) -> None:
    ws, _, subnet = _cluster(builder, sub=OTHER_SUB)
    cpu = builder.aml_compute(ws, "cpu", subnet)
    v = _verdicts(builder)[cpu["id"]]
    assert v.status == "fail"
    assert v.evidence["vnet_subscription"] == OTHER_SUB
    assert OTHER_SUB in v.message


def test_subscription_compares_case_insensitively_and_locations_normalized(builder: EstateBuilder) -> None:
    ws, vnet, subnet = _cluster(builder, location="East US")
    vnet["id"] = vnet["id"].replace(builder.subscription, builder.subscription.upper())
    subnet["id"] = subnet["id"].replace(builder.subscription, builder.subscription.upper())
    cpu = builder.aml_compute(ws, "cpu", subnet["id"].lower())
    v = _verdicts(builder)[cpu["id"]]
    assert v.status == "pass", v.message


def test_not_applicable_without_subnet(builder: EstateBuilder) -> None:
    ws = builder.workspace()
    cpu = builder.aml_compute(ws, "cpu", None)
    v = _verdicts(builder)[cpu["id"]]
    assert v.status == "not_applicable"
    assert "no subnet" in v.message


def test_error_on_placeholder_subnet_id(builder: EstateBuilder) -> None:
    ws = builder.workspace()
    cpu = builder.aml_compute(ws, "cpu", "test-subnet-resource-id")
    v = _verdicts(builder)[cpu["id"]]
    assert v.status == "error"
    assert "not an ARM resource id" in v.message


def test_error_when_vnet_could_not_be_read(builder: EstateBuilder) -> None:
    ws, vnet, subnet = _cluster(builder)
    cpu = builder.aml_compute(ws, "cpu", subnet)
    builder.drop(vnet)
    builder.collection_error(vnet["id"], status=403)
    v = _verdicts(builder)[cpu["id"]]
    assert v.status == "error"
    assert "403" in v.message


def test_error_when_workspace_location_missing(builder: EstateBuilder) -> None:
    ws, _, subnet = _cluster(builder)
    del ws["location"]
    cpu = builder.aml_compute(ws, "cpu", subnet, location="eastus")
    v = _verdicts(builder)[cpu["id"]]
    assert v.status == "error"
    assert "region" in v.message


def test_fail_wins_over_unknown_part(builder: EstateBuilder) -> None:
    ws, vnet, subnet = _cluster(builder, sub=OTHER_SUB)
    del vnet["location"]
    cpu = builder.aml_compute(ws, "cpu", subnet)
    v = _verdicts(builder)[cpu["id"]]
    assert v.status == "fail"
    assert v.evidence["unknown"] and "region" in v.evidence["unknown"][0]


def test_error_when_workspace_computes_could_not_be_listed(builder: EstateBuilder) -> None:
    ws = builder.workspace()
    builder.collection_error(ws["id"] + "/computes", status=403)
    (v,) = _verdicts(builder).values()
    assert v.status == "error"
    assert v.resource_id == ws["id"] + "/computes"
    assert "403" in v.message


def test_real_amlcompute_sample_with_placeholder_subnet_is_error(builder: EstateBuilder) -> None:
    sample = json.loads((ARM_EXAMPLES / "machinelearningservices-2024-04-01-Compute__get__AmlCompute.json").read_text())
    body = sample["responses"]["200"]["body"]
    ws_id = body["id"].rsplit("/computes/", 1)[0]
    builder.resources.append({"id": ws_id, "name": "workspaces123", "type": "Microsoft.MachineLearningServices/workspaces",
                              "location": "eastus2", "properties": {}})
    builder.resources.append(body)
    v = _verdicts(builder)[body["id"]]
    assert v.status == "error" and "test-subnet-resource-id" in v.message
