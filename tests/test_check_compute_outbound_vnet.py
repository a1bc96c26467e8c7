from amlaudit.checks.flows import compute_outbound_vnet
from tests.estates import EstateBuilder
from tests.flow_helpers import Cluster, deciders, denied_parts, rule, verdict_of


def _verdict(builder: EstateBuilder, compute: dict):
    return verdict_of(compute_outbound_vnet, builder, compute)


def _vm(builder: EstateBuilder, subnet_rules: list | None = (), nic_rules: list | None = None,
        private_ip: str = "10.0.2.4") -> tuple[dict, dict]:
    """A workspace with an attached VM in snet-vm; returns (compute, nic)."""
    vnet = builder.vnet()
    subnet_nsg = builder.nsg("nsg-vm-subnet", rules=list(subnet_rules)) if subnet_rules is not None else None
    subnet = builder.subnet(vnet, "snet-vm", "10.0.2.0/24", nsg=subnet_nsg)
    nic_nsg = builder.nsg("nsg-vm-nic", rules=nic_rules) if nic_rules is not None else None
    nic = builder.nic("nic-vm", subnet, private_ip, nsg=nic_nsg)
    vm = builder.vm("vm-dev", nic)
    compute = builder.vm_compute(builder.workspace(), "dev-vm", vm)
    builder.real_service_tags()
    return compute, nic


def test_pass_with_default_rules_only(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [])
    v = _verdict(builder, cluster.compute)
    assert v.status == "pass", v.message
    assert deciders(v) == ["AllowVnetOutBound"]
    assert v.evidence["vnet_address_space"] == ["10.0.0.0/16"]
    assert "TCP/UDP all ports" in v.message


def test_fail_when_a_deny_all_outbound_sits_above_allow_vnet(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [rule("DenyAllOutbound", 4096, "Outbound", "Deny")])
    v = _verdict(builder, cluster.compute)
    assert v.status == "fail"
    assert "DenyAllOutbound (priority 4096" in v.message
    (part,) = denied_parts(v)
    assert sorted(part["protocols"]) == ["Tcp", "Udp"] and part["dst_ports"] == ["0-65535"]


def test_fail_when_only_udp_to_the_vnet_is_denied(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [rule("DenyUdpEastWest", 200, "Outbound", "Deny", "Udp", "VirtualNetwork", "VirtualNetwork")])
    v = _verdict(builder, cluster.compute)
    assert v.status == "fail"
    (part,) = denied_parts(v)
    assert part["protocols"] == ["Udp"]


def test_fail_when_part_of_the_vnet_and_some_ports_are_denied(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [rule("DenyToData", 300, "Outbound", "Deny", "Tcp", "*", "10.0.5.0/24", "1433-1434")])
    v = _verdict(builder, cluster.compute)
    assert v.status == "fail"
    (part,) = denied_parts(v)
    assert part["dst"]["cidrs"] == ["10.0.5.0/24"] and part["dst_ports"] == ["1433-1434"]
    assert part["witness"]["dst_ip"].startswith("10.0.5.")


def test_allowing_the_vnet_explicitly_before_a_deny_all_passes(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [rule("AllowVnet", 100, "Outbound", "Allow", "*", "VirtualNetwork", "VirtualNetwork"),
                                rule("DenyAll", 4096, "Outbound", "Deny")])
    assert _verdict(builder, cluster.compute).status == "pass"


def test_peered_spaces_are_not_required(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [rule("DenyToHub", 200, "Outbound", "Deny", "*", "*", "10.9.0.0/16")])
    cluster.vnet["properties"]["virtualNetworkPeerings"] = [{
        "name": "to-hub", "properties": {"peeringState": "Connected",
                                         "remoteAddressSpace": {"addressPrefixes": ["10.9.0.0/16"]}}}]
    v = _verdict(builder, cluster.compute)
    assert v.status == "pass"
    assert v.evidence["peered_address_space"] == ["10.9.0.0/16"]


def test_pass_when_the_subnet_has_no_nsg(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, None)
    v = _verdict(builder, cluster.compute)
    assert v.status == "pass" and "no subnet NSG" in v.message


def test_error_when_the_nsg_could_not_be_read(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [])
    builder.drop(cluster.nsg)
    builder.collection_error(cluster.nsg["id"], status=403)
    v = _verdict(builder, cluster.compute)
    assert v.status == "error" and "403" in v.message


def test_error_when_the_nsg_rules_cannot_be_placed_in_order(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [rule("DenyA", 200, "Outbound", "Deny", "Udp", "*", "10.0.9.0/24"),
                                rule("AllowB", 200, "Outbound", "Allow", "Udp", "*", "10.0.9.0/24")])
    v = _verdict(builder, cluster.compute)
    assert v.status == "error"
    assert "share priority 200" in v.message


def test_not_applicable_to_a_cluster_without_a_subnet(builder: EstateBuilder) -> None:
    cpu = builder.aml_compute(builder.workspace(), "cpu", None)
    builder.real_service_tags()
    assert _verdict(builder, cpu).status == "not_applicable"


def test_vm_flows_pass_the_nic_nsg_then_the_subnet_nsg(builder: EstateBuilder) -> None:
    compute, nic = _vm(builder, subnet_rules=[], nic_rules=[])
    v = _verdict(builder, compute)
    assert v.status == "pass"
    assert v.evidence["nic_nsg_id"] == nic["properties"]["networkSecurityGroup"]["id"]
    assert v.message.index("nsg-vm-nic") < v.message.index("nsg-vm-subnet")


def test_vm_fails_when_its_nic_nsg_denies(builder: EstateBuilder) -> None:
    compute, _ = _vm(builder, subnet_rules=[], nic_rules=[rule("DenyAllOut", 100, "Outbound", "Deny")])
    v = _verdict(builder, compute)
    assert v.status == "fail"
    (part,) = denied_parts(v)
    assert [(d["level"], d["rule"]) for d in part["deciders"]] == [("NIC", "DenyAllOut")]


def test_vm_is_judged_on_the_whole_compute_subnet_as_the_catalog_says(builder: EstateBuilder) -> None:
    # The row asks about flows "from the compute subnet": a deny for another host of that subnet fails it.
    other_host = rule("DenyFromBuildAgent", 100, "Outbound", "Deny", "*", "10.0.2.5", "*")
    compute, _ = _vm(builder, subnet_rules=[other_host])
    v = _verdict(builder, compute)
    assert v.status == "fail"
    assert "compute subnet" in v.evidence["source"]
