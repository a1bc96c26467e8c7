"""Exact network-policy engine: address/port/protocol sets, service tags, NSGs, routes.

Pure Python, no Azure SDK, no other amlaudit imports: it takes ARM JSON as
ARM returns it and answers questions about flows exactly (no string matching
on ``*`` or ``Internet``). See docs/netpolicy.md for the full guide.

Typical use (one ``ServiceTagIndex`` and one ``NsgCompiler`` per run)::

    from amlaudit.auditor.netpolicy import (
        AddressSet, FlowClass, NsgCompiler, Question, ServiceTagIndex,
        compile_route_table, describe, evaluate_path, to_evidence,
    )

    tags = ServiceTagIndex.from_snapshot(snapshot["service_tags"])
    compiler = NsgCompiler(tags)
    vnet_space = AddressSet.parse(vnet["properties"]["addressSpace"]["addressPrefixes"])

    batch = tags.regional_or_global("BatchNodeManagement", "eastus").only(4)
    flow = FlowClass.of("Inbound", protocols="Tcp", src=batch,
                        dst=AddressSet.parse("10.1.1.0/24"), dst_ports="29876-29877")
    verdict = evaluate_path(flow,
                            compiler.compile(subnet_nsg, vnet_space),   # or None
                            compiler.compile(nic_nsg, vnet_space),      # or None
                            Question.ALL_ALLOWED)
    if verdict.unresolved:    -> error finding
    elif verdict.all_allowed: -> pass   (verdict.assumed names ASG rules assumed worst case)
    else:                     -> fail, evidence = to_evidence(verdict), message = describe(verdict)

    routes = compile_route_table(route_table, tags, vnet_space).route(batch)
    routes.all_via("Internet"), routes.parts_not_via("Internet"), describe(routes)

Failure modes are explicit: bad caller input raises (``ParseError``,
``EmptyFlowError``, ``UnknownServiceTagError``, ``ServiceTagDataError``); bad
or missing data inside ARM objects becomes ``verdict.unresolved`` markers.
"""

from .addresses import AddressSet, Family, format_address, parse_address
from .errors import (
    EmptyFlowError,
    NetPolicyError,
    ParseError,
    ServiceTagDataError,
    UnknownServiceTagError,
    Unresolved,
)
from .evaluation import (
    NIC_LEVEL,
    SUBNET_LEVEL,
    AssumedRule,
    FlowPart,
    FlowVerdict,
    Question,
    decide_packet,
    depends_on_internet,
    evaluate,
    evaluate_chain,
    evaluate_path,
)
from .evidence import describe, to_evidence
from .flows import Direction, Endpoint, FlowClass, FlowRegion, Packet
from .nsg import (
    AZURE_LOAD_BALANCER,
    WELL_KNOWN_DEFAULT_RULES,
    CompiledNsg,
    InternetReading,
    NsgCompiler,
    RuleRef,
    VirtualNetworkTags,
    compile_nsg,
    internet_addresses,
    names_tag,
)
from .reachability import globally_reachable, not_globally_reachable
from .ports import PortSet
from .protocols import PROTOCOL_NAMES, ProtocolSet
from .routes import CompiledRouteTable, RoutePart, RouteRef, RouteVerdict, compile_route_table, user_route_addresses
from .tags import ResolvedTag, ServiceTagIndex

__all__ = [
    "AZURE_LOAD_BALANCER",
    "AddressSet",
    "AssumedRule",
    "CompiledNsg",
    "CompiledRouteTable",
    "Direction",
    "EmptyFlowError",
    "Endpoint",
    "Family",
    "FlowClass",
    "FlowPart",
    "FlowRegion",
    "FlowVerdict",
    "InternetReading",
    "NIC_LEVEL",
    "NetPolicyError",
    "NsgCompiler",
    "PROTOCOL_NAMES",
    "Packet",
    "ParseError",
    "PortSet",
    "ProtocolSet",
    "Question",
    "ResolvedTag",
    "RoutePart",
    "RouteRef",
    "RouteVerdict",
    "RuleRef",
    "SUBNET_LEVEL",
    "ServiceTagDataError",
    "ServiceTagIndex",
    "UnknownServiceTagError",
    "Unresolved",
    "VirtualNetworkTags",
    "WELL_KNOWN_DEFAULT_RULES",
    "compile_nsg",
    "compile_route_table",
    "decide_packet",
    "depends_on_internet",
    "describe",
    "evaluate",
    "evaluate_chain",
    "evaluate_path",
    "format_address",
    "globally_reachable",
    "internet_addresses",
    "names_tag",
    "not_globally_reachable",
    "parse_address",
    "to_evidence",
    "user_route_addresses",
]
