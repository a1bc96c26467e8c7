"""The oracle's two halves against each other on generated cases.

z3 and the point sampler share only the ARM parsing; where the sampler
walked its whole boundary grid both must give the same verdicts, and every
packet z3 returns must get the same per-level decisions from the sampler.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings

from .arm_rules import AddressContext, parse_nsg
from .flows import levels_for
from .point_sampler import PacketVerifier, sample_flow
from .strategies import FAKE_SERVICE_TAGS, VIRTUAL_NETWORK, GeneratedCase, cases
from .z3_oracle import all_allowed_composed, any_allowed_composed

CONTEXT = AddressContext(VIRTUAL_NETWORK, FAKE_SERVICE_TAGS)


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(cases(max_rules=6))
def test_z3_and_sampler_agree(case: GeneratedCase) -> None:
    flow = case.flow
    for reading in ("all_allowed", "any_allowed"):
        subnet = None if case.subnet_nsg is None else parse_nsg(case.subnet_nsg, CONTEXT, asg_reading=reading)
        nic = None if case.nic_nsg is None else parse_nsg(case.nic_nsg, CONTEXT, asg_reading=reading)
        levels = levels_for(flow.direction, subnet, nic)
        question = all_allowed_composed if reading == "all_allowed" else any_allowed_composed
        answer = question(flow, subnet, nic)
        if answer.packet is not None:
            assert flow.contains(answer.packet)
            assert PacketVerifier(levels, flow.direction).decide(answer.packet) == answer.decisions
        sampled = sample_flow(flow, levels, random.Random(0), exhaustive_limit=2000, sampled_packets=100)
        sampled_answer = sampled.all_allowed if reading == "all_allowed" else sampled.any_allowed
        if sampled_answer is not None:
            assert sampled_answer == answer.holds
        if reading == "all_allowed":
            assert answer.holds == (answer.packet is None)
        else:
            assert answer.holds == (answer.packet is not None)
