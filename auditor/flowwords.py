"""Words and evidence for flow answers over huge address sets.

The public-client set is about 600 address ranges (6,000 CIDRs); the engine's `describe` and
`to_evidence` render every CIDR of a part before capping the list, which cost tens of
milliseconds per finding on the benchmark estate (more than the question itself). These show
the first few CIDRs and count the ranges instead.
"""

from __future__ import annotations

from typing import Any

from amlaudit.auditor.netpolicy import (
    AddressSet,
    Endpoint,
    FlowClass,
    FlowPart,
    FlowVerdict,
    RuleRef,
    Unresolved,
    format_address,
)

DECIDERS_LIMIT = 10
LEAN_CIDRS = 5  # CIDRs listed per side in lean evidence
LEAN_PARTS = 5  # allowed parts (and denying rules) listed in lean evidence
LEAN_PARTS_IN_WORDS = 3


def address_sketch(addresses: AddressSet, limit: int = LEAN_CIDRS) -> tuple[list[str], int, bool]:
    """(the CIDRs covering the first ranges of `addresses`, at most `limit`; the number of
    ranges in the whole set; whether the CIDRs cover all of it)."""
    cidrs: list[str] = []
    ranges = 0
    complete = True
    for family in addresses.families:
        bounds = addresses.family_set(family)
        ranges += len(bounds) // 2
        bits = 32 if family == 4 else 128
        for index in range(0, len(bounds), 2):
            lo, hi = bounds[index], bounds[index + 1]
            while lo < hi and complete:
                if len(cidrs) == limit:
                    complete = False
                    break
                # The largest aligned block starting at lo that fits in [lo, hi).
                size = lo & -lo if lo else 1 << bits
                while size > hi - lo:
                    size >>= 1
                cidrs.append(f"{format_address(family, lo)}/{bits - size.bit_length() + 1}")
                lo += size
            if not complete:
                break
    return cidrs, ranges, complete


def sketch_text(addresses: AddressSet, limit: int = 3) -> str:
    cidrs, ranges, complete = address_sketch(addresses, limit)
    text = ", ".join(cidrs)
    return text if complete else f"{text} and more ({ranges} address ranges in all)"


def sketch_json(addresses: AddressSet, endpoint: Endpoint) -> dict[str, Any]:
    if addresses == endpoint.addresses:
        return {"label": endpoint.label, "whole_side": True}
    cidrs, ranges, complete = address_sketch(addresses)
    return {"label": endpoint.label, "whole_side": False, "cidrs": cidrs, "truncated": not complete,
            "range_count": ranges}


def decider_words(level: str, ref: RuleRef) -> str:
    """"subnet NSG nsg-x: AllowBatch (priority 100, Allow)", or "subnet: (no subnet NSG)"."""
    if ref.kind == "rule":
        default = ", default rule" if ref.is_default else ""
        return f"{level} NSG {ref.nsg_name}: {ref.rule_name} (priority {ref.priority}, {ref.access}{default})"
    return f"{level}: {ref}"


def side_words(endpoint: Endpoint) -> str:
    if endpoint.prefixes and endpoint.label:
        families = endpoint.addresses.families
        family = f"IPv{families[0]} " if len(families) == 1 else ""
        return f"all {len(endpoint.prefixes)} {family}prefixes of {endpoint.label}"
    return endpoint.label or ", ".join(endpoint.addresses.to_cidrs()[:3])


def ports_words(flow: FlowClass) -> str:
    return "all ports" if flow.dst_ports.is_all() else ",".join(flow.dst_ports.to_strings())


def allowed_summary(verdict: FlowVerdict) -> str:
    """A wholly allowed verdict in the engine's words, without re-parsing the tag prefixes."""
    flow = verdict.flow
    paths: list[str] = []
    for part in verdict.parts:
        path = " then ".join(str(ref) + (f" ({level} NSG)" if len(verdict.levels) > 1 and ref.kind == "rule" else "")
                             for level, ref in zip(verdict.levels, part.deciders))
        if path not in paths:
            paths.append(path)
    shown = "; ".join(paths[:LEAN_PARTS_IN_WORDS])
    more = f"; and {len(paths) - LEAN_PARTS_IN_WORDS} more" if len(paths) > LEAN_PARTS_IN_WORDS else ""
    sentences = [f"{flow.direction.value.lower()} {flow.protocols} {ports_words(flow)} from {side_words(flow.src)} "
                 f"to {side_words(flow.dst)} is allowed by {shown}{more}"]
    sentences += [f"worst case assumed: {assumption}" for assumption in verdict.assumed]
    sentences += [f"could not evaluate {problem}" for problem in verdict.unresolved]
    return "; ".join(sentences)


def path_words(part: FlowPart) -> str:
    return " then ".join(str(ref) for ref in part.deciders)


def sources_of_part(part: FlowPart, flow: FlowClass) -> AddressSet | None:
    """The part's sources, or None when they are the flow's whole source set. Checked box by
    box first (a box is `(family_index, protocols, dst_ports, src_ports, dst, src)`, see
    `amlaudit.auditor.netpolicy.flows`): the union of a part's sources merges every box's ~600 ranges
    for the public clients, and many allowed parts keep the whole source in every box."""
    sources = (flow.src.addresses.v4, flow.src.addresses.v6)
    if all(box[5] == sources[box[0]] for box in part.region.boxes):
        return None
    found = part.region.src
    return None if found == flow.src.addresses else found


def lean_summary(verdict: FlowVerdict) -> str:
    """The verdict in words, naming each allowed part's rules and sources and each denying rule."""
    flow = verdict.flow
    whole = f"{flow.direction.value.lower()} {flow.protocols} {ports_words(flow)} from {flow.src.label} to {flow.dst.label}"
    allowed, denied = verdict.allowed_parts, verdict.denied_parts
    state = "is allowed" if not denied else "is denied" if not allowed else "is partly allowed"
    sentences = [f"{whole} {state}"]
    for part in allowed[:LEAN_PARTS_IN_WORDS]:
        part_source = sources_of_part(part, flow)
        source = "" if part_source is None else f" from {sketch_text(part_source)}"
        sentences.append(f"{path_words(part)} lets it in{source}; e.g. {part.witness}")
    if len(allowed) > LEAN_PARTS_IN_WORDS:
        sentences.append(f"{len(allowed) - LEAN_PARTS_IN_WORDS} more allowed parts")
    paths: dict[tuple[RuleRef, ...], None] = dict.fromkeys(part.deciders for part in denied)
    denying = [str(path[-1]) + (f" ({' then '.join(str(ref) for ref in path)})" if len(path) > 1 else "")
               for path in list(paths)[:LEAN_PARTS_IN_WORDS + 1]]
    if denying:
        shown = "; ".join(denying[:LEAN_PARTS_IN_WORDS])
        more = f" and {len(paths) - LEAN_PARTS_IN_WORDS} more rules" if len(paths) > LEAN_PARTS_IN_WORDS else ""
        sentences.append(f"{'the rest is ' if allowed else ''}denied by {shown}{more}")
    sentences += [f"worst case assumed: {assumption}" for assumption in verdict.assumed]
    sentences += [f"could not evaluate {problem}" for problem in verdict.unresolved]
    return "; ".join(sentences)


def lean_evidence(verdict: FlowVerdict) -> dict[str, Any]:
    """Like the engine's `to_evidence`, for a flow from a huge set: the allowed parts with their
    sides sketched (first CIDRs and a range count), and the rules that denied the rest."""
    flow = verdict.flow
    allowed = [{
        "protocols": part.region.protocols.names(),
        "src": sketch_json(part.region.src, flow.src),
        "dst": sketch_json(part.region.dst, flow.dst),
        "dst_ports": part.region.dst_ports.to_strings(),
        "deciders": [decider_words(level, ref) for level, ref in zip(verdict.levels, part.deciders)],
        "witness": str(part.witness),
    } for part in verdict.allowed_parts[:LEAN_PARTS]]
    denied_by: dict[tuple[RuleRef, ...], dict[str, Any]] = {}
    for part in verdict.denied_parts:
        if part.deciders not in denied_by and len(denied_by) < LEAN_PARTS:
            denied_by[part.deciders] = {
                "deciders": [decider_words(level, ref) for level, ref in zip(verdict.levels, part.deciders)],
                "witness": str(part.witness)}
    evidence: dict[str, Any] = {
        "outcome": "allowed" if verdict.all_allowed else "partly allowed" if verdict.any_allowed else "denied",
        "allowed_parts": allowed,
        "allowed_part_count": len(verdict.allowed_parts),
        "denied_by": list(denied_by.values()),
    }
    if verdict.assumed:
        evidence["assumed"] = [assumption.to_json() for assumption in verdict.assumed]
    if verdict.unresolved:
        evidence["unresolved"] = [unresolved_json(p) for p in verdict.unresolved]
    return evidence


def unresolved_json(problem: Unresolved) -> dict[str, Any]:
    return {"kind": problem.kind, "where": problem.container, "item": problem.item, "value": problem.value,
            "detail": problem.detail}
