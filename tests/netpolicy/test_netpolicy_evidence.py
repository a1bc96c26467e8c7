"""Evidence in words and as JSON."""

from __future__ import annotations

import json

from amlaudit.auditor.netpolicy import (
    AddressSet,
    FlowClass,
    Question,
    compile_nsg,
    describe,
    evaluate,
    evaluate_path,
    to_evidence,
)

VNET = AddressSet.parse("10.1.0.0/16")


def test_denial_reads_like_the_style_guide(rule, nsg, tags_2020) -> None:
    rules = (
        rule("DenyInternet", 100, access="Deny", src="Internet"),
        rule("AllowBatch", 110, protocol="Tcp", src="BatchNodeManagement.EastUS", dst_ports=["29876", "29877"]),
    )
    batch = tags_2020.regional_or_global("BatchNodeManagement", "eastus").only(4)
    flow = FlowClass.of("Inbound", protocols="Tcp", src=batch, dst="10.1.1.0/24", dst_ports="29876-29877")
    verdict = evaluate(flow, compile_nsg(nsg("compute-nsg", *rules), VNET, tags_2020))
    text = describe(verdict)
    assert (
        "rule DenyInternet (priority 100, Inbound, Deny) in compute-nsg denies TCP 29876-29877"
        " from 17 of 17 IPv4 prefixes of BatchNodeManagement.EastUS"
        " before AllowBatch (priority 110) is reached; e.g. TCP 13.92.114.103:1024 -> 10.1.1.4:29876"
    ) in text
    assert text.startswith("inbound TCP 29876-29877 from 17 of 17 IPv4 prefixes of BatchNodeManagement.EastUS to 10.1.1.0/24 is denied")


def test_partial_denial_names_the_prefixes_left_out(rule, nsg, tags_2020) -> None:
    batch = tags_2020.regional_or_global("BatchNodeManagement", "eastus").only(4)
    allow_some = rule("AllowSomeBatch", 100, protocol="Tcp", src=["13.92.114.103", "20.42.6.224/27"], dst_ports="29876-29877")
    flow = FlowClass.of("Inbound", protocols="Tcp", src=batch, dst="10.1.1.0/24", dst_ports="29876-29877")
    verdict = evaluate_path(flow, compile_nsg(nsg("subnet-nsg", allow_some), VNET, tags_2020), None)
    text = describe(verdict)
    assert "is only partly allowed" in text
    assert "rule DenyAllInBound (priority 65500, Inbound, Deny, default rule) in subnet-nsg (subnet NSG) denies" in text
    assert "from 15 of 17 IPv4 prefixes of BatchNodeManagement.EastUS" in text
    assert "the rest is allowed by rule AllowSomeBatch" in text

    evidence = to_evidence(verdict)
    json.dumps(evidence)  # JSON-able
    assert evidence["outcome"] == "partly allowed"
    assert evidence["question"] == "all" and evidence["complete"] is True
    denied = evidence["parts"][0]
    assert denied["access"] == "Deny"
    assert denied["src"]["matching_prefixes"] == 15 and denied["src"]["total_prefixes"] == 17
    assert denied["dst_ports"] == ["29876-29877"]
    assert denied["deciders"][0] == {
        "level": "subnet", "kind": "rule", "nsg": "subnet-nsg",
        "nsg_id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/subnet-nsg",
        "rule": "DenyAllInBound", "rule_id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/subnet-nsg/defaultSecurityRules/DenyAllInBound",
        "priority": 65500, "direction": "Inbound", "access": "Deny", "default": True,
    }
    assert denied["witness"]["dst_port"] == 29876
    assert evidence["parts"][1]["deciders"][1]["kind"] == "no-nsg"


def test_cidr_lists_are_capped_with_a_count(nsg, tags) -> None:
    batch = tags.get("BatchNodeManagement")
    assert batch is not None
    flow = FlowClass.of("Inbound", protocols="Tcp", src=batch, dst="10.1.1.0/24", dst_ports="29876")
    evidence = to_evidence(evaluate(flow, compile_nsg(nsg("n"), VNET, tags)))
    source = evidence["flow"]["src"]
    assert len(source["cidrs"]) == 20 and source["truncated"] is True
    assert source["cidr_count"] == len(batch.addresses.to_cidrs())
    assert source["total_prefixes"] == len(batch.prefixes)


def test_assumptions_and_unresolved_data_are_said(rule, nsg, tags) -> None:
    rules = (
        rule("AllowWeb", 100, protocol="Tcp", dst_asgs=["web-asg"], dst_ports="443"),
        rule("DenyOdd", 110, access="Deny", src="NoSuchTag"),
    )
    flow = FlowClass.of("Inbound", protocols="Tcp", src="20.0.0.0/24", dst="10.1.1.0/24", dst_ports="443")
    verdict = evaluate(flow, compile_nsg(nsg("n", *rules), VNET, tags), Question.ALL_ALLOWED)
    text = describe(verdict)
    assert "worst case assumed: rule AllowWeb" in text and "web-asg" in text and "matches nothing" in text
    assert "could not evaluate NSG n DenyOdd" in text and "NoSuchTag" in text
    evidence = to_evidence(verdict)
    assert evidence["complete"] is False
    assert evidence["unresolved"][0]["value"] == "NoSuchTag"
    assert evidence["assumed"][0]["groups"] == ["web-asg"]


def test_allowed_verdict_names_the_path(rule, nsg, tags) -> None:
    flow = FlowClass.of("Outbound", protocols=["Tcp", "Udp"], src="10.1.1.0/24", dst=VNET)
    verdict = evaluate_path(flow, compile_nsg(nsg("subnet-nsg"), VNET, tags), None)
    assert describe(verdict) == (
        "outbound TCP/UDP all ports from 10.1.1.0/24 to 10.1.0.0/16 is allowed by (no NIC NSG) then"
        " rule AllowVnetOutBound (priority 65000, Outbound, Allow, default rule) in subnet-nsg (subnet NSG)"
    )
