"""attached-compute-ubuntu and attached-compute-ssh.

- attached-compute-ubuntu (VirtualMachine compute, always): the VM's image is Ubuntu
  (publisher Canonical, offer containing "ubuntu").
- attached-compute-ssh (VirtualMachine or HDInsight compute, always): inbound TCP 22 from every
  AzureMachineLearning tag prefix to the machine's private IP is allowed through subnet NSG then NIC NSG.
"""

from __future__ import annotations

import pytest

from tests.acceptance.harness import expect, run
from tests.acceptance.scenarios import (
    VM_PRIVATE_IP,
    add_tags,
    add_workspace_compute,
    hdinsight_cluster,
    inbound_allow,
    set_rules,
    ssh_from_aml_rule,
    vm_scenario,
)
from tests.acceptance.tagmath import covered, entry_ipv4
from tests.estates import EstateBuilder, security_rule

UBUNTU = "attached-compute-ubuntu"
SSH = "attached-compute-ssh"

assert not covered(entry_ipv4("AzureMachineLearning.EastUS"), entry_ipv4("AzureMachineLearning.WestUS2"))


# -- attached-compute-ubuntu -----------------------------------------------------------------


@pytest.mark.parametrize(("publisher", "offer", "status"), [
    ("Canonical", "0001-com-ubuntu-server-jammy", "pass"),
    ("Canonical", "ubuntu-24_04-lts", "pass"),
    ("Canonical", "0001-com-ubuntu-pro-focal", "pass"),
    ("Canonical", "UbuntuServer", "pass"),             # the classic 16.04/18.04 offer: "containing ubuntu", any case
    ("MicrosoftWindowsServer", "WindowsServer", "fail"),
    ("Debian", "debian-12", "fail"),
    ("RedHat", "RHEL", "fail"),
    ("microsoft-dsvm", "ubuntu-2004", "fail"),         # Ubuntu-based, but the row names publisher Canonical
    ("Canonical", "sles-15-sp5", "fail"),
])
def test_image(publisher: str, offer: str, status: str) -> None:
    s = vm_scenario(publisher=publisher, offer=offer)
    expect(run(s.builder), {(UBUNTU, s.compute_id): status})


@pytest.mark.parametrize("how", ["absent", "403"])
def test_vm_unreadable_is_an_error(how: str) -> None:
    s = vm_scenario()
    s.builder.drop(s.vm)
    if how == "403":
        s.builder.collection_error(s.vm["id"])
    expect(run(s.builder), {(UBUNTU, s.compute_id): "error", (SSH, s.compute_id): "error"})


def test_lower_cased_resource_id_on_the_compute() -> None:
    s = vm_scenario()
    s.compute["properties"]["resourceId"] = s.vm["id"].lower()
    expect(run(s.builder), {(UBUNTU, s.compute_id): "pass", (SSH, s.compute_id): "pass"})


# -- attached-compute-ssh: VirtualMachine ----------------------------------------------------


def _deny_ssh(source: str = "AzureMachineLearning", priority: int = 90) -> dict:
    return security_rule("DenySsh", priority, "Inbound", "Deny", "*", source, "*", "22")


VM_CASES = {
    "both-nsgs-allow": ({}, "pass"),
    "nic-nsg-default-rules-only": ({"nic_rules": []}, "fail"),
    "subnet-nsg-default-rules-only": ({"subnet_rules": []}, "fail"),
    "no-subnet-nsg-nic-allows": ({"subnet_nsg": False}, "pass"),
    "no-nic-nsg-subnet-allows": ({"nic_nsg": False}, "pass"),
    "no-nsg-at-all": ({"subnet_nsg": False, "nic_nsg": False}, "pass"),
    "nic-nsg-denies-aml-above-allow": ({"nic_rules": [_deny_ssh(), ssh_from_aml_rule(100)]}, "fail"),
    "nic-nsg-denies-internet-above-allow": ({"nic_rules": [_deny_ssh("Internet"), ssh_from_aml_rule(100)]}, "fail"),
    "nic-nsg-denies-vnet-above-allow": ({"nic_rules": [_deny_ssh("VirtualNetwork"), ssh_from_aml_rule(100)]}, "pass"),
    "to-the-private-ip": ({"nic_rules": [ssh_from_aml_rule(destination=f"{VM_PRIVATE_IP}/32")]}, "pass"),
    "to-another-ip": ({"nic_rules": [ssh_from_aml_rule(destination="10.0.3.5/32")]}, "fail"),
    "to-VirtualNetwork": ({"subnet_rules": [ssh_from_aml_rule(destination="VirtualNetwork")]}, "pass"),
    "udp-only": ({"nic_rules": [ssh_from_aml_rule(protocol="Udp")]}, "fail"),
    "tcp-upper-case": ({"nic_rules": [ssh_from_aml_rule(protocol="TCP")]}, "pass"),
    "regional-tag": ({"nic_rules": [ssh_from_aml_rule(source="AzureMachineLearning.EastUS")]}, "pass"),
    "other-region-tag": ({"nic_rules": [ssh_from_aml_rule(source="AzureMachineLearning.WestUS2")]}, "fail"),
    "port-2222-only": ({"nic_rules": [inbound_allow("AllowSsh", 100, "AzureMachineLearning", "2222", "*")]}, "fail"),
    "from-Internet": ({"nic_rules": [inbound_allow("AllowSsh", 100, "Internet", "22")]}, "pass"),
}


@pytest.mark.parametrize(("kwargs", "status"), list(VM_CASES.values()), ids=list(VM_CASES))
def test_vm_ssh(kwargs: dict, status: str) -> None:
    s = vm_scenario(**kwargs)
    expect(run(s.builder), {(SSH, s.compute_id): status})


@pytest.mark.parametrize("missing", ["nic", "nic_nsg", "subnet_nsg", "vnet"])
def test_vm_network_piece_unreadable_is_an_error(missing: str) -> None:
    s = vm_scenario()
    s.builder.drop(getattr(s, missing))
    expect(run(s.builder), {(SSH, s.compute_id): "error"})


def test_vm_service_tags_absent_is_an_error() -> None:
    s = vm_scenario(tags=None)
    s.builder.service_tags = None
    expect(run(s.builder), {(SSH, s.compute_id): "error"})


# -- attached-compute-ssh: HDInsight ---------------------------------------------------------


def _hdinsight_estate(rules: list[dict] | None, with_cluster: bool = True) -> tuple[EstateBuilder, str]:
    b = EstateBuilder()
    vnet = b.vnet()
    nsg = b.nsg("nsg-hdi", rules=rules) if rules is not None else None
    subnet = b.subnet(vnet, "hdi", "10.0.5.0/24", nsg=nsg)
    ws = b.workspace(storage=b.storage_account(), key_vault=b.key_vault())
    cluster = hdinsight_cluster(b, "hdi-spark", vnet, subnet)
    if not with_cluster:
        b.drop(cluster)
    compute = add_workspace_compute(b, ws, "hdi", "HDInsight", {"address": "10.0.5.6", "sshPort": 22},
                                    resource_id=cluster["id"])
    b.network_usages()
    add_tags(b, "eastus")
    return b, compute["id"]


@pytest.mark.parametrize(("rules", "status"), [
    ([ssh_from_aml_rule()], "pass"),
    ([], "fail"),
    (None, "pass"),   # no NSG on the subnet
    ([_deny_ssh("Internet"), ssh_from_aml_rule(100)], "fail"),
])
def test_hdinsight_ssh(rules: list[dict] | None, status: str) -> None:
    b, compute_id = _hdinsight_estate(rules)
    audit = run(b)
    expect(audit, {(SSH, compute_id): status})
    assert audit.findings_for(UBUNTU, compute_id) == [], "attached-compute-ubuntu is for VirtualMachine computes only"


def test_hdinsight_cluster_unreadable_is_an_error() -> None:
    b, compute_id = _hdinsight_estate([ssh_from_aml_rule()], with_cluster=False)
    expect(run(b), {(SSH, compute_id): "error"})


def test_set_rules_replaces_nic_rules() -> None:
    # Guard for the helpers above: replacing a NIC NSG's rules changes the verdict.
    s = vm_scenario()
    assert s.nic_nsg is not None
    set_rules(s.nic_nsg, [])
    expect(run(s.builder), {(SSH, s.compute_id): "fail"})


def _hdinsight_with_fqdn(rules: list[dict]) -> tuple[EstateBuilder, str]:
    """An attached HDInsight compute as AML stores it: address is the cluster's SSH host name."""
    b, compute_id = _hdinsight_estate(rules)
    compute = next(r for r in b.resources if r["id"] == compute_id)
    compute["properties"]["properties"]["address"] = "hdi-spark-ssh.azurehdinsight.net"
    return b, compute_id


def test_hdinsight_with_host_name_and_subnet_wide_allow_passes() -> None:
    b, compute_id = _hdinsight_with_fqdn([ssh_from_aml_rule()])
    expect(run(b), {(SSH, compute_id): "pass"})


def test_hdinsight_with_host_name_and_default_rules_fails() -> None:
    b, compute_id = _hdinsight_with_fqdn([])
    expect(run(b), {(SSH, compute_id): "fail"})


def test_hdinsight_with_host_name_and_single_address_allow_is_an_error() -> None:
    # Which address of the subnet the head node has is unknown: the allow may or may not cover it.
    b, compute_id = _hdinsight_with_fqdn([ssh_from_aml_rule(destination="10.0.5.6/32")])
    expect(run(b), {(SSH, compute_id): "error"})


def test_publisher_spelling_is_case_insensitive() -> None:
    s = vm_scenario(publisher="canonical", offer="0001-com-ubuntu-server-focal")
    expect(run(s.builder), {(UBUNTU, s.compute_id): "pass"})


def test_vm_from_an_attached_disk_names_no_image_and_is_an_error() -> None:
    s = vm_scenario()
    profile = s.vm["properties"]["storageProfile"]
    del profile["imageReference"]
    profile["osDisk"]["createOption"] = "Attach"
    expect(run(s.builder), {(UBUNTU, s.compute_id): "error"})


def test_vm_from_a_gallery_image_is_an_error() -> None:
    # A custom image names no publisher or offer: its distribution cannot be told from ARM.
    s = vm_scenario()
    s.vm["properties"]["storageProfile"]["imageReference"] = {
        "id": f"/subscriptions/{s.builder.subscription}/resourceGroups/rg-images/providers/Microsoft.Compute/galleries/"
              "gallery1/images/ubuntu-hardened/versions/1.0.0"}
    expect(run(s.builder), {(UBUNTU, s.compute_id): "error"})
