"""Composition of subnet and NIC NSGs, and the real ARM NSG example."""

from __future__ import annotations

from amlaudit.auditor.netpolicy import (
    AddressSet,
    FlowClass,
    NsgCompiler,
    Question,
    compile_nsg,
    evaluate_chain,
    evaluate_path,
)

VNET = AddressSet.parse("10.1.0.0/16")
SUBNET = "10.1.1.0/24"


def test_inbound_meets_subnet_nsg_then_nic_nsg(rule, nsg, tags) -> None:
    batch = tags.regional_or_global("BatchNodeManagement", "eastus").only(4)
    flow = FlowClass.of("Inbound", protocols="Tcp", src=batch, dst=SUBNET, dst_ports="29876-29877")
    subnet_nsg = compile_nsg(
        nsg("subnet-nsg", rule("AllowBatch", 100, protocol="Tcp", src="BatchNodeManagement", dst_ports="29876-29877")),
        VNET,
        tags,
    )
    nic_nsg = compile_nsg(nsg("nic-nsg", rule("AllowBatch29876", 100, protocol="Tcp", src="*", dst_ports="29876")), VNET, tags)

    verdict = evaluate_path(flow, subnet_nsg, nic_nsg)
    assert verdict.levels == ("subnet", "NIC")
    assert not verdict.all_allowed and verdict.any_allowed
    [allowed] = verdict.allowed_parts
    assert [d.rule_name for d in allowed.deciders] == ["AllowBatch", "AllowBatch29876"]
    [denied] = verdict.denied_parts
    # passed the subnet NSG, stopped at the NIC NSG
    assert [d.rule_name for d in denied.deciders] == ["AllowBatch", "DenyAllInBound"]
    assert denied.deciders[1].nsg_name == "nic-nsg"
    assert denied.region.dst_ports.to_strings() == ["29877"]

    # a missing subnet NSG allows everything at that level
    only_nic = evaluate_path(flow, None, nic_nsg)
    assert only_nic.allowed_parts[0].deciders[0].kind == "no-nsg"
    assert only_nic.allowed.dst_ports.to_strings() == ["29876"]


def test_outbound_meets_nic_nsg_then_subnet_nsg(rule, nsg, tags) -> None:
    flow = FlowClass.of("Outbound", protocols="Tcp", src=SUBNET, dst="20.0.0.0/24", dst_ports="443")
    nic_deny = compile_nsg(nsg("nic-nsg", rule("DenyOut", 100, direction="Outbound", access="Deny")), VNET, tags)
    subnet_deny = compile_nsg(nsg("subnet-nsg", rule("DenyOut", 100, direction="Outbound", access="Deny")), VNET, tags)
    verdict = evaluate_path(flow, subnet_deny, nic_deny)
    assert verdict.levels == ("NIC", "subnet")
    [part] = verdict.parts
    # the NIC NSG is met first, so it is the one that denies
    assert len(part.deciders) == 1 and part.decider.nsg_name == "nic-nsg"


def test_both_levels_must_allow_and_missing_nsgs_allow(rule, nsg, tags) -> None:
    flow = FlowClass.of("Inbound", protocols="Tcp", src="20.0.0.0/24", dst=SUBNET, dst_ports="22")
    assert evaluate_path(flow, None, None).all_allowed
    subnet_allow = compile_nsg(nsg("s", rule("AllowSsh", 100, protocol="Tcp", dst_ports="22")), VNET, tags)
    nic_default = compile_nsg(nsg("n"), VNET, tags)
    verdict = evaluate_path(flow, subnet_allow, nic_default)
    assert not verdict.any_allowed
    assert verdict.parts[0].deciders[-1].rule_name == "DenyAllInBound"
    assert verdict.parts[0].deciders[-1].nsg_name == "n"


def test_asg_assumptions_carry_through_composition(rule, nsg, tags) -> None:
    flow = FlowClass.of("Inbound", protocols="Tcp", src="20.0.0.0/24", dst=SUBNET, dst_ports="443")
    subnet_nsg = compile_nsg(nsg("s", rule("AllowWeb", 100, protocol="Tcp", dst_asgs=["web"], dst_ports="443")), VNET, tags)
    nic_nsg = compile_nsg(nsg("n", rule("AllowAll", 100)), VNET, tags)
    assert not evaluate_path(flow, subnet_nsg, nic_nsg, Question.ALL_ALLOWED).any_allowed
    any_verdict = evaluate_path(flow, subnet_nsg, nic_nsg, Question.ANY_ALLOWED)
    assert any_verdict.all_allowed
    assert [a.rule.rule_name for a in any_verdict.assumed] == ["AllowWeb"]


def test_three_levels_chain(rule, nsg, tags) -> None:
    flow = FlowClass.of("Inbound", protocols=["Tcp", "Udp"], src="20.0.0.0/24", dst=SUBNET)
    first = compile_nsg(nsg("a", rule("AllowTcp", 100, protocol="Tcp")), VNET, tags)
    second = compile_nsg(nsg("b", rule("AllowAll", 100)), VNET, tags)
    verdict = evaluate_chain(flow, [("edge", first), ("middle", None), ("host", second)])
    assert verdict.allowed.protocols.names() == ["Tcp"]
    assert [d.rule_name for d in verdict.allowed_parts[0].deciders] == ["AllowTcp", "(no middle NSG)", "AllowAll"]


def test_compiler_caches_per_nsg_and_vnet(rule, nsg, tags) -> None:
    compiler = NsgCompiler(tags)
    raw = nsg("n", rule("DenyInternet", 100, access="Deny", src="Internet"))
    first = compiler.compile(raw, VNET)
    assert compiler.compile(raw, AddressSet.parse("10.1.0.0/16")) is first
    other_vnet = compiler.compile(raw, AddressSet.parse("10.9.0.0/16"))
    assert other_vnet is not first
    # the VNet context changes what Internet means
    flow = FlowClass.of("Inbound", protocols="Tcp", src="10.9.0.5", dst="10.9.0.4", dst_ports="80")
    assert evaluate_path(flow, first, None).parts[0].deciders[0].rule_name == "DenyInternet"
    assert evaluate_path(flow, other_vnet, None).parts[0].deciders[0].rule_name == "AllowVnetInBound"


def test_real_arm_nsg_example(tags, sample) -> None:
    body = sample("arm-examples/network-2023-09-01-NetworkSecurityGroupGet.json")["responses"]["200"]["body"]
    compiled = compile_nsg(body, VNET, tags)
    web = FlowClass.of("Inbound", protocols="Tcp", src="0.0.0.0/0", dst=SUBNET, dst_ports="80")
    verdict = evaluate_path(web, compiled, None)
    assert verdict.all_allowed and verdict.is_complete
    [part] = verdict.parts
    assert part.deciders[0].rule_name == "rule1"
    assert part.deciders[0].priority == 130
    assert part.deciders[0].rule_id == body["properties"]["securityRules"][0]["id"]

    https = FlowClass.of("Inbound", protocols="Tcp", src="0.0.0.0/0", dst=SUBNET, dst_ports="443")
    verdict = evaluate_path(https, compiled, None)
    by_rule = {part.deciders[0].rule_name: part for part in verdict.parts}
    assert set(by_rule) == {"AllowVnetInBound", "AllowAzureLoadBalancerInBound", "DenyAllInBound"}
    assert by_rule["AllowVnetInBound"].region.src == VNET
    assert by_rule["AllowAzureLoadBalancerInBound"].region.src == AddressSet.parse("168.63.129.16")
    assert by_rule["DenyAllInBound"].deciders[0].is_default
    assert by_rule["DenyAllInBound"].deciders[0].rule_id.endswith("/defaultSecurityRules/DenyAllInBound")
