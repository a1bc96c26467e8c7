"""NSG evaluation of flow classes: first match, exactness, tags, ASGs, bad data."""

from __future__ import annotations

import pytest

from amlaudit.auditor.netpolicy import (
    WELL_KNOWN_DEFAULT_RULES,
    AddressSet,
    EmptyFlowError,
    FlowClass,
    Packet,
    Question,
    ServiceTagIndex,
    compile_nsg,
    decide_packet,
    evaluate,
)

VNET = AddressSet.parse("10.1.0.0/16")
SUBNET = "10.1.1.0/24"


def batch_flow(tags: ServiceTagIndex) -> FlowClass:
    batch = tags.regional_or_global("BatchNodeManagement", "eastus").only(4)
    return FlowClass.of("Inbound", protocols="Tcp", src=batch, dst=SUBNET, dst_ports="29876-29877")


def test_first_match_wins_in_priority_order_not_list_order(rule, nsg, tags) -> None:
    allow = rule("AllowBatch", 110, src="BatchNodeManagement.EastUS", protocol="Tcp", dst_ports="29876-29877")
    deny = rule("DenyInternet", 100, access="Deny", src="Internet")
    verdict = evaluate(batch_flow(tags), compile_nsg(nsg("compute-nsg", allow, deny), VNET, tags))
    assert not verdict.all_allowed and not verdict.any_allowed
    [part] = verdict.parts
    assert part.decider.rule_name == "DenyInternet"
    assert part.decider.priority == 100 and part.decider.access == "Deny" and not part.decider.is_default
    assert part.decider.nsg_name == "compute-nsg"
    # the allow that never got its turn is named
    assert part.shadowed_allow is not None and part.shadowed_allow.rule_name == "AllowBatch"

    allow_first = rule("AllowBatch", 90, src="BatchNodeManagement.EastUS", protocol="Tcp", dst_ports="29876-29877")
    verdict = evaluate(batch_flow(tags), compile_nsg(nsg("compute-nsg", deny, allow_first), VNET, tags))
    assert verdict.all_allowed
    assert [part.decider.rule_name for part in verdict.parts] == ["AllowBatch"]


def test_default_rules_apply_when_nothing_else_matches(rule, nsg, tags) -> None:
    compiled = compile_nsg(nsg("empty"), VNET, tags)  # no defaultSecurityRules key: Azure's defaults
    from_internet = FlowClass.of("Inbound", protocols="Tcp", src="20.0.0.0/16", dst=SUBNET, dst_ports="22")
    verdict = evaluate(from_internet, compiled)
    assert not verdict.any_allowed
    assert verdict.parts[0].decider.rule_name == "DenyAllInBound"
    assert verdict.parts[0].decider.is_default

    from_vnet = FlowClass.of("Inbound", protocols="Tcp", src="10.1.2.0/24", dst=SUBNET, dst_ports="22")
    assert evaluate(from_vnet, compiled).parts[0].decider.rule_name == "AllowVnetInBound"

    probe = FlowClass.of("Inbound", protocols="Tcp", src="168.63.129.16", dst=SUBNET, dst_ports="80")
    assert evaluate(probe, compiled).parts[0].decider.rule_name == "AllowAzureLoadBalancerInBound"

    out = FlowClass.of("Outbound", protocols="*", src=SUBNET, dst="0.0.0.0/0")
    verdict = evaluate(out, compiled)
    assert {part.decider.rule_name for part in verdict.allowed_parts} == {"AllowVnetOutBound", "AllowInternetOutBound"}
    # Internet is "outside VirtualNetwork and AzureLoadBalancer": the probe address is neither
    # allowed default, so it falls to DenyAllOutBound.
    [denied] = verdict.denied_parts
    assert denied.decider.rule_name == "DenyAllOutBound"
    assert denied.region.dst == AddressSet.parse("168.63.129.16/32")


def test_explicit_default_rules_give_the_same_answers(nsg, tags) -> None:
    defaults = [dict(default, id=f"/nsg/defaultSecurityRules/{default['name']}") for default in WELL_KNOWN_DEFAULT_RULES]
    implicit = compile_nsg(nsg("a"), VNET, tags)
    explicit = compile_nsg(nsg("a", defaults=defaults), VNET, tags)
    for direction in ("Inbound", "Outbound"):
        flow = FlowClass.of(direction, src=["0.0.0.0/0", "::/0"], dst=["0.0.0.0/0", "::/0"])
        left, right = evaluate(flow, implicit), evaluate(flow, explicit)
        assert [(p.decider.rule_name, p.access) for p in left.parts] == [(p.decider.rule_name, p.access) for p in right.parts]
        assert all(p.decider.rule_id and "defaultSecurityRules" in p.decider.rule_id for p in right.parts)


def test_only_rules_of_the_flow_direction_count(rule, nsg, tags) -> None:
    deny_out = rule("DenyAllOut", 100, direction="Outbound", access="Deny")
    allow_in = rule("AllowBatch", 200, src="BatchNodeManagement.EastUS", protocol="Tcp", dst_ports="29876-29877")
    verdict = evaluate(batch_flow(tags), compile_nsg(nsg("n", deny_out, allow_in), VNET, tags))
    assert verdict.all_allowed


def test_half_a_prefix_covered_is_not_allowed(rule, nsg, tags) -> None:
    allow_half = rule("AllowHalf", 100, src="20.0.0.0/25", protocol="Tcp", dst_ports="443")
    flow = FlowClass.of("Inbound", protocols="Tcp", src="20.0.0.0/24", dst=SUBNET, dst_ports="443")
    verdict = evaluate(flow, compile_nsg(nsg("n", allow_half), VNET, tags))
    assert not verdict.all_allowed and verdict.any_allowed
    assert verdict.allowed.src == AddressSet.parse("20.0.0.0/25")
    assert verdict.denied.src == AddressSet.parse("20.0.0.128/25")
    [denied] = verdict.denied_parts
    assert denied.decider.rule_name == "DenyAllInBound"
    assert denied.witness.src_ip in AddressSet.parse("20.0.0.128/25")
    assert verdict.question is Question.ALL_ALLOWED


def test_port_list_in_the_plural_field(rule, nsg, tags) -> None:
    both = rule("AllowBatch", 100, src="BatchNodeManagement.EastUS", protocol="Tcp", dst_ports=["29876", "29877"])
    assert evaluate(batch_flow(tags), compile_nsg(nsg("n", both), VNET, tags)).all_allowed

    only_one = rule("AllowBatch", 100, src="BatchNodeManagement.EastUS", protocol="Tcp", dst_ports=["29876"])
    verdict = evaluate(batch_flow(tags), compile_nsg(nsg("n", only_one), VNET, tags))
    assert not verdict.all_allowed
    assert verdict.denied.dst_ports.to_strings() == ["29877"]
    assert verdict.denied_parts[0].witness.dst_port == 29877


def test_singular_and_plural_fields_in_every_arm_shape(nsg, tags) -> None:
    flow = FlowClass.of("Inbound", protocols="Tcp", src="20.0.0.0/24", dst="10.1.1.4", dst_ports="443")
    shapes = [
        # singular only (plural absent)
        {"sourceAddressPrefix": "20.0.0.0/24", "destinationAddressPrefix": "10.1.1.4", "sourcePortRange": "*", "destinationPortRange": "443"},
        # plural only (singular absent)
        {"sourceAddressPrefixes": ["20.0.0.0/24"], "destinationAddressPrefixes": ["10.1.1.4/32"], "sourcePortRanges": ["0-65535"], "destinationPortRanges": ["443"]},
        # both present, singular empty string
        {"sourceAddressPrefix": "", "sourceAddressPrefixes": ["20.0.0.0/25", "20.0.0.128/25"], "destinationAddressPrefix": "10.1.1.0/24",
         "destinationAddressPrefixes": [], "sourcePortRange": "*", "sourcePortRanges": [], "destinationPortRange": "", "destinationPortRanges": ["400-500"]},
    ]
    for fields in shapes:
        allow = {"name": "AllowIt", "properties": {"protocol": "TCP", "access": "Allow", "priority": 100, "direction": "Inbound", **fields}}
        verdict = evaluate(flow, compile_nsg(nsg("n", allow), VNET, tags))
        assert verdict.all_allowed, fields
        assert verdict.is_complete


def test_rule_without_any_address_field_is_unresolved(nsg, tags) -> None:
    broken = {"name": "Broken", "properties": {"protocol": "Tcp", "access": "Deny", "priority": 100, "direction": "Inbound",
                                               "sourcePortRange": "*", "destinationPortRange": "443", "destinationAddressPrefix": "*"}}
    flow = FlowClass.of("Inbound", protocols="Tcp", src="20.0.0.0/24", dst=SUBNET, dst_ports="443")
    verdict = evaluate(flow, compile_nsg(nsg("n", broken), VNET, tags))
    assert not verdict.is_complete
    assert verdict.unresolved[0].kind == "missing-data" and verdict.unresolved[0].item == "Broken"


def test_deny_on_internet_above_an_allow_for_the_batch_tag(rule, nsg, tags_2020) -> None:
    rules = (
        rule("DenyInternet", 100, access="Deny", src="Internet"),
        rule("AllowBatch", 110, src="BatchNodeManagement.EastUS", protocol="Tcp", dst_ports=["29876", "29877"]),
    )
    verdict = evaluate(batch_flow(tags_2020), compile_nsg(nsg("compute-nsg", *rules), VNET, tags_2020))
    assert not verdict.any_allowed
    [part] = verdict.parts
    assert part.decider.rule_name == "DenyInternet"
    assert part.region.src == tags_2020.regional_or_global("BatchNodeManagement", "eastus").addresses.only(4)
    assert part.witness == Packet("Tcp", "13.92.114.103", 1024, "10.1.1.4", 29876)


def test_internet_means_outside_virtual_network_and_load_balancer(rule, nsg, tags) -> None:
    peered = AddressSet.parse(["10.1.0.0/16", "172.16.0.0/16"])  # VNet plus a peered VNet
    compiled = compile_nsg(nsg("n", rule("DenyInternet", 100, access="Deny", src="internet")), peered, tags)

    def decider(source: str) -> str:
        flow = FlowClass.of("Inbound", protocols="Tcp", src=source, dst=["10.1.1.4", "2001:db8::4"], dst_ports="80")
        return evaluate(flow, compiled).parts[0].decider.rule_name

    assert decider("52.1.2.3") == "DenyInternet"
    assert decider("2603:1030::1") == "DenyInternet"  # Internet includes IPv6
    assert decider("10.1.200.1") == "AllowVnetInBound"
    assert decider("172.16.9.9") == "AllowVnetInBound"  # peered space is VirtualNetwork, not Internet
    assert decider("168.63.129.16") == "AllowAzureLoadBalancerInBound"
    # a private address outside every VNet is Internet for the tag's purposes
    assert decider("192.168.1.1") == "DenyInternet"


def test_tags_in_rules_match_any_case_and_name_exact_entries(rule, nsg, tags) -> None:
    upper = rule("AllowStorage", 100, direction="Outbound", protocol="Tcp", dst="STORAGE.EASTUS", dst_ports="443")
    deny_rest = rule("DenyOut", 200, direction="Outbound", access="Deny", dst="INTERNET")
    compiled = compile_nsg(nsg("n", upper, deny_rest), VNET, tags)
    storage_east = tags.regional_or_global("Storage", "eastus").only(4)
    storage_west = tags.regional_or_global("Storage", "westeurope").only(4)
    assert evaluate(FlowClass.of("Outbound", protocols="Tcp", src=SUBNET, dst=storage_east, dst_ports="443"), compiled).all_allowed
    west = evaluate(FlowClass.of("Outbound", protocols="Tcp", src=SUBNET, dst=storage_west, dst_ports="443"), compiled)
    assert not west.any_allowed
    assert west.parts[0].decider.rule_name == "DenyOut"


def test_unknown_tag_is_unresolved_only_where_it_matters(rule, nsg, tags) -> None:
    odd = rule("AllowOdd", 100, src="NoSuchTag", protocol="Tcp", dst_ports="3389")
    allow_batch = rule("AllowBatch", 110, src="BatchNodeManagement.EastUS", protocol="Tcp", dst_ports="29876-29877")
    compiled = compile_nsg(nsg("n", odd, allow_batch), VNET, tags)
    unrelated = evaluate(batch_flow(tags), compiled)
    assert unrelated.all_allowed and unrelated.is_complete

    rdp = FlowClass.of("Inbound", protocols="Tcp", src="20.0.0.0/24", dst=SUBNET, dst_ports="3389")
    verdict = evaluate(rdp, compiled)
    assert not verdict.is_complete
    [problem] = verdict.unresolved
    assert problem.kind == "unknown-service-tag" and problem.value == "NoSuchTag" and problem.item == "AllowOdd"


def test_application_security_groups_are_assumed_worst_case_both_ways(rule, nsg, tags) -> None:
    flow = FlowClass.of("Inbound", protocols="Tcp", src="20.0.0.0/24", dst=SUBNET, dst_ports="443")
    allow_asg = rule("AllowWebAsg", 100, protocol="Tcp", src="*", dst_asgs=["web-asg"], dst_ports="443")
    compiled = compile_nsg(nsg("n", allow_asg), VNET, tags)

    all_question = evaluate(flow, compiled, Question.ALL_ALLOWED)
    assert not all_question.any_allowed  # the allow is assumed to match nothing
    [assumed] = all_question.assumed
    assert assumed.rule.rule_name == "AllowWebAsg" and assumed.groups == ("web-asg",)
    assert assumed.assumption == "matches nothing"

    any_question = evaluate(flow, compiled, Question.ANY_ALLOWED)
    assert any_question.all_allowed  # ... and to match everything when asked "is any allowed?"
    assert any_question.assumed[0].assumption == "matches everything it could"

    deny_asg = rule("DenyFromAsg", 100, access="Deny", src_asgs=["jump-asg"], dst="*")
    allow_all = rule("AllowHttps", 200, protocol="Tcp", dst_ports="443")
    compiled = compile_nsg(nsg("n", deny_asg, allow_all), VNET, tags)
    assert not evaluate(flow, compiled, Question.ALL_ALLOWED).any_allowed
    assert evaluate(flow, compiled, Question.ANY_ALLOWED).all_allowed
    assert evaluate(flow, compiled, Question.ANY_ALLOWED).assumed[0].rule.rule_name == "DenyFromAsg"


def test_asg_rule_that_cannot_touch_the_flow_is_not_reported(rule, nsg, tags) -> None:
    asg_ssh = rule("AllowSshAsg", 100, protocol="Tcp", dst_asgs=["jump"], dst_ports="22")
    flow = FlowClass.of("Inbound", protocols="Tcp", src="20.0.0.0/24", dst=SUBNET, dst_ports="443")
    verdict = evaluate(flow, compile_nsg(nsg("n", asg_ssh), VNET, tags))
    assert verdict.assumed == ()


def test_witnesses_are_decided_by_their_parts_rule(rule, nsg, tags) -> None:
    rules = (
        rule("DenyUdp", 100, access="Deny", protocol="Udp", src="20.0.0.0/25"),
        rule("AllowTcpLow", 110, protocol="Tcp", src="20.0.0.0/24", dst_ports="1-1000"),
        rule("DenyV6", 120, access="Deny", src="::/0"),
        rule("AllowRest", 130, src="*", dst_ports=["1-100", "2000-3000"]),
    )
    compiled = compile_nsg(nsg("n", *rules), VNET, tags)
    flow = FlowClass.of("Inbound", protocols=["Tcp", "Udp"], src=["20.0.0.0/24", "2001:db8::/64"],
                        dst=[SUBNET, "fd00::/64"], dst_ports="50-2500")
    verdict = evaluate(flow, compiled)
    names = {part.decider.rule_name for part in verdict.parts}
    assert names == {"DenyUdp", "AllowTcpLow", "DenyV6", "AllowRest", "DenyAllInBound"}
    for part in verdict.parts:
        assert part.region.contains(part.witness)
        assert decide_packet(compiled, "Inbound", part.witness) == part.decider
        assert verdict.part_containing(part.witness) is part
    # exact split: nothing allowed for IPv6, TCP 50-1000 allowed, UDP only outside the denied half
    assert verdict.allowed.src.families == (4,)
    tcp_packet = Packet("Tcp", "20.0.0.200", 5000, "10.1.1.9", 999)
    assert verdict.part_containing(tcp_packet).decider.rule_name == "AllowTcpLow"  # type: ignore[union-attr]
    udp_packet = Packet("Udp", "20.0.0.200", 5000, "10.1.1.9", 2100)
    assert verdict.part_containing(udp_packet).decider.rule_name == "AllowRest"  # type: ignore[union-attr]
    udp_gap = Packet("Udp", "20.0.0.200", 5000, "10.1.1.9", 1500)
    assert verdict.part_containing(udp_gap).decider.rule_name == "DenyAllInBound"  # type: ignore[union-attr]
    assert verdict.part_containing(Packet("Tcp", "20.0.1.1", 1, "10.1.1.9", 60)) is None  # outside the flow


def test_bare_ip_prefixes_and_effective_rules_port_style(rule, nsg, tags) -> None:
    allow = rule("AllowOne", 100, protocol="Tcp", src="20.0.0.7", dst="10.1.1.4", src_ports="0-65535", dst_ports="22-22")
    compiled = compile_nsg(nsg("n", allow), VNET, tags)
    assert decide_packet(compiled, "Inbound", Packet("Tcp", "20.0.0.7", 40000, "10.1.1.4", 22)).rule_name == "AllowOne"
    assert decide_packet(compiled, "Inbound", Packet("Tcp", "20.0.0.8", 40000, "10.1.1.4", 22)).rule_name == "DenyAllInBound"


def test_source_ports_are_matched(rule, nsg, tags) -> None:
    allow = rule("AllowHighSource", 100, protocol="Tcp", src_ports="1024-65535", dst_ports="443")
    flow = FlowClass.of("Inbound", protocols="Tcp", src="20.0.0.0/24", dst=SUBNET, dst_ports="443")
    verdict = evaluate(flow, compile_nsg(nsg("n", allow), VNET, tags))
    assert verdict.any_allowed and not verdict.all_allowed
    assert verdict.denied.src_ports.to_strings() == ["0-1023"]


def test_empty_flow_is_refused(tags, nsg) -> None:
    compiled = compile_nsg(nsg("n"), VNET, tags)
    with pytest.raises(EmptyFlowError):
        evaluate(FlowClass.of("Inbound", src="2001:db8::/64", dst=SUBNET), compiled)


def test_missing_nsg_allows_everything() -> None:
    verdict = evaluate(FlowClass.of("Inbound", src="0.0.0.0/0", dst=SUBNET), None)
    assert verdict.all_allowed
    assert verdict.parts[0].decider.kind == "no-nsg"


def test_missing_security_rules_fail_closed(tags) -> None:
    compiled = compile_nsg({"name": "n", "properties": {"provisioningState": "Succeeded"}}, VNET, tags)
    verdict = evaluate(FlowClass.of("Inbound", src="20.0.0.0/24", dst=SUBNET), compiled)
    assert not verdict.is_complete
    assert verdict.unresolved[0].value == "securityRules"


def test_rule_without_priority_fails_closed(nsg, tags) -> None:
    broken = {"name": "NoPriority", "properties": {"protocol": "*", "access": "Allow", "direction": "Inbound",
                                                   "sourceAddressPrefix": "*", "destinationAddressPrefix": "*",
                                                   "sourcePortRange": "*", "destinationPortRange": "*"}}
    compiled = compile_nsg(nsg("n", broken), VNET, tags)
    inbound = evaluate(FlowClass.of("Inbound", src="20.0.0.0/24", dst=SUBNET), compiled)
    assert [problem.item for problem in inbound.unresolved] == ["NoPriority"]
    outbound = evaluate(FlowClass.of("Outbound", src=SUBNET, dst="20.0.0.0/24"), compiled)
    assert outbound.is_complete


def test_invalid_protocol_is_unresolved_and_worst_case(rule, nsg, tags) -> None:
    weird = rule("DenyGre", 100, access="Deny", protocol="Gre")
    allow = rule("AllowAll", 200)
    compiled = compile_nsg(nsg("n", weird, allow), VNET, tags)
    flow = FlowClass.of("Inbound", protocols="Tcp", src="20.0.0.0/24", dst=SUBNET, dst_ports="443")
    verdict = evaluate(flow, compiled, Question.ALL_ALLOWED)
    assert not verdict.is_complete and not verdict.any_allowed  # the unreadable deny may match
    assert evaluate(flow, compiled, Question.ANY_ALLOWED).all_allowed
