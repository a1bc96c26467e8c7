"""An independent oracle for NSG decisions, used only by tests and benchmarks.

It shares no code with ``amlaudit.auditor.netpolicy`` on purpose: a differential test
is only worth something when the two sides were written apart. Three parts:

- ``arm_rules``: parse ARM security rules into the oracle's own rule model;
- ``z3_oracle``: decide flow-class questions exactly with an SMT encoding
  (bit-vector addresses and ports, first match as nested if-then-else);
- ``point_sampler``: decide one packet at a time the way Network Watcher's
  IP flow verify does, and sample a flow class at its boundaries.
"""

from .arm_rules import (
    AddressContext,
    AddressMatcher,
    OracleInputError,
    OracleRule,
    ParsedNsg,
    parse_nsg,
    parse_rule,
)
from .flows import PROTOCOLS, FlowBox, FlowClass, LevelDecision, Packet, levels_for

__all__ = [
    "PROTOCOLS",
    "AddressContext",
    "AddressMatcher",
    "FlowBox",
    "FlowClass",
    "LevelDecision",
    "OracleInputError",
    "OracleRule",
    "Packet",
    "ParsedNsg",
    "levels_for",
    "parse_nsg",
    "parse_rule",
]
