"""Which resources are subjects, and which address stands for "the machine".

- experimentation compute: an AmlCompute whose properties.properties.subnet.id is set, or an attached
  VirtualMachine / HDInsight compute whose NIC sits in a subnet.
- compute-subnet-capacity, compute-network-quota, compute-vnet-locks: subjects exist only where a VNet
  hosts AmlCompute.
- attached-compute-ssh: "to the machine's private IP" — the VM NIC's private address, not the address
  the workspace uses to reach the machine (often its public IP or DNS name).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.acceptance.harness import NOT_APPLICABLE, expect, run
from tests.acceptance.scenarios import add_workspace_compute, aml_scenario, hdinsight_cluster, vm_scenario
from tests.acceptance2.kit import allow_in, attach_route_table, deny_out, replace_rules
from tests.estates import EstateBuilder

SSH = "attached-compute-ssh"
UNDECIDED_OR_NA = {"error", NOT_APPLICABLE}


def _ssh_to(destination: str) -> dict[str, Any]:
    return allow_in("AllowAmlSsh", 100, "AzureMachineLearning", "22", "*", destination)


# -- the machine's private IP ------------------------------------------------------------------------------


@pytest.mark.parametrize(("nic_destination", "status"), [("10.0.3.4/32", "pass"), ("52.170.1.10/32", "fail")])
def test_vm_attached_by_public_address_is_judged_on_its_private_ip(nic_destination: str, status: str) -> None:
    # The workspace reaches the VM at 52.170.1.10 (its public IP); NSGs see the private 10.0.3.4.
    s = vm_scenario(nic_rules=[_ssh_to(nic_destination)])
    s.compute["properties"]["properties"]["address"] = "52.170.1.10"
    expect(run(s.builder), {(SSH, s.compute_id): status})


def test_vm_attached_by_dns_name_is_judged_on_its_private_ip() -> None:
    s = vm_scenario(nic_rules=[_ssh_to("10.0.3.4")])
    s.compute["properties"]["properties"]["address"] = "dsvm-ml.eastus.cloudapp.azure.com"
    expect(run(s.builder), {(SSH, s.compute_id): "pass"})


def test_vm_primary_ip_configuration_is_the_private_ip() -> None:
    # A second, non-primary IP configuration on the NIC: the allow names the primary address only.
    s = vm_scenario(nic_rules=[_ssh_to("10.0.3.4")])
    configs = s.nic["properties"]["ipConfigurations"]
    second = {"name": "ipconfig2", "id": configs[0]["id"].replace("ipconfig1", "ipconfig2"),
              "properties": {**configs[0]["properties"], "privateIPAddress": "10.0.3.9", "primary": False}}
    configs.append(second)
    expect(run(s.builder), {(SSH, s.compute_id): "pass"})


def test_vm_unreadable_makes_outbound_undecidable() -> None:
    s = vm_scenario()
    s.builder.drop(s.vm)
    s.builder.collection_error(s.vm["id"])
    expect(run(s.builder), {("compute-outbound-vnet", s.compute_id): "error",
                            ("compute-outbound-internet", s.compute_id): "error"})


# -- subjects that exist only with AmlCompute --------------------------------------------------------------


def test_vm_only_estate_has_no_amlcompute_subjects() -> None:
    s = vm_scenario()
    findings = run(s.builder).result.findings
    only_aml = {"compute-subnet-capacity", "compute-network-quota", "compute-vnet-locks", "compute-batch-inbound",
                "compute-remote-login", "compute-forced-tunneling", "compute-vnet-location"}
    assert [f for f in findings if f.check_id in only_aml and f.status != NOT_APPLICABLE] == []
    # ... while the rows for VirtualMachine computes do run.
    expect(run(s.builder), {("compute-outbound-vnet", s.compute_id): "pass", ("attached-compute-ubuntu", s.compute_id): "pass"})


def test_vm_rows_do_not_reach_amlcompute() -> None:
    s = aml_scenario()
    findings = run(s.builder).result.findings
    assert [f for f in findings if f.check_id in {"attached-compute-ubuntu", SSH} and f.status != NOT_APPLICABLE] == []


@pytest.mark.parametrize("subnet_value", [None, {"id": None}, {"id": ""}])
def test_amlcompute_without_a_subnet_id_is_not_experimentation_compute(subnet_value: Any) -> None:
    s = aml_scenario()
    props = s.compute["properties"]["properties"]
    if subnet_value is None:
        props["subnet"] = None
    else:
        props["subnet"] = subnet_value
    sid, kid = s.storage["id"], s.key_vault["id"]
    expect(run(s.builder), {("storage-vnet-rule", sid): NOT_APPLICABLE, ("storage-network-restricted", sid): NOT_APPLICABLE,
                            ("keyvault-vnet-rule", kid): NOT_APPLICABLE, ("keyvault-network-restricted", kid): NOT_APPLICABLE,
                            ("storage-trusted-services", sid): "pass"})


def test_amlcompute_without_a_subnet_is_never_passed_on_vnet_rows() -> None:
    # Not in a VNet: rows about "the VNet" / "the compute subnet" cannot pass (or fail) it.
    s = aml_scenario()
    s.compute["properties"]["properties"].pop("subnet")
    expect(run(s.builder), {(c, s.compute_id): UNDECIDED_OR_NA
                            for c in ("compute-vnet-location", "compute-batch-inbound", "compute-outbound-vnet",
                                      "compute-forced-tunneling", "compute-remote-login")})


@pytest.mark.parametrize(("in_vnet", "status"), [(True, "fail"), (False, NOT_APPLICABLE)])
def test_hdinsight_outside_a_vnet_is_not_experimentation_compute(in_vnet: bool, status: str) -> None:
    b = EstateBuilder()
    vnet = b.vnet()
    subnet = b.subnet(vnet, "hdi", "10.0.5.0/24", service_endpoints=("Microsoft.Storage",))
    storage = b.storage_account(default_action="Deny", subnets=[])
    ws = b.workspace(storage=storage, key_vault=b.key_vault())
    cluster = hdinsight_cluster(b, "hdi-spark", vnet, subnet)
    if not in_vnet:
        for role in cluster["properties"]["computeProfile"]["roles"]:
            del role["virtualNetworkProfile"]
    add_workspace_compute(b, ws, "hdi", "HDInsight", {"address": "hdi-spark-ssh.azurehdinsight.net", "sshPort": 22},
                          resource_id=cluster["id"])
    expect(run(b), {("storage-vnet-rule", storage["id"]): status})


# -- outbound subjects ------------------------------------------------------------------------------------------


def test_vm_and_amlcompute_in_one_subnet_are_two_outbound_subjects() -> None:
    # A VM NIC in the AmlCompute subnet, its own NIC NSG denying Storage: only the VM fails.
    s = aml_scenario()
    nic_nsg = s.builder.nsg("nsg-dsvm-nic", rules=[deny_out("DenyStorage", 100, "Storage.EastUS", "443", "Tcp")])
    nic = s.builder.nic("nic-dsvm", s.subnet, "10.0.1.200", nsg=nic_nsg)
    vm_compute = s.builder.vm_compute(s.workspace, "dsvm", s.builder.vm("dsvm", nic))
    expect(run(s.builder), {("compute-outbound-internet", s.compute_id): "pass",
                            ("compute-outbound-internet", vm_compute["id"]): "fail"})


def test_replacing_rules_guard() -> None:
    # Guard for replace_rules: an outbound deny on the subnet NSG changes the AmlCompute verdict.
    s = aml_scenario()
    assert s.nsg is not None
    replace_rules(s.nsg, [deny_out("DenyInternet", 100, "Internet")])
    attach_route_table(s.builder, s.subnet, [])
    expect(run(s.builder), {("compute-outbound-internet", s.compute_id): "fail"})
