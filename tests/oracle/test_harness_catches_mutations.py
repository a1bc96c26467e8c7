"""The differential harness must be able to fail.

Each test plants one kind of engine bug from outside (through the engine's
public API: what it is given, or the verdict it returns) and asks hypothesis
for a generated case on which ``check_case`` objects. A harness that let
these through would pass against any engine. (The unmutated engine passing
the same generator is tests/test_differential_nsg.py itself.)
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, find, settings

import tests.test_differential_nsg as differential
from amlaudit.auditor.netpolicy import FlowVerdict, Question

from .strategies import VIRTUAL_NETWORK, GeneratedCase, cases

SEARCH = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _objects(case: GeneratedCase) -> bool:
    try:
        differential.check_case(case, sampler_seed=0)
    except AssertionError:
        return True
    return False


def _find_objection(monkeypatch: pytest.MonkeyPatch, tampered: Callable[[GeneratedCase, Question], FlowVerdict]) -> GeneratedCase:
    monkeypatch.setattr(differential, "_engine_verdict", tampered)
    return find(cases(max_rules=6), _objects, settings=SEARCH)


_honest = differential._engine_verdict


def _without_plural_fields(nsg: dict[str, Any] | None) -> dict[str, Any] | None:
    if nsg is None:
        return None
    blind = copy.deepcopy(nsg)
    for rule in blind["properties"]["securityRules"]:
        for key in ("sourceAddressPrefixes", "destinationAddressPrefixes", "destinationPortRanges"):
            if rule["properties"].get(key):
                rule["properties"][key] = []
                singular = key[:-2] if key.endswith("es") else key[:-1]
                rule["properties"][singular] = "*" if "Port" in key else "10.255.255.255"
    return blind


def test_an_engine_ignoring_plural_fields_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def blind_engine(case: GeneratedCase, question: Question) -> FlowVerdict:
        seen = dataclasses.replace(case, subnet_nsg=_without_plural_fields(case.subnet_nsg), nic_nsg=_without_plural_fields(case.nic_nsg))
        return _honest(seen, question)

    _find_objection(monkeypatch, blind_engine)


def test_an_engine_losing_a_part_of_the_flow_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def leaky_engine(case: GeneratedCase, question: Question) -> FlowVerdict:
        verdict = _honest(case, question)
        return dataclasses.replace(verdict, parts=verdict.parts[:-1]) if len(verdict.parts) > 1 else verdict

    found = _find_objection(monkeypatch, leaky_engine)
    monkeypatch.setattr(differential, "_engine_verdict", _honest)
    assert len(_honest(found, Question.ALL_ALLOWED).parts) > 1


def test_an_engine_blaming_the_wrong_rule_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def misattributing_engine(case: GeneratedCase, question: Question) -> FlowVerdict:
        verdict = _honest(case, question)
        parts = []
        for part in verdict.parts:
            last = part.deciders[-1]
            if not part.allowed and last.kind == "rule" and not last.is_default:
                # The verdict stays right; only the deciding rule is wrong.
                wrong = dataclasses.replace(last, rule_name="DenyAllInBound", priority=65500, is_default=True)
                part = dataclasses.replace(part, deciders=(*part.deciders[:-1], wrong))
            parts.append(part)
        return dataclasses.replace(verdict, parts=tuple(parts))

    _find_objection(monkeypatch, misattributing_engine)



# -- the VirtualNetwork tag as the catalog expands it ---------------------------------------------------


def test_an_engine_leaving_route_prefixes_out_of_virtual_network_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def routeless_engine(case: GeneratedCase, question: Question) -> FlowVerdict:
        return _honest(dataclasses.replace(case, route_table=None), question)

    found = _find_objection(monkeypatch, routeless_engine)
    assert found.route_table is not None


def test_an_engine_reading_internet_the_other_way_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def swapped_reading_engine(case: GeneratedCase, question: Question) -> FlowVerdict:
        other = "without_routes" if case.internet_reading == "with_routes" else "with_routes"
        return _honest(dataclasses.replace(case, internet_reading=other), question)

    found = _find_objection(monkeypatch, swapped_reading_engine)
    assert found.route_table is not None


def test_an_engine_ignoring_on_premises_spaces_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def vnet_only_engine(case: GeneratedCase, question: Question) -> FlowVerdict:
        return _honest(dataclasses.replace(case, own_networks=VIRTUAL_NETWORK), question)

    found = _find_objection(monkeypatch, vnet_only_engine)
    assert set(found.own_networks) > set(VIRTUAL_NETWORK)
