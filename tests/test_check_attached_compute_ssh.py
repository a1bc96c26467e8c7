from amlaudit.checks.flows import attached_compute_ssh
from tests.estates import EstateBuilder
from tests.flow_helpers import (
    add_hdinsight,
    deciders,
    denied_parts,
    deny_internet_inbound,
    rule,
    tag_prefixes,
    verdict_of,
)

# The document's recipe: source service tag AzureMachineLearning, any protocol, destination Any, port 22.
RECIPE = rule("AllowAzureMachineLearningSsh", 100, "Inbound", "Allow", "*", "AzureMachineLearning", "*", "22")


def _vm(builder: EstateBuilder, subnet_rules: list | None = (), nic_rules: list | None = None,
        private_ip: str = "10.0.2.4", location: str = "eastus") -> dict:
    vnet = builder.vnet(location=location)
    subnet_nsg = builder.nsg("nsg-vm-subnet", rules=list(subnet_rules)) if subnet_rules is not None else None
    subnet = builder.subnet(vnet, "snet-vm", "10.0.2.0/24", nsg=subnet_nsg)
    nic_nsg = builder.nsg("nsg-vm-nic", rules=nic_rules) if nic_rules is not None else None
    nic = builder.nic("nic-vm", subnet, private_ip, nsg=nic_nsg)
    compute = builder.vm_compute(builder.workspace(), "dev-vm", builder.vm("vm-dev", nic))
    builder.real_service_tags()
    return compute


def _verdict(builder: EstateBuilder, compute: dict):
    return verdict_of(attached_compute_ssh, builder, compute)


def test_pass_with_the_documents_recipe_on_the_subnet_nsg(builder: EstateBuilder) -> None:
    v = _verdict(builder, _vm(builder, [RECIPE, deny_internet_inbound()]))
    assert v.status == "pass", v.message
    assert v.evidence["service_tag"] == "AzureMachineLearning.EastUS"
    assert "vm-dev (10.0.2.4)" in v.message
    assert deciders(v) == ["AllowAzureMachineLearningSsh", "(no NIC NSG)"]


def test_fail_when_the_nic_nsg_has_default_rules_only(builder: EstateBuilder) -> None:
    v = _verdict(builder, _vm(builder, [RECIPE], nic_rules=[]))
    assert v.status == "fail"
    (part,) = denied_parts(v)
    assert [(d["level"], d["rule"]) for d in part["deciders"]] == [("subnet", "AllowAzureMachineLearningSsh"),
                                                                   ("NIC", "DenyAllInBound")]
    assert part["witness"]["dst_ip"] == "10.0.2.4" and part["witness"]["dst_port"] == 22


def test_pass_when_both_nsgs_allow_it_to_the_private_ip(builder: EstateBuilder) -> None:
    nic_rule = rule("AllowAmlSshToVm", 100, "Inbound", "Allow", "Tcp", "AzureMachineLearning", "10.0.2.4", "22")
    v = _verdict(builder, _vm(builder, [RECIPE], nic_rules=[nic_rule]))
    assert v.status == "pass"
    assert v.message.index("nsg-vm-subnet") < v.message.index("nsg-vm-nic")


def test_fail_when_the_allow_names_another_host(builder: EstateBuilder) -> None:
    other_host = rule("AllowAmlSshToOldVm", 100, "Inbound", "Allow", "Tcp", "AzureMachineLearning", "10.0.2.5", "22")
    v = _verdict(builder, _vm(builder, [other_host]))
    assert v.status == "fail"
    assert deciders(v) == ["DenyAllInBound"]


def test_fail_when_a_deny_on_internet_comes_first(builder: EstateBuilder) -> None:
    v = _verdict(builder, _vm(builder, [deny_internet_inbound(90), RECIPE]))
    assert v.status == "fail"
    assert "before AllowAzureMachineLearningSsh (priority 100) is reached" in v.message


def test_the_regional_tag_of_the_vnets_region_is_judged(builder: EstateBuilder) -> None:
    regional = rule("AllowAmlEastUsSsh", 100, "Inbound", "Allow", "Tcp", "AzureMachineLearning.EastUS", "*", "22")
    assert _verdict(builder, _vm(builder, [regional])).status == "pass"


def test_the_regional_tag_of_another_region_does_not_do(builder: EstateBuilder) -> None:
    regional = rule("AllowAmlEastUsSsh", 100, "Inbound", "Allow", "Tcp", "AzureMachineLearning.EastUS", "*", "22")
    v = _verdict(builder, _vm(builder, [regional], location="westeurope"))
    assert v.status == "fail"
    assert v.evidence["service_tag"] == "AzureMachineLearning.WestEurope"


def _without_private_ip(builder: EstateBuilder, compute: dict):
    nic = next(r for r in builder.resources if r["type"] == "Microsoft.Network/networkInterfaces")
    del nic["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"]
    return _verdict(builder, compute)


def test_vm_without_private_ip_passes_when_every_address_of_its_subnet_is_open(builder: EstateBuilder) -> None:
    nic_rule = rule("AllowAmlSshToSubnet", 100, "Inbound", "Allow", "Tcp", "AzureMachineLearning", "10.0.2.0/24", "22")
    v = _without_private_ip(builder, _vm(builder, [RECIPE], nic_rules=[nic_rule]))
    assert v.status == "pass", v.message
    assert v.evidence["private_ip"] is None
    assert "no privateIPAddress" in v.evidence["private_ip_unknown"]
    assert v.evidence["judged_destination"] == "every address of subnet snet-vm (10.0.2.0/24)"
    assert deciders(v) == ["AllowAzureMachineLearningSsh", "AllowAmlSshToSubnet"]


def test_vm_without_private_ip_is_an_error_when_only_some_addresses_are_open(builder: EstateBuilder) -> None:
    to_one_host = rule("AllowAmlSshToVm", 100, "Inbound", "Allow", "Tcp", "AzureMachineLearning", "10.0.2.4", "22")
    v = _without_private_ip(builder, _vm(builder, [RECIPE], nic_rules=[to_one_host]))
    assert v.status == "error"
    assert "private IP" in v.message and "only partly open" in v.message
    assert v.evidence["open_to"] == ["10.0.2.4/32"]


def test_vm_without_private_ip_fails_when_its_nic_nsg_denies_every_address(builder: EstateBuilder) -> None:
    v = _without_private_ip(builder, _vm(builder, [RECIPE], nic_rules=[]))
    assert v.status == "fail"
    assert "DenyAllInBound" in v.message and "private IP" in v.message


def test_error_when_the_vm_could_not_be_read(builder: EstateBuilder) -> None:
    vm_id = "/subscriptions/6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/resourceGroups/rg-ml-prod/providers/Microsoft.Compute/virtualMachines/vm-gone"
    compute = builder.vm_compute(builder.workspace(), "gone-vm", vm_id)
    builder.collection_error(vm_id, status=404, code="ResourceNotFound")
    builder.real_service_tags()
    v = _verdict(builder, compute)
    assert v.status == "error" and "404" in v.message


def test_error_when_the_subnet_nsg_could_not_be_read(builder: EstateBuilder) -> None:
    compute = _vm(builder, [RECIPE])
    nsg = next(r for r in builder.resources if r["name"] == "nsg-vm-subnet")
    builder.drop(nsg)
    builder.collection_error(nsg["id"], status=403)
    v = _verdict(builder, compute)
    assert v.status == "error" and "403" in v.message


def test_hdinsight_is_judged_on_its_subnet_nsg_only(builder: EstateBuilder) -> None:
    vnet = builder.vnet()
    subnet = builder.subnet(vnet, "snet-hdi", "10.0.4.0/24", nsg=builder.nsg("nsg-hdi", rules=[RECIPE]))
    compute = add_hdinsight(builder, builder.workspace(), "spark", subnet, address="10.0.4.5")
    builder.real_service_tags()
    v = _verdict(builder, compute)
    assert v.status == "pass", v.message
    assert v.evidence["private_ip"] == "10.0.4.5"
    assert "not in the snapshot" in v.evidence["nic_nsgs"]
    assert deciders(v) == ["AllowAzureMachineLearningSsh"]


def test_hdinsight_fails_when_its_subnet_nsg_blocks(builder: EstateBuilder) -> None:
    vnet = builder.vnet()
    subnet = builder.subnet(vnet, "snet-hdi", "10.0.4.0/24", nsg=builder.nsg("nsg-hdi"))
    compute = add_hdinsight(builder, builder.workspace(), "spark", subnet, address="10.0.4.5")
    builder.real_service_tags()
    assert _verdict(builder, compute).status == "fail"


def test_hdinsight_outside_any_virtual_network_is_not_applicable(builder: EstateBuilder) -> None:
    compute = add_hdinsight(builder, builder.workspace(), "spark", None)
    builder.real_service_tags()
    assert _verdict(builder, compute).status == "not_applicable"


def _hdinsight_by_host_name(builder: EstateBuilder, rules: list[dict]):
    """An HDInsight compute as Azure Machine Learning stores it: `address` is the SSH host name."""
    vnet = builder.vnet()
    subnet = builder.subnet(vnet, "snet-hdi", "10.0.4.0/24", nsg=builder.nsg("nsg-hdi", rules=rules))
    compute = add_hdinsight(builder, builder.workspace(), "spark", subnet, address="spark-ssh.azurehdinsight.net")
    builder.real_service_tags()
    return _verdict(builder, compute)


def test_hdinsight_by_host_name_passes_when_its_whole_subnet_is_open(builder: EstateBuilder) -> None:
    v = _hdinsight_by_host_name(builder, [RECIPE])
    assert v.status == "pass", v.message
    assert "'spark-ssh.azurehdinsight.net' is not an IP address" in v.evidence["private_ip_unknown"]
    assert "private IP address of hdi-spark is unknown" in v.message and "every address of the subnet" in v.message
    assert deciders(v) == ["AllowAzureMachineLearningSsh"]


def test_hdinsight_by_host_name_fails_with_default_rules(builder: EstateBuilder) -> None:
    v = _hdinsight_by_host_name(builder, [])
    assert v.status == "fail"
    assert deciders(v) == ["DenyAllInBound"]


def test_hdinsight_by_host_name_fails_when_every_address_is_open_to_part_of_the_tag_only(builder: EstateBuilder) -> None:
    # No address of the subnet gets SSH from every AzureMachineLearning.EastUS prefix, so the head node's
    # address does not either, whichever it is.
    half = rule("AllowAmlSshFromSome", 100, "Inbound", "Allow", "Tcp", tag_prefixes("AzureMachineLearning.EastUS")[:3],
                "*", "22")
    v = _hdinsight_by_host_name(builder, [half])
    assert v.status == "fail", v.message
    assert {"AllowAmlSshFromSome", "DenyAllInBound"} <= set(deciders(v))


def test_hdinsight_by_host_name_is_an_error_when_part_of_the_subnet_is_open(builder: EstateBuilder) -> None:
    to_some = rule("AllowAmlSshToHeadnodes", 100, "Inbound", "Allow", "Tcp", "AzureMachineLearning",
                   "10.0.4.0/28", "22")
    v = _hdinsight_by_host_name(builder, [to_some])
    assert v.status == "error"
    assert "only partly open" in v.message and "10.0.4.0/28" in v.message


def test_hdinsight_by_host_name_is_an_error_when_an_unknown_tag_could_decide(builder: EstateBuilder) -> None:
    unknown = rule("DenyScanners", 90, "Inbound", "Deny", "Tcp", "ContosoScanners", "*", "22")
    v = _hdinsight_by_host_name(builder, [unknown, RECIPE])
    assert v.status == "error"
    assert "ContosoScanners" in v.message
