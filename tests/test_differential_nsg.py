"""Differential test: the network-policy engine against an independent oracle.

Hypothesis generates NSGs in ARM's shapes (random priorities, singular and
plural fields, tags from a small fake tag table, overlapping CIDRs in both
families, port lists, both directions, Allow/Deny, application security
groups now and then, default rules explicit or absent) on one level or on a
subnet-then-NIC path, and flow classes; and what the tags mean around them:
own networks (the VNet's space plus on-premises or peered spaces), a route
table whose prefixes (CIDRs, 0.0.0.0/0, ::/0, service tags) join
`VirtualNetwork`, and one of the two readings of `Internet` (outside
`VirtualNetwork` with the route prefixes, or without them). The engine reads
the route table with its own code (`user_route_addresses`), the oracle with
its own (`route_prefixes_of`). For every case:

1. the engine's verdicts (every packet allowed? any packet allowed?) equal
   the z3 oracle's;
2. the engine's split of the flow into parts is exact: z3 finds no packet
   that is in the flow but in no part, in a part but outside the flow, or in
   a part whose deciding rule at some level differs from the oracle's;
3. each part's witness packet is in the flow and the point sampler (IP flow
   verify style) decides it with the same rule at every level, so a denied
   witness really is denied;
4. the point sampler's verdicts, where it could decide, agree as well;
5. where the engine says a verdict cannot depend on the reading of Internet
   (`depends_on_internet`), the other reading gives the very same parts.

CI runs a fixed, derandomized set of cases. Set ``AMLAUDIT_DIFF_EXAMPLES=N``
for a longer random run (see benchmarks/README-differential.md). The value
is read at import time: the suite's autouse fixture clears ``AMLAUDIT_*``
variables before each test, after collection.
"""

from __future__ import annotations

import ipaddress
import os
import random
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from amlaudit.auditor.netpolicy import (
    AddressSet,
    FlowClass,
    FlowPart,
    FlowRegion,
    FlowVerdict,
    InternetReading,
    Question,
    ServiceTagIndex,
    VirtualNetworkTags,
    compile_nsg,
    depends_on_internet,
    evaluate,
    evaluate_chain,
    evaluate_path,
    user_route_addresses,
)
from amlaudit.auditor.netpolicy import Packet as EnginePacket
from tests.oracle.arm_rules import AddressContext, AsgReading, ParsedNsg, parse_nsg, parse_port_item, route_prefixes_of
from tests.oracle.flows import FlowBox, LevelDecision, Packet, levels_for
from tests.oracle.flows import FlowClass as OracleFlow
from tests.oracle.point_sampler import PacketVerifier, SampleResult, sample_flow
from tests.oracle.strategies import FAKE_SERVICE_TAGS, GeneratedCase, cases
from tests.oracle.z3_oracle import (
    ClaimedPart,
    Z3Answer,
    all_allowed,
    all_allowed_composed,
    any_allowed,
    any_allowed_composed,
    partition_disagreement,
)

CI_EXAMPLES = 1000
_requested = os.environ.get("AMLAUDIT_DIFF_EXAMPLES", "").strip()
LONG_RUN = bool(_requested)
EXAMPLES = int(_requested) if LONG_RUN else CI_EXAMPLES

ENGINE_TAGS = ServiceTagIndex(
    [
        {
            "changeNumber": 1,
            "cloud": "Public",
            "values": [
                {
                    "name": name,
                    "id": name,
                    "properties": {
                        "changeNumber": 1,
                        "region": name.split(".", 1)[1].lower() if "." in name else "",
                        "platform": "Azure",
                        "systemService": name.split(".", 1)[0],
                        "addressPrefixes": list(prefixes),
                    },
                }
                for name, prefixes in FAKE_SERVICE_TAGS.items()
            ],
        }
    ]
)
ENGINE_READINGS = {"with_routes": InternetReading.WITH_ROUTES, "without_routes": InternetReading.WITHOUT_ROUTES}


def oracle_context(case: GeneratedCase) -> AddressContext:
    return AddressContext(case.own_networks, FAKE_SERVICE_TAGS, route_prefixes_of(case.route_table),
                          case.internet_reading)  # type: ignore[arg-type]


def engine_tags(case: GeneratedCase) -> VirtualNetworkTags:
    routes = AddressSet()
    if case.route_table is not None:
        read, problems = user_route_addresses(case.route_table, ENGINE_TAGS)
        assert not problems, f"engine could not read the generated route table: {problems}"
        for _, addresses in read:
            routes = routes | addresses
    return VirtualNetworkTags(AddressSet.parse(list(case.own_networks)), routes, ENGINE_READINGS[case.internet_reading])

READINGS: dict[Question, AsgReading] = {Question.ALL_ALLOWED: "all_allowed", Question.ANY_ALLOWED: "any_allowed"}


# --- translating between the engine's and the oracle's shapes -------------------------


def engine_flow(flow: OracleFlow) -> FlowClass:
    return FlowClass.of(
        flow.direction,
        protocols=sorted(flow.protocols),
        src=[str(network) for network in flow.source_prefixes],
        src_ports=[f"{low}-{high}" for low, high in flow.source_ports],
        dst=[str(network) for network in flow.destination_prefixes],
        dst_ports=[f"{low}-{high}" for low, high in flow.destination_ports],
    )


def oracle_packet(packet: EnginePacket) -> Packet:
    return Packet(
        packet.protocol,
        ipaddress.ip_address(packet.src_ip),
        packet.src_port,
        ipaddress.ip_address(packet.dst_ip),
        packet.dst_port,
    )


def oracle_boxes(region: FlowRegion) -> tuple[FlowBox, ...]:
    """The engine's region as the oracle's boxes, one per engine box (each box is a product)."""
    boxes = []
    for box in region.boxes:
        single = FlowRegion((box,))
        boxes.append(
            FlowBox.of(
                single.protocols.names(),
                single.src.to_cidrs(),
                [parse_port_item(text) for text in single.src_ports.to_strings()],
                single.dst.to_cidrs(),
                [parse_port_item(text) for text in single.dst_ports.to_strings()],
            )
        )
    return tuple(boxes)


def claimed_part(part: FlowPart) -> ClaimedPart:
    return ClaimedPart(
        oracle_boxes(part.region),
        tuple(ref.priority if ref.kind == "rule" else None for ref in part.deciders),
    )


def same_decision(engine: Any, oracle: LevelDecision) -> bool:
    """An engine RuleRef and an oracle decision name the same outcome at one level."""
    if engine.kind == "no-nsg":
        return oracle.nsg_name is None and oracle.access == "Allow"
    if engine.kind == "no-matching-rule":
        return oracle.rule_name is None and oracle.access == "Deny" and oracle.nsg_name == engine.nsg_name
    return (engine.nsg_name, engine.rule_name, engine.priority, engine.access) == (
        oracle.nsg_name,
        oracle.rule_name,
        oracle.priority,
        oracle.access,
    )


# --- one case ----------------------------------------------------------------------------


def _levels(case: GeneratedCase, reading: AsgReading) -> tuple[ParsedNsg | None, ...]:
    context = oracle_context(case)

    def parse(nsg: Mapping[str, Any] | None) -> ParsedNsg | None:
        return None if nsg is None else parse_nsg(nsg, context, asg_reading=reading)

    if not case.composed:
        return (parse(case.subnet_nsg),)
    return levels_for(case.flow.direction, parse(case.subnet_nsg), parse(case.nic_nsg))


def _engine_levels(case: GeneratedCase, tags: VirtualNetworkTags) -> list[tuple[str, Any]]:
    def compile_level(nsg: Mapping[str, Any] | None) -> Any:
        return None if nsg is None else compile_nsg(nsg, tags, ENGINE_TAGS)

    if not case.composed:
        return [("NSG", compile_level(case.subnet_nsg))]
    subnet, nic = ("subnet", compile_level(case.subnet_nsg)), ("NIC", compile_level(case.nic_nsg))
    return [subnet, nic] if case.flow.direction == "Inbound" else [nic, subnet]


def _engine_verdict(case: GeneratedCase, question: Question) -> FlowVerdict:
    flow = engine_flow(case.flow)
    tags = engine_tags(case)

    def compile_level(nsg: Mapping[str, Any] | None) -> Any:
        return None if nsg is None else compile_nsg(nsg, tags, ENGINE_TAGS)

    if not case.composed:
        return evaluate(flow, compile_level(case.subnet_nsg), question)
    return evaluate_path(flow, compile_level(case.subnet_nsg), compile_level(case.nic_nsg), question)


def check_reading_independence(case: GeneratedCase, question: Question) -> bool | None:
    """5. When `depends_on_internet` says the verdict cannot change with the reading of Internet, the
    other reading gives the very same parts. Returns what it said (None: the readings coincide)."""
    tags = engine_tags(case)
    if not tags.readings_differ:
        return None
    flow = engine_flow(case.flow)
    levels = _engine_levels(case, tags)
    verdict = evaluate_chain(flow, levels, question)
    depends = depends_on_internet(verdict, levels, tags.reading_dependent)
    if not depends:
        other_reading = (InternetReading.WITHOUT_ROUTES if tags.reading is InternetReading.WITH_ROUTES
                         else InternetReading.WITH_ROUTES)
        other = evaluate_chain(flow, _engine_levels(case, tags.under(other_reading)), question)
        assert _part_shapes(other) == _part_shapes(verdict), "depends_on_internet said False, but the readings differ"
    return depends


def _z3_answer(case: GeneratedCase, levels: Sequence[ParsedNsg | None], question: Question) -> Z3Answer:
    flow = case.flow
    if not case.composed:
        ask = all_allowed if question is Question.ALL_ALLOWED else any_allowed
        return ask(flow, levels[0])
    subnet, nic = levels if flow.direction == "Inbound" else tuple(reversed(levels))
    ask_path = all_allowed_composed if question is Question.ALL_ALLOWED else any_allowed_composed
    return ask_path(flow, subnet, nic)


def _part_shapes(verdict: FlowVerdict) -> list[tuple[str, tuple[Any, ...], tuple[Any, ...]]]:
    return [(part.access, part.deciders, part.region.boxes) for part in verdict.parts]


def check_case(case: GeneratedCase, sampler_seed: int) -> None:
    """Every comparison for one case, under both questions; raises AssertionError with the detail."""
    checked_split: tuple[tuple[ParsedNsg | None, ...], FlowVerdict] | None = None
    sampled_for: dict[tuple[ParsedNsg | None, ...], SampleResult] = {}
    for question, reading in READINGS.items():
        levels = _levels(case, reading)
        verdict = _engine_verdict(case, question)
        assert not verdict.unresolved, f"engine could not resolve generated data: {verdict.unresolved}"
        has_asg_rule = any(rule.asg_assumed for nsg in levels if nsg is not None for rule in nsg.inbound + nsg.outbound)
        if not has_asg_rule:
            assert not verdict.assumed

        # 1. the verdicts
        answer = _z3_answer(case, levels, question)
        engine_says = verdict.all_allowed if question is Question.ALL_ALLOWED else verdict.any_allowed
        assert engine_says == answer.holds, (
            f"{question.name}: engine says {engine_says}, z3 says {answer.holds}; "
            f"z3's packet {answer.packet} decided by {answer.decisions}"
        )

        # 2. the exact split, with deciding rules
        for part in verdict.parts:
            assert 1 <= len(part.deciders) <= len(levels)
            assert all(ref.access == "Allow" for ref in part.deciders[:-1])
            assert part.access == part.deciders[-1].access
            assert part.allowed == (len(part.deciders) == len(levels) and part.deciders[-1].access == "Allow")
        if checked_split is not None and checked_split[0] == levels:
            # Without ASG rules both questions read the NSGs alike, so the engine's
            # split must be the very same; the one already proven need not be re-proven.
            assert _part_shapes(verdict) == _part_shapes(checked_split[1])
        else:
            wrong = partition_disagreement(case.flow, levels, [claimed_part(part) for part in verdict.parts])
            assert wrong.holds, (
                f"{question.name}: engine misclassifies {wrong.packet}: oracle decisions {wrong.decisions}; "
                f"engine part {verdict.part_containing(_engine_packet(wrong.packet)) if wrong.packet else None}"
            )
            checked_split = (levels, verdict)

        # 3. witnesses, decided one packet at a time
        verifier = PacketVerifier(levels, case.flow.direction)
        for part in verdict.parts:
            witness = oracle_packet(part.witness)
            assert case.flow.contains(witness), f"witness {witness} is outside the flow"
            decisions = verifier.decide(witness)
            reached = decisions[: len(part.deciders)]
            assert all(same_decision(ref, decision) for ref, decision in zip(part.deciders, reached)), (
                f"witness {witness}: engine deciders {part.deciders}, IP-flow-verify style {decisions}"
            )
            assert verifier.allows(witness) == part.allowed

        # 5. the reading of Internet, where the engine says it cannot matter
        check_reading_independence(case, question)

        # 4. the sampler's verdict, where it could decide
        if levels not in sampled_for:
            sampled_for[levels] = sample_flow(
                case.flow, levels, random.Random(sampler_seed), exhaustive_limit=1500, sampled_packets=64
            )
        sampled = sampled_for[levels]
        sampled_says = sampled.all_allowed if question is Question.ALL_ALLOWED else sampled.any_allowed
        if sampled_says is not None:
            assert sampled_says == engine_says, (
                f"{question.name}: sampler says {sampled_says} (denied {sampled.denied_packet}, "
                f"allowed {sampled.allowed_packet}), engine says {engine_says}"
            )


def _engine_packet(packet: Packet) -> EnginePacket:
    return EnginePacket(packet.protocol, str(packet.source_ip), packet.source_port, str(packet.destination_ip), packet.destination_port)


@settings(
    max_examples=EXAMPLES,
    derandomize=not LONG_RUN,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=cases(max_rules=8))
def test_engine_agrees_with_oracle(case: GeneratedCase) -> None:
    check_case(case, sampler_seed=0)


# --- fixed regressions (cases found by the generator, kept forever) ----------------------


def _rule(name: str, priority: int, access: str, direction: str = "Inbound", **fields: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "protocol": "*",
        "sourcePortRange": "*",
        "destinationPortRange": "*",
        "sourceAddressPrefix": "*",
        "destinationAddressPrefix": "*",
        "access": access,
        "priority": priority,
        "direction": direction,
    }
    properties.update(fields)
    return {"name": name, "properties": properties}


def _nsg(name: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "properties": {"securityRules": list(rules)}}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            GeneratedCase(
                _nsg(
                    "subnet-nsg",
                    _rule("DenyInternet", 100, "Deny", sourceAddressPrefix="internet"),
                    _rule("AllowTag", 110, "Allow", sourceAddressPrefix="Storage.EastUS", destinationPortRange="443"),
                ),
                None,
                OracleFlow.of("Inbound", {"Tcp"}, ["20.0.6.0/23", "10.0.3.0/24"], [(0, 65535)], ["10.0.1.0/24"], [(443, 443)]),
                composed=False,
            ),
            id="tag-straddling-vnet-and-internet",
        ),
        pytest.param(
            GeneratedCase(
                None,
                _nsg("nic-nsg", _rule("AllowV6", 100, "Allow", sourceAddressPrefix="", sourceAddressPrefixes=["2603:1000:4::/48"])),
                OracleFlow.of("Inbound", {"Udp", "Esp"}, ["2603:1000::/40"], [(0, 65535)], ["fd00:1::/64"], [(500, 500), (4500, 4500)]),
                composed=True,
            ),
            id="ipv6-half-covered-missing-subnet-nsg",
        ),
    ],
)
def test_fixed_cases(case: GeneratedCase) -> None:
    check_case(case, sampler_seed=0)
