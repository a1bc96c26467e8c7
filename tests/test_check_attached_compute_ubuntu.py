import pytest

from amlaudit.checks.compute import attached_compute_ubuntu
from tests.estates import EstateBuilder, rid


def _verdicts(b: EstateBuilder):
    return {v.resource_id: v for v in attached_compute_ubuntu(b.estate())}


def _attached_vm(b: EstateBuilder, **image):
    vnet = b.vnet()
    subnet = b.subnet(vnet, "snet-vm", "10.0.3.0/24")
    nic = b.nic("nic-dsvm", subnet, "10.0.3.4")
    vm = b.vm("dsvm", nic, **image)
    return b.vm_compute(b.workspace(), "dsvm", vm), vm


@pytest.mark.parametrize(("publisher", "offer"), [
    ("Canonical", "0001-com-ubuntu-server-jammy"),
    ("Canonical", "ubuntu-24_04-lts"),
    ("canonical", "UbuntuServer"),
])
def test_pass_on_canonical_ubuntu(builder: EstateBuilder, publisher: str, offer: str) -> None:
    compute, vm = _attached_vm(builder, publisher=publisher, offer=offer)
    v = _verdicts(builder)[compute["id"]]
    assert v.status == "pass"
    assert v.evidence["offer"] == offer and v.evidence["vm_id"] == vm["id"]


@pytest.mark.parametrize(("publisher", "offer"), [
    ("RedHat", "RHEL"),
    ("MicrosoftWindowsServer", "WindowsServer"),
    ("microsoft-dsvm", "ubuntu-2004"),  # Ubuntu-based but not Canonical's: the catalog's rule says fail
    ("Canonical", "some-other-product"),
])
def test_fail_on_other_images(builder: EstateBuilder, publisher: str, offer: str) -> None:
    compute, _ = _attached_vm(builder, publisher=publisher, offer=offer)
    v = _verdicts(builder)[compute["id"]]
    assert v.status == "fail"
    assert offer in v.message


def test_custom_windows_image_fails(builder: EstateBuilder) -> None:
    compute, vm = _attached_vm(builder, os_type="Windows")
    vm["properties"]["storageProfile"]["imageReference"] = {"id": rid("Microsoft.Compute/images", "win-golden")}
    v = _verdicts(builder)[compute["id"]]
    assert v.status == "fail" and "Windows" in v.message


def test_custom_linux_image_is_error(builder: EstateBuilder) -> None:
    compute, vm = _attached_vm(builder)
    image_id = rid("Microsoft.Compute/galleries", "gal") + "/images/linux-golden/versions/1.0.0"
    vm["properties"]["storageProfile"]["imageReference"] = {"id": image_id}
    v = _verdicts(builder)[compute["id"]]
    assert v.status == "error"
    assert "cannot tell the distribution" in v.message and v.evidence["custom_image_id"] == image_id


def test_vm_from_attached_disk_without_image_reference_is_error(builder: EstateBuilder) -> None:
    compute, vm = _attached_vm(builder)
    del vm["properties"]["storageProfile"]["imageReference"]
    assert _verdicts(builder)[compute["id"]].status == "error"


def test_canonical_without_offer_is_error(builder: EstateBuilder) -> None:
    compute, vm = _attached_vm(builder)
    del vm["properties"]["storageProfile"]["imageReference"]["offer"]
    assert _verdicts(builder)[compute["id"]].status == "error"


def test_error_when_vm_could_not_be_read(builder: EstateBuilder) -> None:
    compute, vm = _attached_vm(builder)
    builder.drop(vm)
    builder.collection_error(vm["id"], status=403)
    v = _verdicts(builder)[compute["id"]]
    assert v.status == "error" and "403" in v.message


def test_error_when_compute_names_no_vm(builder: EstateBuilder) -> None:
    compute, _ = _attached_vm(builder)
    del compute["properties"]["resourceId"]
    assert _verdicts(builder)[compute["id"]].status == "error"


def test_vm_id_in_lower_case_resolves(builder: EstateBuilder) -> None:
    compute, vm = _attached_vm(builder)
    compute["properties"]["resourceId"] = vm["id"].lower()
    assert _verdicts(builder)[compute["id"]].status == "pass"


def test_only_vm_computes_are_subjects(builder: EstateBuilder) -> None:
    vnet = builder.vnet()
    subnet = builder.subnet(vnet, "snet-train", "10.0.1.0/24")
    builder.aml_compute(builder.workspace(), "cpu", subnet)
    assert _verdicts(builder) == {}
