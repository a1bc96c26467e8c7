"""Evidence: verdicts in words a network engineer reads at a glance, and as JSON.

``describe`` gives one paragraph, e.g. "rule DenyInternet (priority 100,
Inbound, Deny) in compute-nsg denies TCP 29876-29877 from 17 of 17 IPv4
prefixes of BatchNodeManagement.EastUS before AllowBatch (priority 110) is
reached; e.g. TCP 13.92.114.103:1024 -> 10.1.1.4:29876". ``to_evidence``
gives the same facts as a JSON-able dict (CIDR lists capped, with counts).
"""

from __future__ import annotations

from typing import Any

from . import intervals
from .addresses import AddressSet, parse_block
from .evaluation import FlowPart, FlowVerdict
from .flows import Endpoint
from .ports import PortSet
from .protocols import ProtocolSet
from .routes import RoutePart, RouteVerdict

CIDR_LIMIT = 20
"""CIDRs listed per address set in JSON evidence; the count is always given."""
CIDRS_IN_WORDS = 3
PARTS_IN_WORDS = 3
PARTS_LIMIT = 20


# --- shared pieces -------------------------------------------------------------------


def _cidr_list_text(addresses: AddressSet, limit: int = CIDRS_IN_WORDS) -> str:
    cidrs = addresses.to_cidrs()
    shown = ", ".join(cidrs[:limit])
    return shown + (f" and {len(cidrs) - limit} more" if len(cidrs) > limit else "")


def _matching_prefixes(endpoint: Endpoint, addresses: AddressSet) -> int:
    count = 0
    for prefix in endpoint.prefixes:
        family, lo, hi = parse_block(prefix)
        if intervals.overlaps(addresses.family_set(family), (lo, hi)):
            count += 1
    return count


def _family_word(endpoint: Endpoint) -> str:
    families = {parse_block(prefix)[0] for prefix in endpoint.prefixes}
    return f"IPv{families.pop()} " if len(families) == 1 else ""


def _addresses_text(endpoint: Endpoint, addresses: AddressSet) -> str:
    """``17 of 17 IPv4 prefixes of BatchNodeManagement.EastUS`` or ``10.0.0.0/24``."""
    if endpoint.prefixes and endpoint.label:
        matching = _matching_prefixes(endpoint, addresses)
        noun = "prefix" if len(endpoint.prefixes) == 1 else "prefixes"
        of_label = f" of {endpoint.label}" if endpoint.label else ""
        text = f"{matching} of {len(endpoint.prefixes)} {_family_word(endpoint)}{noun}{of_label}"
        if addresses != endpoint.addresses and matching:
            text += f" ({_cidr_list_text(addresses)})"
        return text
    if addresses == endpoint.addresses:
        return endpoint.label or _cidr_list_text(addresses)
    within = f" of {endpoint.label}" if endpoint.label else ""
    return f"{_cidr_list_text(addresses)}{within}"


def _traffic_text(protocols: ProtocolSet, dst_ports: PortSet, src_ports: PortSet) -> str:
    ports = "all ports" if dst_ports.is_all() else ",".join(dst_ports.to_strings())
    text = f"{protocols} {ports}"
    if not src_ports.is_all():
        text += f" (source ports {','.join(src_ports.to_strings())})"
    return text


def _addresses_json(addresses: AddressSet, endpoint: Endpoint | None = None) -> dict[str, Any]:
    cidrs = addresses.to_cidrs()
    out: dict[str, Any] = {"cidrs": cidrs[:CIDR_LIMIT], "cidr_count": len(cidrs), "truncated": len(cidrs) > CIDR_LIMIT}
    if endpoint is not None:
        out["label"] = endpoint.label
        if endpoint.prefixes:
            out["matching_prefixes"] = _matching_prefixes(endpoint, addresses)
            out["total_prefixes"] = len(endpoint.prefixes)
    return out


# --- flows ------------------------------------------------------------------------------


def _decider_text(verdict: FlowVerdict, part: FlowPart, level_index: int) -> str:
    decider = part.deciders[level_index]
    text = str(decider)
    if len(verdict.levels) > 1 and decider.kind == "rule":
        text += f" ({verdict.levels[level_index]} NSG)"
    return text


def _path_text(verdict: FlowVerdict, part: FlowPart) -> str:
    return " then ".join(_decider_text(verdict, part, index) for index in range(len(part.deciders)))


def _denied_part_text(verdict: FlowVerdict, part: FlowPart) -> str:
    flow = verdict.flow
    region = part.region
    text = (
        f"{_decider_text(verdict, part, len(part.deciders) - 1)} denies "
        f"{_traffic_text(region.protocols, region.dst_ports, region.src_ports)}"
        f" from {_addresses_text(flow.src, region.src)}"
    )
    if region.dst != flow.dst.addresses:
        text += f" to {_addresses_text(flow.dst, region.dst)}"
    if part.shadowed_allow is not None:
        text += f" before {part.shadowed_allow.short()} is reached"
    return f"{text}; e.g. {part.witness}"


def _flow_text(verdict: FlowVerdict) -> str:
    flow = verdict.flow
    traffic = _traffic_text(flow.protocols, flow.dst_ports, flow.src_ports)
    whole = (
        f"{flow.direction.value.lower()} {traffic} from {_addresses_text(flow.src, flow.src.addresses)}"
        f" to {_addresses_text(flow.dst, flow.dst.addresses)}"
    )
    denied = verdict.denied_parts
    allowed = verdict.allowed_parts
    sentences: list[str] = []
    if not denied:
        paths = "; ".join(_path_text(verdict, part) for part in allowed[:PARTS_IN_WORDS])
        more = f"; and {len(allowed) - PARTS_IN_WORDS} more parts" if len(allowed) > PARTS_IN_WORDS else ""
        sentences.append(f"{whole} is allowed by {paths}{more}")
    else:
        lead = "is denied" if not allowed else "is only partly allowed"
        sentences.append(f"{whole} {lead}")
        sentences.extend(_denied_part_text(verdict, part) for part in denied[:PARTS_IN_WORDS])
        if len(denied) > PARTS_IN_WORDS:
            sentences.append(f"{len(denied) - PARTS_IN_WORDS} more denied parts")
        if allowed:
            sentences.append(
                "the rest is allowed by " + "; ".join(_path_text(verdict, part) for part in allowed[:PARTS_IN_WORDS])
            )
    for assumption in verdict.assumed:
        sentences.append(f"worst case assumed: {assumption}")
    for problem in verdict.unresolved:
        sentences.append(f"could not evaluate {problem}")
    return "; ".join(sentences)


def _part_json(verdict: FlowVerdict, part: FlowPart) -> dict[str, Any]:
    region = part.region
    return {
        "access": part.access,
        "protocols": region.protocols.names(),
        "src": _addresses_json(region.src, verdict.flow.src),
        "src_ports": region.src_ports.to_strings(),
        "dst": _addresses_json(region.dst, verdict.flow.dst),
        "dst_ports": region.dst_ports.to_strings(),
        "deciders": [
            {"level": verdict.levels[index], **decider.to_json()} for index, decider in enumerate(part.deciders)
        ],
        "shadowed_allow": part.shadowed_allow.to_json() if part.shadowed_allow else None,
        "witness": part.witness.to_json(),
    }


def _flow_json(verdict: FlowVerdict) -> dict[str, Any]:
    flow = verdict.flow
    if verdict.all_allowed:
        outcome = "allowed"
    elif verdict.any_allowed:
        outcome = "partly allowed"
    else:
        outcome = "denied"
    ordered = verdict.denied_parts + verdict.allowed_parts
    return {
        "summary": _flow_text(verdict),
        "outcome": outcome,
        "question": verdict.question.value,
        "complete": verdict.is_complete,
        "levels": list(verdict.levels),
        "flow": {
            "direction": flow.direction.value,
            "protocols": flow.protocols.names(),
            "src": _addresses_json(flow.src.addresses, flow.src),
            "src_ports": flow.src_ports.to_strings(),
            "dst": _addresses_json(flow.dst.addresses, flow.dst),
            "dst_ports": flow.dst_ports.to_strings(),
        },
        "parts": [_part_json(verdict, part) for part in ordered[:PARTS_LIMIT]],
        "part_count": len(ordered),
        "assumed": [assumption.to_json() for assumption in verdict.assumed],
        "unresolved": [
            {"kind": problem.kind, "where": problem.container, "item": problem.item, "value": problem.value, "detail": problem.detail}
            for problem in verdict.unresolved
        ],
    }


# --- routes -----------------------------------------------------------------------------


def _route_part_text(verdict: RouteVerdict, part: RoutePart) -> str:
    return f"{_addresses_text(verdict.query, part.addresses)} leave by {part.route}; e.g. {part.addresses.sample()}"


def _routes_text(verdict: RouteVerdict) -> str:
    label = verdict.query.label or _cidr_list_text(verdict.query.addresses)
    ordered = sorted(verdict.parts, key=lambda part: -part.addresses.size())
    sentences = [f"{label}: " + "; ".join(_route_part_text(verdict, part) for part in ordered[:PARTS_IN_WORDS])]
    if len(ordered) > PARTS_IN_WORDS:
        sentences.append(f"{len(ordered) - PARTS_IN_WORDS} more routes")
    sentences.extend(f"could not evaluate {problem}" for problem in verdict.unresolved)
    return "; ".join(sentences)


def _routes_json(verdict: RouteVerdict) -> dict[str, Any]:
    return {
        "summary": _routes_text(verdict),
        "complete": verdict.is_complete,
        "query": _addresses_json(verdict.query.addresses, verdict.query),
        "parts": [
            {"route": part.route.to_json(), "addresses": _addresses_json(part.addresses, verdict.query)}
            for part in verdict.parts[:PARTS_LIMIT]
        ],
        "part_count": len(verdict.parts),
        "unresolved": [
            {"kind": problem.kind, "where": problem.container, "item": problem.item, "value": problem.value, "detail": problem.detail}
            for problem in verdict.unresolved
        ],
    }


# --- public -------------------------------------------------------------------------------


def describe(result: FlowVerdict | RouteVerdict) -> str:
    """The verdict in words (one paragraph)."""
    if isinstance(result, FlowVerdict):
        return _flow_text(result)
    if isinstance(result, RouteVerdict):
        return _routes_text(result)
    raise TypeError(f"cannot describe {type(result).__name__}")


def to_evidence(result: FlowVerdict | RouteVerdict) -> dict[str, Any]:
    """The verdict as a JSON-able dict (``summary`` holds :func:`describe`'s text)."""
    if isinstance(result, FlowVerdict):
        return _flow_json(result)
    if isinstance(result, RouteVerdict):
        return _routes_json(result)
    raise TypeError(f"cannot describe {type(result).__name__}")
