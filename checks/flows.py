"""The flow checks: what the document asks NSGs and routes to let through, judged exactly.

Each check states its catalog row; the questions go to the network-policy engine through
:mod:`amlaudit.auditor.flowquery`, which holds the estate's one service-tag index and NSG compiler,
finds each compute's subnet, VNet and region, and keeps only certain answers.

Where the flows are judged:

* Machine Learning Compute (AmlCompute): the compute subnet's NSG only. "Batch adds NSGs at
  the level of network interfaces (NICs) that are attached to VMs"; those NSGs belong to
  Batch, are not in the customer's subscription and so not in the snapshot, and the
  document says Batch configures them to allow these flows. The subnet NSG is the one the
  customer controls ("if the specified subnet has associated NSGs ... configure the
  inbound and outbound security rules as mentioned earlier").
* An attached virtual machine: its subnet's NSG and its primary NIC's NSG, in Azure's
  order (inbound subnet then NIC, outbound NIC then subnet).
* An attached HDInsight cluster: the subnet NSG only (its nodes' NICs are not in the
  snapshot).
* AKS: the agent subnet's NSG only (the node NICs' NSGs are AKS-managed).

Tags are chosen for the region R of the VNet the compute sits in, as the catalog says: the
entry NAMED `T.<R>` (the part after the dot compared with R case-insensitively), else the
global `T`. The entry's `properties.region` never decides: real data has
`BatchNodeManagement.FranceCentral` with region `centralfrance` (14 regions carry such internal
names), and `Storage.EastUS2Stage` also says `eastus2`. The evidence names the entry used and
why ("BatchNodeManagement.GermanyWestCentral, the entry named for the VNet's region
germanywestcentral"; "global BatchNodeManagement: no entry is named
BatchNodeManagement.northeurope"). Where a row names a tag without a region
(`AzureMachineLearning` in compute-outbound-internet), the global entry is used. A subnet with
addresses of one family only is judged on that family's prefixes. A verdict that rests on a
rule naming application security groups says which worst case it assumed.

`VirtualNetwork` and `Internet` in the rules of a subnet and of the NICs in it (catalog, "Service
tags in rules"): `VirtualNetwork` is the VNet's own networks (its space, its peers' spaces, the
on-premises spaces of site-to-site connections of a gateway in its GatewaySubnet or in a peer it uses
through useRemoteGateways) plus the prefixes of the subnet's user routes; `Internet` is every address
outside `VirtualNetwork` and 168.63.129.16. Where the route prefixes reach outside the own networks,
every row is judged under both readings of `Internet` (with and without the route prefixes), the
worse verdict is reported and the message names the reading that decided; the second reading is
only judged when some evaluation could come out otherwise (see `amlaudit.auditor.readings`). A gateway,
connection list, local network gateway, peer or route table that cannot be read makes these rows
`error` (the tag is unknown); BGP-learned prefixes are not in Resource Manager, and the evidence says
so where a gateway or connection has BGP enabled.

Evidence: where the flow was judged (subnet, prefixes, region, NSG ids), the service-tag
entry used and its prefix count, then for a pass the deciding rules in words
(`decided_by`), for a fail or an error the engine's full account under `flow` (each part
with its deciding rule per level, the CIDRs left out, the allow rule a deny shadowed and a
witness packet). Passes are kept compact: they are most findings of a large estate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from amlaudit.auditor.check import Settings, Verdict, check, error, failed, not_applicable, passed, subject_id
from amlaudit.auditor.flowwords import LEAN_CIDRS, address_sketch
from amlaudit.auditor.flowquery import (
    ALL_PORTS,
    NIC,
    PUBLIC_SUPERSET_LABEL,
    SUBNET,
    TCP,
    TCP_AND_UDP,
    AnswerMemo,
    FlowAnswer,
    FlowContext,
    FlowSite,
    Levels,
    Side,
    SideAnswer,
    TagUse,
    Unknown,
    beyond_vnet_public,
    family_words,
    flow_context,
    inbound,
    outbound,
    own_network_words,
    route_evidence,
    virtual_network_words,
)
from amlaudit.auditor.graph.estate import Estate
from amlaudit.auditor.graph.model import Compute, Gap, NetworkInterface
from amlaudit.auditor.ids import id_key
from amlaudit.auditor.netpolicy import AddressSet, CompiledNsg, Endpoint, PortSet, Question, RouteVerdict, describe
from amlaudit.auditor.readings import judged_both_ways
from amlaudit.auditor.vnettags import SubnetTags
from amlaudit.auditor.subjects import aks_computes, aml_computes, unlisted_compute_errors

BATCH_PORTS = PortSet.parse("29876-29877")
SSH_PORT = PortSet.of(22)
HTTPS_PORT = PortSet.of(443)

# "Limit outbound traffic to Azure Storage (Storage.Region_Name), Azure Container Registry
# (AzureContainerRegistry.Region_Name), and Azure Machine Learning service (AzureMachineLearning)":
# (tag, whether the regional entry applies). The row writes `Storage.<region>` and
# `AzureContainerRegistry.<region>` but plain `AzureMachineLearning`, so that one is the global tag.
OUTBOUND_SERVICE_TAGS = (("Storage", True), ("AzureContainerRegistry", True), ("AzureMachineLearning", False))

BATCH_NIC_NSGS = "not evaluated: managed by Azure Batch, not in the snapshot"
AKS_NIC_NSGS = "not evaluated: managed by AKS"
HDINSIGHT_NIC_NSGS = "not evaluated: the cluster nodes' NICs are not in the snapshot"

_REQUIRED_PORTS = "Use Machine Learning Compute: Required ports"


# -- shared shapes of a verdict ----------------------------------------------------------------


def _for(compute: Compute, template: Verdict, **evidence: Any) -> Verdict:
    """A verdict reached once for a subnet, given to one of the computes in it."""
    return replace(template, resource_id=subject_id(compute), evidence={**template.evidence, **evidence})


def _problems_text(answer: FlowAnswer) -> str:
    problems = answer.nsg_problems or answer.verdict.unresolved
    return "; ".join(str(p) for p in problems)


def _required_flow(answer: FlowAnswer | Unknown, evidence: dict[str, Any]) -> Verdict:
    """Every packet of the flow must be allowed: pass when certain, fail when a part is
    denied for certain, error otherwise. (Subject-less: `_for` gives it to a compute.)"""
    if isinstance(answer, Unknown):
        return answer.verdict("", **evidence)
    if answer.answer is True:
        return passed("", answer.summary, **evidence, **answer.evidence(detailed=False))
    if answer.answer is False:
        return failed("", answer.summary, **evidence, **answer.evidence(detailed=True))
    return _unreadable(answer, evidence)


def _unreadable(answer: FlowAnswer, evidence: dict[str, Any]) -> Verdict:
    """Data the engine could not read may decide the flow: error, with what it could read."""
    return error("", f"the NSG data cannot be fully read ({_problems_text(answer)}); as far as it can be read: "
                     f"{answer.summary}", **evidence, **answer.evidence(detailed=True))


def _nsgs_in_path(ctx: FlowContext, site: FlowSite,
                  with_nic: bool) -> tuple[CompiledNsg | None, CompiledNsg | None, dict[str, Any]] | Unknown:
    """(subnet NSG, NIC NSG, evidence) compiled for the site, or why one cannot be read."""
    subnet_nsg = ctx.subnet_nsg(site)
    if isinstance(subnet_nsg, Unknown):
        return subnet_nsg
    evidence: dict[str, Any] = {"subnet_nsg_id": site.subnet.nsg_id}
    nic_nsg = None
    if with_nic:
        nic_nsg = ctx.nic_nsg(site)
        if isinstance(nic_nsg, Unknown):
            return nic_nsg
        nic = site.compute.nic
        if isinstance(nic, NetworkInterface):
            evidence.update(nic_id=nic.id, nic_nsg_id=nic.nsg_id)
    return subnet_nsg, nic_nsg, evidence


def _inbound_levels(subnet_nsg: CompiledNsg | None, nic_nsg: CompiledNsg | None, with_nic: bool) -> Levels:
    return [(SUBNET, subnet_nsg), (NIC, nic_nsg)] if with_nic else [(SUBNET, subnet_nsg)]


def _outbound_levels(subnet_nsg: CompiledNsg | None, nic_nsg: CompiledNsg | None, with_nic: bool) -> Levels:
    return [(NIC, nic_nsg), (SUBNET, subnet_nsg)] if with_nic else [(SUBNET, subnet_nsg)]


def _node_public_ip_disabled(compute: Compute) -> bool:
    value = compute.compute_properties.get("enableNodePublicIp")
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


# -- compute-batch-inbound ------------------------------------------------------------------


@check(
    id="compute-batch-inbound",
    title="Azure Batch can reach the compute nodes on TCP 29876-29877",
    severity="critical",
    subject="AmlCompute compute",
    applies="always (not applicable when the cluster sets enableNodePublicIp: false or names no subnet)",
    passes=(
        "inbound TCP 29876 and 29877 from every BatchNodeManagement tag prefix (the entry named "
        "BatchNodeManagement.<VNet region> when the data has one, else the global tag) to every prefix of the "
        "compute subnet is allowed by the subnet NSG (a subnet without NSG allows it)"
    ),
    source=_REQUIRED_PORTS,
    rationale=(
        "\"The subnet must allow inbound communication from the Batch service. This communication is used to "
        "schedule runs on the Machine Learning Compute nodes ... Inbound TCP traffic on ports 29876 and 29877 from a "
        "Service Tag of BatchNodeManagement.\" If an NSG blocks it, the service marks the nodes unusable."
    ),
    remediation=(
        "Subnet NSG -> Inbound security rules -> Add: source Service Tag BatchNodeManagement, protocol TCP, "
        "destination ports 29876-29877, Allow, at a priority above any rule that denies Internet or all traffic "
        "(az network nsg rule create -g RG --nsg-name NSG -n AllowBatchNodeManagement --priority 100 "
        "--direction Inbound --access Allow --protocol Tcp --source-address-prefixes BatchNodeManagement "
        "--destination-port-ranges 29876-29877)."
    ),
)
def compute_batch_inbound(estate: Estate, settings: Settings) -> Iterator[Verdict]:
    """Only the subnet NSG is evaluated: the nodes' NICs carry NSGs that Azure Batch manages,
    which are not in the snapshot (see the module docstring). Batch addresses are Internet
    addresses, so a deny on `Internet` above the Batch allow blocks them. A cluster with
    `enableNodePublicIp: false` is reached by Batch without inbound connections, so the
    row does not apply to it. The Batch prefixes are those of the entry named
    `BatchNodeManagement.<region>` for the VNet's region (case-insensitive), else of the global
    tag: a VNet in `germanywestcentral` is judged on `BatchNodeManagement.GermanyWestCentral`,
    whose `properties.region` (`germanywc`) plays no part.
    """
    yield from unlisted_compute_errors(estate, "its AmlCompute clusters")
    ctx, memo = flow_context(estate), AnswerMemo[Verdict]()
    for compute in aml_computes(estate):
        yield _batch_inbound_verdict(ctx, memo, compute)


def _batch_inbound_verdict(ctx: FlowContext, memo: AnswerMemo[Verdict], compute: Compute) -> Verdict:
    if _node_public_ip_disabled(compute):
        return not_applicable(compute, "the cluster sets enableNodePublicIp: false, so Batch reaches its nodes without "
                                       "inbound connections", enable_node_public_ip=False)
    return _judged_per_subnet(ctx, memo, compute, lambda site: _tag_into_subnet(
        ctx, site, "BatchNodeManagement", BATCH_PORTS, BATCH_NIC_NSGS))


def _judged_per_subnet(ctx: FlowContext, memo: AnswerMemo[Verdict], compute: Compute,
                       judge: Callable[[FlowSite], Verdict]) -> Verdict:
    """Locate the compute; computes sharing a subnet share one answer (the flow is the subnet's)."""
    site = ctx.locate(compute)
    if not isinstance(site, FlowSite):
        return site.verdict(compute)
    return _for(compute, memo.get((id_key(site.subnet.id),), lambda: judged_both_ways(ctx, site, judge)))


def _tag_into_subnet(ctx: FlowContext, site: FlowSite, tag: str, ports: PortSet, nic_nsgs: str) -> Verdict:
    """Required inbound TCP from every prefix of the tag (T.<R>, else T) to the whole subnet,
    through the subnet NSG (the nodes' NIC NSGs are managed by the service and not collected)."""
    evidence: dict[str, Any] = {**site.evidence(), "subnet_nsg_id": site.subnet.nsg_id, "nic_nsgs": nic_nsgs}
    nsg = ctx.subnet_nsg(site)
    if isinstance(nsg, Unknown):
        return nsg.verdict("", **evidence)
    sources = ctx.regional_tag(tag, site)
    if isinstance(sources, Unknown):
        return sources.verdict("", **evidence)
    evidence.update(sources.evidence())
    answer = ctx.ask(inbound(sources.endpoint, site.subnet_endpoint, TCP, ports), [(SUBNET, nsg)], Question.ALL_ALLOWED)
    return _required_flow(answer, evidence)


# -- compute-outbound-vnet ------------------------------------------------------------------


def _outbound_computes(estate: Estate) -> list[Compute]:
    return [c for c in estate.computes if c.kind in ("AmlCompute", "VirtualMachine")]


@check(
    id="compute-outbound-vnet",
    title="Compute can reach its virtual network on every port",
    severity="high",
    subject="AmlCompute or VirtualMachine compute",
    applies="always (not applicable to a cluster that names no subnet)",
    passes=(
        "outbound TCP and UDP on every port from the compute subnet to the VNet address space is allowed "
        "(cluster: subnet NSG; VM: its NIC NSG, then the subnet NSG)"
    ),
    source=_REQUIRED_PORTS,
    rationale=(
        "Batch's NSGs allow \"outbound traffic on any port to the virtual network\", and \"if the specified subnet has "
        "associated NSGs ... configure the inbound and outbound security rules as mentioned earlier\"; for a VM, "
        "\"Keep the default outbound rules for the NSG\" (AllowVnetOutBound)."
    ),
    remediation=(
        "Remove or re-prioritise the outbound rule that denies traffic to the virtual network, or add an outbound "
        "Allow from VirtualNetwork to VirtualNetwork on any port and protocol above it (az network nsg rule create "
        "-g RG --nsg-name NSG -n AllowVnetOutbound --priority 100 --direction Outbound --access Allow --protocol '*' "
        "--source-address-prefixes VirtualNetwork --destination-address-prefixes VirtualNetwork "
        "--destination-port-ranges '*')."
    ),
)
def compute_outbound_vnet(estate: Estate, settings: Settings) -> Iterator[Verdict]:
    """The destination is the VNet's own address space (the catalog's "VNet address space";
    peered spaces are not required). The source is the compute subnet, as the catalog row
    says, for clusters (nodes take any address in it) and for attached VMs alike; a VM's
    flows also cross its NIC NSG first. (Judging a VM from its private IP alone would be
    narrower; the catalog asks about the subnet, and it wins.)
    """
    yield from unlisted_compute_errors(estate, "its AmlCompute clusters and attached virtual machines")
    ctx, memo = flow_context(estate), AnswerMemo[Verdict]()
    for compute in _outbound_computes(estate):
        yield _outbound_verdict(ctx, memo, compute, _outbound_vnet)


def _outbound_verdict(ctx: FlowContext, memo: AnswerMemo[Verdict], compute: Compute,
                      judge: Callable[[FlowContext, FlowSite], Verdict]) -> Verdict:
    site = ctx.locate(compute)
    if not isinstance(site, FlowSite):
        return site.verdict(compute)
    if compute.kind == "VirtualMachine":
        nic = compute.nic
        key: tuple[Any, ...] = (id_key(site.subnet.id), id_key(nic.id) if nic is not None else "")
    else:
        key = (id_key(site.subnet.id),)
    return _for(compute, memo.get(key, lambda: judged_both_ways(ctx, site, lambda under: judge(ctx, under))))


def _outbound_path(ctx: FlowContext, site: FlowSite, evidence: dict[str, Any]) -> Levels | Unknown:
    """The NSGs the compute subnet's outbound flows cross: a VM's NIC NSG, then the subnet NSG."""
    with_nic = site.compute.kind == "VirtualMachine"
    if with_nic:
        evidence["source"] = "the compute subnet (as the catalog row says), through the VM's NIC NSG"
    else:
        evidence.update(source="the compute subnet", nic_nsgs=BATCH_NIC_NSGS)
    path = _nsgs_in_path(ctx, site, with_nic)
    if isinstance(path, Unknown):
        return path
    subnet_nsg, nic_nsg, path_evidence = path
    evidence.update(path_evidence)
    return _outbound_levels(subnet_nsg, nic_nsg, with_nic)


def _outbound_vnet(ctx: FlowContext, site: FlowSite) -> Verdict:
    evidence: dict[str, Any] = site.evidence(spaces=True)
    levels = _outbound_path(ctx, site, evidence)
    if isinstance(levels, Unknown):
        return levels.verdict("", **evidence)
    flow = outbound(site.subnet_endpoint, site.vnet_endpoint, TCP_AND_UDP, ALL_PORTS)
    return _required_flow(ctx.ask(flow, levels, Question.ALL_ALLOWED), evidence)


# -- compute-outbound-internet ---------------------------------------------------------------


@check(
    id="compute-outbound-internet",
    title="Compute can reach Azure Storage, Container Registry and Machine Learning on TCP 443",
    severity="high",
    subject="AmlCompute or VirtualMachine compute",
    applies="always (not applicable to a cluster that names no subnet)",
    passes=(
        "outbound TCP 443 to every prefix of Storage.<region> and AzureContainerRegistry.<region> (the entry named "
        "for the VNet's region when the data has one, else the global tag) and of the global "
        "AzureMachineLearning tag is allowed, by the default rules or the restricted set the document describes"
    ),
    source="Limiting outbound connectivity from the virtual network",
    rationale=(
        "Batch's NSGs allow \"outbound traffic on any port to the internet\"; to limit it, \"Limit outbound traffic to "
        "Azure Storage (using Service Tag of Storage.Region_Name ...), Azure Container Registry (... "
        "AzureContainerRegistry.Region_Name ...), and Azure Machine Learning service (... AzureMachineLearning)\". "
        "Without these the compute cannot fetch data, images or its job."
    ),
    remediation=(
        "Add outbound Allow rules from VirtualNetwork to the service tags Storage.<Region>, "
        "AzureContainerRegistry.<Region> and AzureMachineLearning on TCP 443, above the rule that denies Internet "
        "(az network nsg rule create -g RG --nsg-name NSG -n AllowStorageOutbound --priority 100 --direction Outbound "
        "--access Allow --protocol Tcp --source-address-prefixes VirtualNetwork --destination-address-prefixes "
        "Storage.EastUS --destination-port-ranges 443; likewise for the other two tags)."
    ),
)
def compute_outbound_internet(estate: Estate, settings: Settings) -> Iterator[Verdict]:
    """One flow per service tag, so the evidence names the tag that is blocked. Source and NSG
    path as for compute-outbound-vnet. Storage and AzureContainerRegistry are the entries named
    `Storage.<region>` / `AzureContainerRegistry.<region>` for the VNet's region (by name, never
    by `properties.region`: `eastus2` gets `Storage.EastUS2`, not `Storage.EastUS2Stage`), else
    the global tag; AzureMachineLearning is the
    global entry, as the row and the document name it ("Service Tag of AzureMachineLearning"):
    a restricted set that allows only `AzureMachineLearning.<region>` leaves the rest of the
    service's addresses out and fails. A tag missing from the data is `error` unless another
    tag's flow is denied for certain (then `fail`, naming the unknown one).
    """
    yield from unlisted_compute_errors(estate, "its AmlCompute clusters and attached virtual machines")
    ctx, memo = flow_context(estate), AnswerMemo[Verdict]()
    for compute in _outbound_computes(estate):
        yield _outbound_verdict(ctx, memo, compute, _outbound_internet)


def _outbound_internet(ctx: FlowContext, site: FlowSite) -> Verdict:
    evidence: dict[str, Any] = site.evidence()
    levels = _outbound_path(ctx, site, evidence)
    if isinstance(levels, Unknown):
        return levels.verdict("", **evidence)
    src = site.subnet_endpoint
    allowed: list[str] = []  # words, one per tag
    denied: list[str] = []
    unknown: list[str] = []
    details: list[dict[str, Any]] = []
    for tag_name, regional in OUTBOUND_SERVICE_TAGS:
        tag = (ctx.regional_tag(tag_name, site, src.addresses.families) if regional
               else ctx.global_tag(tag_name, src.addresses.families))
        if isinstance(tag, Unknown):
            unknown.append(f"{tag_name}: {_reason_text(tag)}")
            continue
        answer = ctx.ask(outbound(src, tag.endpoint, TCP, HTTPS_PORT), levels, Question.ALL_ALLOWED)
        if isinstance(answer, Unknown):
            unknown.append(f"{tag.tag.name}: {answer.reason}")
            continue
        if answer.answer is True:
            allowed.append(f"{tag.endpoint.label}: all {len(tag.tag.prefixes)} "
                           f"{family_words(tag.tag.addresses.families)} prefixes, by {answer.allowed_by()}")
            continue
        details.append({**tag.evidence(), **answer.evidence(detailed=True)})
        if answer.answer is False:
            denied.append(answer.summary)
        else:
            unknown.append(f"{tag.tag.name}: the NSG data cannot be fully read ({_problems_text(answer)})")
    evidence.update(allowed=allowed)
    if details:
        evidence["not_allowed"] = details
    if unknown:
        evidence["unknown"] = unknown
    also_unknown = f" (also unknown: {'; '.join(unknown)})" if unknown else ""
    if denied:
        return failed("", "; ".join(denied) + also_unknown, **evidence)
    if unknown:
        return error("", "; ".join(unknown), **evidence)
    return passed("", f"outbound TCP 443 from {src.label} is allowed to " + "; ".join(allowed), **evidence)


# -- compute-remote-login --------------------------------------------------------------------


@check(
    id="compute-remote-login",
    title="SSH to the compute nodes is closed to the internet unless public SSH was requested",
    severity="medium",
    subject="AmlCompute compute",
    applies="the compute subnet has an NSG",
    passes=(
        "inbound TCP 22 to the compute subnet is allowed from no public client (a globally reachable address outside "
        "the VNet's own networks and the global AzureMachineLearning and BatchNodeManagement tags), unless "
        "remoteLoginPortPublicAccess is Enabled"
    ),
    source=_REQUIRED_PORTS,
    rationale=(
        "\"(optional) Inbound TCP traffic on port 22 to permit remote access. This port is only needed if you want to "
        "connect using SSH on the public IP.\" A subnet NSG that lets the internet reach port 22 while the cluster "
        "did not ask for public SSH exposes the nodes for nothing."
    ),
    remediation=(
        "Remove the inbound rule that allows TCP 22 from the internet (or narrow its source to the addresses that "
        "need it): az network nsg rule delete -g RG --nsg-name NSG -n RULE; where a user route (a 0.0.0.0/0 forced-"
        "tunnelling route, say) puts the internet in VirtualNetwork, add a rule that denies TCP 22 from everything "
        "but your own networks above AllowVnetInBound; or, if SSH on the public IP is wanted, create the cluster with "
        "SSH access enabled (studio: Compute clusters -> New -> Advanced settings -> Enable SSH access; compute YAML "
        "ssh_public_access_enabled: true), which sets remoteLoginPortPublicAccess to Enabled."
    ),
)
def compute_remote_login(estate: Estate, settings: Settings) -> Iterator[Verdict]:
    """An "is any of it allowed?" question: ANY packet from a public client to any address of
    the subnet on TCP 22 being allowed fails, because an exposure of one host is an exposure.
    (Contrast aks-scoring-inbound, whose row asks for the flow to be *allowed*, i.e. for every
    address of the subnet, from at least one client.) A rule naming application security
    groups is assumed to let traffic in when it allows and to stop nothing when it denies,
    and the evidence says so. Only the subnet NSG is evaluated (Batch's NIC NSGs are not in
    the snapshot). `remoteLoginPortPublicAccess` compares case-insensitively; `NotSpecified`
    is not a request for public SSH.

    Public clients are globally reachable (``ipaddress`` ``is_global``: not RFC 1918, not
    100.64.0.0/10, not a documentation range), outside the VNet's own networks (its space, its
    peers', the on-premises spaces of its site-to-site connections) and outside the global
    AzureMachineLearning and BatchNodeManagement prefixes. So SSH allowed from 10.0.0.0/8 or from
    a VPN site's public block passes; the message says which own network a public-looking
    block belongs to. Where the catalog is silent: 168.63.129.16 (AzureLoadBalancer, the
    platform's virtual address) is not a public client either.

    `VirtualNetwork` in the rules holds the subnet's user-route prefixes: a 0.0.0.0/0
    forced-tunnelling route makes AllowVnetInBound admit every source, so SSH is open unless a
    rule denies it; the message names the route. Under routes `Internet` is read both ways and
    the worse verdict is reported (see :mod:`amlaudit.auditor.readings`).

    Without service-tag data (or without the global AzureMachineLearning and
    BatchNodeManagement entries) the public clients cannot be told from the service's own
    addresses, but they are globally reachable addresses outside the own networks: when TCP 22
    is allowed from none of those the check passes (the tags were not needed); otherwise it is
    `error`.
    """
    yield from unlisted_compute_errors(estate, "its AmlCompute clusters")
    ctx, memo = flow_context(estate), AnswerMemo[Verdict]()
    for compute in aml_computes(estate):
        yield _remote_login_verdict(ctx, memo, compute)


def _remote_login_verdict(ctx: FlowContext, memo: AnswerMemo[Verdict], compute: Compute) -> Verdict:
    site = ctx.locate(compute)
    if not isinstance(site, FlowSite):
        return site.verdict(compute)
    access = compute.compute_properties.get("remoteLoginPortPublicAccess")
    extra = {"remote_login_port_public_access": access}
    if site.subnet.nsg is None:  # a Gap (unreadable or missing NSG) is not "no NSG": judged below, as error
        return not_applicable(compute, f"subnet {site.subnet.name} has no NSG", **site.evidence(), **extra)
    if isinstance(access, str) and access.strip().lower() == "enabled":
        return passed(compute, "remoteLoginPortPublicAccess is Enabled: public SSH to the nodes was requested, so TCP 22 "
                               "open to public clients is intended", **site.evidence(), **extra)
    template = memo.get((id_key(site.subnet.id),), lambda: judged_both_ways(ctx, site,
                                                                               lambda under: _remote_login(ctx, under)))
    return _for(compute, template, **extra)


def _remote_login(ctx: FlowContext, site: FlowSite) -> Verdict:
    evidence: dict[str, Any] = {**site.evidence(), "subnet_nsg_id": site.subnet.nsg_id, "nic_nsgs": BATCH_NIC_NSGS}
    nsg = ctx.subnet_nsg(site)
    if isinstance(nsg, Unknown):
        return nsg.verdict("", **evidence)
    levels: Levels = [(SUBNET, nsg)]
    public = ctx.public_clients(site)
    if isinstance(public, Unknown):
        return _remote_login_without_tags(ctx, site, levels, public, evidence)
    clients, excluded = public
    evidence["public_clients"] = _public_clients_evidence(site, excluded)
    answer = ctx.ask(inbound(clients, site.subnet_endpoint, TCP, SSH_PORT), levels, Question.ANY_ALLOWED, lean=True)
    if isinstance(answer, Unknown):
        return answer.verdict("", **evidence)
    if answer.answer is False:
        return passed("", f"no public client can reach TCP 22: {answer.summary}{_not_public(ctx, site, levels)}",
                      **evidence, **answer.evidence(detailed=False))
    if answer.answer is True:
        why = virtual_network_words(site, levels, answer.verdict, "SSH")
        return failed("", f"TCP 22 is open to public clients although remote login was not requested: "
                          f"{why + '; ' if why else ''}{answer.summary}", **evidence, **answer.evidence(detailed=True))
    return _unreadable(answer, evidence)


def _not_public(ctx: FlowContext, site: FlowSite, levels: Levels, port: PortSet = SSH_PORT,
                question: Question = Question.ANY_ALLOWED) -> str:
    """"; TCP 22 is allowed from 84.17.32.0/24, but 84.17.32.0/24 is on-premises space of lng-branch, ...
    not a public client", when the VNet's peers or VPN sites hold globally reachable addresses the
    flow lets in (else ""): they look public but are own networks."""
    beyond = beyond_vnet_public(site)
    if not beyond:
        return ""
    answer = ctx.ask(inbound(Endpoint(beyond, "own networks beyond the VNet"), site.subnet_endpoint, TCP, port),
                     levels, question, lean=True)
    if not isinstance(answer, FlowAnswer):
        return ""
    words = own_network_words(site, answer.verdict, f"TCP {','.join(port.to_strings())}")
    return f"; {words}" if words else ""


def _remote_login_without_tags(ctx: FlowContext, site: FlowSite, levels: Levels, no_tags: Unknown,
                               evidence: dict[str, Any]) -> Verdict:
    """Remote login judged on the globally reachable addresses outside the own networks, a superset of
    the public clients, when the tags that narrow it are missing: nothing allowed from it passes;
    anything else is unknown."""
    reason = _reason_text(no_tags)
    superset = ctx.public_superset(site)
    if isinstance(superset, Unknown):
        return superset.verdict("", **evidence)
    evidence.update(public_clients={"families": family_words(site.families), "not_determined": reason,
                                    "judged_on": PUBLIC_SUPERSET_LABEL})
    answer = ctx.ask(inbound(superset, site.subnet_endpoint, TCP, SSH_PORT), levels, Question.ANY_ALLOWED, lean=True)
    if isinstance(answer, Unknown):
        return answer.verdict("", **evidence)
    if answer.answer is False:
        return passed("", f"no globally reachable address outside the own networks can reach TCP 22, so no public "
                          f"client can ({answer.summary}); the service tags that set the public clients apart were "
                          f"not needed ({reason})", **evidence, **answer.evidence(detailed=False))
    exposure = "is open to some" if answer.answer else "may be open to some"
    return error("", f"public clients cannot be determined: {reason}; and TCP 22 {exposure} globally reachable "
                     f"addresses ({answer.summary}), which may or may not be the service's own", **evidence,
                 **answer.evidence(detailed=True))


def _reason_text(unknown: Unknown) -> str:
    return unknown.reason if isinstance(unknown.reason, str) else unknown.reason.describe()


def _public_clients_evidence(site: FlowSite, excluded: list[TagUse]) -> dict[str, Any]:
    """Public clients: globally reachable addresses outside the own networks and the service's own (the
    global tags named). The own networks are listed when they reach beyond the VNet's address space."""
    found: dict[str, Any] = {
        "families": family_words(site.families),
        "definition": "globally reachable (ipaddress is_global), outside the own networks, 168.63.129.16 and the "
                      "global service tags below",
        "excluded_service_tags": [f"{use.tag.name} ({len(use.tag.prefixes)} prefixes)" for use in excluded]}
    tags = site.tags
    if isinstance(tags, SubnetTags) and tags.own.beyond_vnet():
        found["own_networks"] = [source.to_json() for source in tags.own.sources]
    return found


# -- compute-forced-tunneling ----------------------------------------------------------------


@check(
    id="compute-forced-tunneling",
    title="Batch management traffic bypasses forced tunneling",
    severity="critical",
    subject="AmlCompute compute",
    applies="the compute subnet has a route table",
    passes=(
        "every address of every BatchNodeManagement tag prefix (the entry named BatchNodeManagement.<VNet region> "
        "when the data has one, else the global tag) is routed with next hop Internet (longest "
        "prefix match over the subnet's user routes, else Azure's system routes)"
    ),
    source="User-defined routes for forced tunneling",
    rationale=(
        "\"A user-defined route for each IP address used by the Azure Batch service in the region where your resources "
        "exist ... define the route for each related Batch IP address prefix, and set Next hop type to Internet.\" "
        "Replies to Batch that go to an appliance or on-premises are dropped (asymmetric routing)."
    ),
    remediation=(
        "Route table -> Routes -> Add, for each BatchNodeManagement.<Region> prefix: next hop type Internet "
        "(az network route-table route create -g RG --route-table-name RT -n batch-1 --address-prefix PREFIX "
        "--next-hop-type Internet); remove or narrow any more specific route that sends part of a Batch prefix "
        "elsewhere."
    ),
)
def compute_forced_tunneling(estate: Estate, settings: Settings) -> Iterator[Verdict]:
    """Azure's selection: the longest prefix wins, a user route beats a system route of the same
    length; beneath the user routes lie the system routes (the VNet's space, peered spaces,
    the private ranges, 0.0.0.0/0 -> Internet). BGP-learned routes (a default route advertised
    over ExpressRoute or VPN) are not in ARM data and are not modelled; nor are the routes a VPN
    gateway adds for its local network gateways' spaces (next hop VirtualNetworkGateway): where
    the catalog is silent, this row reads the route table and the default system routes only, as
    it words it. Unlike the NSG rows it does not need the own networks, so an unreadable gateway
    or connection leaves it judged. A route the engine
    cannot read (unknown tag, no next hop) may be the more specific one, so it makes the
    verdict `error` rather than a pass or a fail. The Batch prefixes are chosen as for
    compute-batch-inbound (the entry named `BatchNodeManagement.<region>`, else the global tag).
    """
    yield from unlisted_compute_errors(estate, "its AmlCompute clusters")
    ctx, memo = flow_context(estate), AnswerMemo[Verdict]()
    for compute in aml_computes(estate):
        yield _forced_tunneling_verdict(ctx, memo, compute)


def _forced_tunneling_verdict(ctx: FlowContext, memo: AnswerMemo[Verdict], compute: Compute) -> Verdict:
    site = ctx.locate(compute)
    if not isinstance(site, FlowSite):
        return site.verdict(compute)
    if site.subnet.route_table is None:  # a Gap (unreadable or missing table) is judged below, as error
        return not_applicable(compute, f"subnet {site.subnet.name} has no route table", **site.evidence())
    template = memo.get((id_key(site.subnet.id),), lambda: _forced_tunneling(ctx, site))
    return _for(compute, template)


def _forced_tunneling(ctx: FlowContext, site: FlowSite) -> Verdict:
    evidence: dict[str, Any] = {**site.evidence(), "route_table_id": site.subnet.route_table_id}
    table = site.subnet.route_table
    if isinstance(table, Gap) or table is None:
        return error("", table or f"route table {site.subnet.route_table_id} is unknown", **evidence)
    batch = ctx.regional_tag("BatchNodeManagement", site)
    if isinstance(batch, Unknown):
        return batch.verdict("", **evidence)
    evidence.update(batch.evidence())
    routes = ctx.route_table(site, table).route(batch.endpoint)
    if routes.unresolved:
        problems = "; ".join(str(p) for p in routes.unresolved)
        return error("", f"route table {table.name} cannot be fully read ({problems}); a route it hides may be the "
                         f"longest match for a Batch prefix", **evidence, routes=route_evidence(routes, detailed=True))
    astray = routes.parts_not_via("Internet")
    if astray:
        stolen = RouteVerdict(routes.query, astray, ())
        count = sum(part.addresses.size() for part in astray)
        return failed("", f"{count} Batch addresses do not leave by next hop Internet: {describe(stolen)}", **evidence,
                      not_via_internet=route_evidence(stolen, detailed=True), **route_evidence(routes, detailed=False))
    user = [part.route.name for part in routes.parts if not part.route.is_system]
    system = [str(part.route) for part in routes.parts if part.route.is_system]
    by = []
    if user:
        by.append(f"{len(user)} route{'s' if len(user) != 1 else ''} of {table.name} ({', '.join(user[:3])}"
                  + (f" and {len(user) - 3} more)" if len(user) > 3 else ")"))
    by += system
    return passed("", f"every address of the {len(batch.tag.prefixes)} {family_words(batch.tag.addresses.families)} "
                      f"prefixes of {batch.endpoint.label} leaves by next hop Internet, by {' and '.join(by)}",
                  **evidence, **route_evidence(routes, detailed=False))


# -- attached-compute-ssh --------------------------------------------------------------------


@check(
    id="attached-compute-ssh",
    title="Azure Machine Learning can reach an attached VM or HDInsight cluster on SSH",
    severity="high",
    subject="VirtualMachine or HDInsight compute",
    applies="always (not applicable to an HDInsight cluster that is in no subnet)",
    passes=(
        "inbound TCP 22 from every AzureMachineLearning tag prefix (the entry named "
        "AzureMachineLearning.<VNet region> when the data has one, else the global tag) to the machine's private "
        "IP is allowed through the subnet NSG then the NIC NSG (private IP unknown: to every address of its subnet "
        "passes, to none fails, to some is an error)"
    ),
    source="Use a virtual machine or HDInsight cluster, step 2",
    rationale=(
        "\"To allow the Azure Machine Learning service to communicate with the SSH port on the VM or cluster, you must "
        "configure a source entry for the NSG ... Source service tag: AzureMachineLearning ... Destination port "
        "ranges: 22 ... Action: Allow.\""
    ),
    remediation=(
        "NSG of the machine's subnet (and of its NIC) -> Inbound security rules -> Add: source Service Tag "
        "AzureMachineLearning, destination Any, port 22, protocol Any, Allow, above any deny (az network nsg rule "
        "create -g RG --nsg-name NSG -n AllowAzureMachineLearningSsh --priority 100 --direction Inbound --access Allow "
        "--protocol '*' --source-address-prefixes AzureMachineLearning --destination-port-ranges 22)."
    ),
)
def attached_compute_ssh(estate: Estate, settings: Settings) -> Iterator[Verdict]:
    """A VM: its primary NIC's primary address, through the subnet NSG then the NIC NSG. An
    HDInsight cluster: the compute's `address`, through the subnet NSG only (the nodes' NICs
    are not in the snapshot). The family of the address picks the tag prefixes judged. The
    tag is the entry named `AzureMachineLearning.<region>` for the VNet's region, else the
    global one (the catalog's *tag prefixes*: `AzureMachineLearning.FranceCentral` for a VNet in
    `francecentral`, although its `properties.region` says `centralfrance`).

    When the private IP is unknown (Azure Machine Learning stores an attached HDInsight
    cluster's `address` as its SSH host name, `<cluster>-ssh.azurehdinsight.net`; a NIC may
    lack `privateIPAddress`), the machine is still one of its subnet's addresses: the flow is
    judged to every address of the subnet. Allowed to all of them passes (the machine's
    included); allowed wholly to none of them fails (whichever address it has, the flow to
    it is not allowed); allowed to some only is `error`, since which one the machine holds
    is unknown. The evidence says the private IP was unknown.
    """
    yield from unlisted_compute_errors(estate, "its attached virtual machines and HDInsight clusters")
    ctx = flow_context(estate)
    for compute in estate.computes:
        if compute.kind in ("VirtualMachine", "HDInsight"):
            yield _ssh_verdict(ctx, compute)


def _ssh_verdict(ctx: FlowContext, compute: Compute) -> Verdict:
    site = ctx.locate(compute)
    if not isinstance(site, FlowSite):
        return site.verdict(compute)
    return judged_both_ways(ctx, site, lambda under: _ssh(ctx, under))


def _ssh(ctx: FlowContext, site: FlowSite) -> Verdict:
    compute = site.compute
    evidence: dict[str, Any] = {**site.evidence(), "private_ip": compute.private_ip}
    machine = ctx.machine(site)
    if isinstance(machine, Unknown):
        return machine.verdict(compute, **evidence)
    with_nic = compute.kind == "VirtualMachine"
    path = _nsgs_in_path(ctx, site, with_nic)
    if isinstance(path, Unknown):
        return path.verdict(compute, **evidence)
    subnet_nsg, nic_nsg, path_evidence = path
    evidence.update(path_evidence)
    if not with_nic:
        evidence["nic_nsgs"] = HDINSIGHT_NIC_NSGS
    aml = ctx.regional_tag("AzureMachineLearning", site, machine.endpoint.addresses.families)
    if isinstance(aml, Unknown):
        return aml.verdict(compute, **evidence)
    evidence.update(aml.evidence())
    flow = inbound(aml.endpoint, machine.endpoint, TCP, SSH_PORT)
    levels = _inbound_levels(subnet_nsg, nic_nsg, with_nic)
    if machine.ip_known:
        return _for(compute, _required_flow(ctx.ask(flow, levels, Question.ALL_ALLOWED), evidence))
    evidence.update(private_ip_unknown=machine.why_unknown,
                    judged_destination=f"every address of subnet {machine.endpoint.label}")
    answer = ctx.fully_allowed(flow, levels, Side.DESTINATION)
    if isinstance(answer, Unknown):
        return answer.verdict(compute, **evidence)
    return _for(compute, _ssh_to_unknown_ip(answer, machine.why_unknown, evidence))


def _ssh_to_unknown_ip(answer: SideAnswer, why_unknown: str, evidence: dict[str, Any]) -> Verdict:
    """The SSH flow judged to every address of the machine's subnet (its IP is one of them)."""
    if answer.certain == answer.whole:
        return passed("", f"{why_unknown}; TCP 22 from the AzureMachineLearning prefixes is allowed to every address "
                          f"of the subnet, so to the machine's: {answer.strict.summary}", **evidence,
                      **answer.strict.evidence(detailed=False))
    if not answer.possible:
        proof = answer.proof_of_none
        return failed("", f"{why_unknown}; to no address of the subnet is TCP 22 from every AzureMachineLearning prefix "
                          f"allowed, so not to the machine's either: {proof.summary}", **evidence,
                      **proof.evidence(detailed=True))
    if answer.unreadable:
        return error("", f"{why_unknown}; the NSG data cannot be fully read ({answer.unreadable}); as far as it can be "
                         f"read: {answer.strict.summary}", **evidence, **answer.strict.evidence(detailed=True))
    open_cidrs = answer.certain.to_cidrs()
    open_part = ", ".join(open_cidrs[:LEAN_CIDRS]) + (" and more" if len(open_cidrs) > LEAN_CIDRS else "")
    return error("", f"{why_unknown}, and the subnet is only partly open: TCP 22 from every AzureMachineLearning prefix "
                     f"is allowed to {open_part} only; {answer.strict.summary}", **evidence,
                 open_to=open_cidrs[:LEAN_CIDRS], **answer.strict.evidence(detailed=True))


# -- aks-inbound-from-aml --------------------------------------------------------------------


@check(
    id="aks-inbound-from-aml",
    title="Azure Machine Learning can reach the AKS cluster on TCP 443",
    severity="high",
    subject="AKS compute",
    applies="always (not applicable to a cluster that is not in a customer virtual network)",
    passes=(
        "inbound TCP 443 from every AzureMachineLearning tag prefix (the entry named "
        "AzureMachineLearning.<VNet region> when the data has one, else the global tag) to the AKS subnet is "
        "allowed by the subnet NSG"
    ),
    source="Use Azure Kubernetes Service, step 1",
    rationale=(
        "\"Make sure NSG group that controls the virtual network has inbound rule enabled for Azure Machine Learning "
        "service using Service Tag of AzureMachineLearning\"; the service deploys and manages models through the "
        "cluster's HTTPS endpoint."
    ),
    remediation=(
        "AKS subnet NSG -> Inbound security rules -> Add: source Service Tag AzureMachineLearning, TCP 443, Allow, above "
        "any deny (az network nsg rule create -g RG --nsg-name NSG -n AllowAzureMachineLearningHttps --priority 100 "
        "--direction Inbound --access Allow --protocol Tcp --source-address-prefixes AzureMachineLearning "
        "--destination-port-ranges 443)."
    ),
)
def aks_inbound_from_aml(estate: Estate, settings: Settings) -> Iterator[Verdict]:
    """The AKS subnet comes from the compute's `aksNetworkingConfiguration`, else from the managed
    cluster's agent pool; only its NSG is evaluated (the node NICs' NSGs are AKS-managed). A
    cluster whose agent pools name no subnet runs in AKS's own VNet: not applicable. The
    AzureMachineLearning prefixes are the entry named `AzureMachineLearning.<region>` for the
    VNet's region, else the global tag (by name; `properties.region` does not count).
    """
    yield from unlisted_compute_errors(estate, "its AKS computes")
    ctx, memo = flow_context(estate), AnswerMemo[Verdict]()
    for compute in aks_computes(estate):
        yield _aks_inbound_verdict(ctx, memo, compute)


def _aks_inbound_verdict(ctx: FlowContext, memo: AnswerMemo[Verdict], compute: Compute) -> Verdict:
    return _judged_per_subnet(ctx, memo, compute, lambda site: _tag_into_subnet(
        ctx, site, "AzureMachineLearning", HTTPS_PORT, AKS_NIC_NSGS))


# -- aks-scoring-inbound ---------------------------------------------------------------------


@check(
    id="aks-scoring-inbound",
    title="The AKS scoring endpoint can be called from outside the virtual network",
    severity="medium",
    subject="AKS compute",
    applies="always (not applicable to a cluster that is not in a customer virtual network)",
    passes=(
        "inbound TCP on the scoring port (443 when sslConfiguration.status is Enabled or Auto, else 80) to every "
        "address of the AKS subnet is allowed by the subnet NSG from at least one public client"
    ),
    source="Use Azure Kubernetes Service, step 5",
    rationale=(
        "\"Make sure NSG group that controls the virtual network has inbound rule enabled for the scoring endpoint so "
        "that it can be called from outside of virtual network.\""
    ),
    remediation=(
        "AKS subnet NSG -> Inbound security rules -> Add: an Allow on TCP 443 (SSL enabled) or 80 from the clients "
        "that call the model, above any deny (az network nsg rule create -g RG --nsg-name NSG -n AllowScoring "
        "--priority 110 --direction Inbound --access Allow --protocol Tcp --source-address-prefixes Internet "
        "--destination-port-ranges 443)."
    ),
)
def aks_scoring_inbound(estate: Estate, settings: Settings) -> Iterator[Verdict]:
    """*Allowed* as the catalog defines it: the decision for every address, port and protocol
    of the flow. The row passes when there is a public client c for which the flow
    (c -> every address of the AKS subnet, TCP on the scoring port) is wholly allowed; an allow
    to one address of the subnet only does not make it pass. Evaluated once, from all public
    clients to the whole subnet, worst case for rules naming application security groups (an
    allow may not match, a deny may; the evidence says so); the clients left are those that
    are the source of no denied part. Evidence names a witness client and the rule that lets
    it in, or, on a fail, the rules that deny.

    Contrast compute-remote-login, which fails on ANY packet from a public client reaching
    port 22 (one exposed host is an exposure). `sslConfiguration.status` compares
    case-insensitively; a compute without `sslConfiguration` serves over HTTP (80); a status
    other than Enabled, Auto or Disabled is `error`.

    Public clients as for compute-remote-login: globally reachable addresses outside the VNet's
    own networks and the global AzureMachineLearning and BatchNodeManagement prefixes (and, where
    the catalog is silent, 168.63.129.16). An allow from a private range or from a VPN site's
    public block therefore lets no public client in; the message says which own network such a
    block is. Under user routes `Internet` is read both ways, the worse verdict reported: with a
    0.0.0.0/0 route, "allow Internet" matches nothing when `Internet` excludes the route prefixes.
    Without the service-tag data that sets public clients apart, the globally reachable
    addresses outside the own networks (a superset) are asked: if none of them gets the whole
    flow the check fails; otherwise it is `error`.
    """
    yield from unlisted_compute_errors(estate, "its AKS computes")
    ctx, memo = flow_context(estate), AnswerMemo[Verdict]()
    for compute in aks_computes(estate):
        yield _scoring_verdict(ctx, memo, compute)


def _scoring_port(compute: Compute) -> tuple[int, str | None] | Unknown:
    """443 when sslConfiguration.status is Enabled or Auto, else 80 (the row's words: a missing
    sslConfiguration or status, Disabled, or any other value all mean 80)."""
    if not isinstance(compute.properties.get("properties"), dict):
        return Unknown("the compute's properties.properties were not returned, so its SSL setting is unknown")
    ssl = compute.compute_properties.get("sslConfiguration")
    status = ssl.get("status") if isinstance(ssl, dict) else None
    if isinstance(status, str) and status.strip().lower() in ("enabled", "auto"):
        return 443, status
    return 80, status if isinstance(status, str) else None


def _scoring_verdict(ctx: FlowContext, memo: AnswerMemo[Verdict], compute: Compute) -> Verdict:
    site = ctx.locate(compute)
    if not isinstance(site, FlowSite):
        return site.verdict(compute)
    port = _scoring_port(compute)
    if isinstance(port, Unknown):
        return port.verdict(compute, **site.evidence())
    number, status = port
    template = memo.get((id_key(site.subnet.id), number),
                        lambda: judged_both_ways(ctx, site, lambda under: _scoring(ctx, under, number)))
    return _for(compute, template, ssl_status=status, scoring_port=number)


def _scoring(ctx: FlowContext, site: FlowSite, port: int) -> Verdict:
    evidence: dict[str, Any] = {**site.evidence(), "subnet_nsg_id": site.subnet.nsg_id, "nic_nsgs": AKS_NIC_NSGS}
    nsg = ctx.subnet_nsg(site)
    if isinstance(nsg, Unknown):
        return nsg.verdict("", **evidence)
    levels: Levels = [(SUBNET, nsg)]
    public = ctx.public_clients(site)
    if isinstance(public, Unknown):
        return _scoring_without_tags(ctx, site, levels, port, public, evidence)
    clients, excluded = public
    evidence["public_clients"] = _public_clients_evidence(site, excluded)
    answer = ctx.fully_allowed(inbound(clients, site.subnet_endpoint, TCP, PortSet.of(port)), levels,
                               Side.SOURCE, lean=True)
    if isinstance(answer, Unknown):
        return answer.verdict("", **evidence)
    reach = f"every address of the AKS subnet {site.subnet_endpoint.label} on the scoring port TCP {port}"
    found = answer.witness()
    if found is not None:
        client, allowed_by, packet = found
        why = virtual_network_words(site, levels, answer.strict.verdict, f"TCP {port}")
        return passed("", f"public client {client} can reach {reach}: allowed by {'; '.join(allowed_by)}; e.g. {packet}"
                          + (f"; {why}" if why else ""),
                      **evidence, witness_client=client, allowed_by=allowed_by, witness=packet,
                      fully_allowed_clients=_clients_sketch(answer.certain), **_assumed(answer))
    if not answer.possible:
        proof = answer.proof_of_none
        return failed("", f"no public client can reach {reach} (a flow only partly allowed is not allowed): "
                          f"{proof.summary}{_not_public(ctx, site, levels, PortSet.of(port))}", **evidence,
                      **proof.evidence(detailed=True))
    return error("", f"the NSG data cannot be fully read ({answer.unreadable}); whether any public client can reach "
                     f"{reach} depends on it: {answer.strict.summary}", **evidence,
                 **answer.strict.evidence(detailed=True))


def _scoring_without_tags(ctx: FlowContext, site: FlowSite, levels: Levels, port: int, no_tags: Unknown,
                          evidence: dict[str, Any]) -> Verdict:
    """The scoring flow judged from the globally reachable addresses outside the own networks, a
    superset of the public clients, when the tags that narrow it are missing: none of them getting
    the whole flow fails; else unknown."""
    reason = _reason_text(no_tags)
    superset = ctx.public_superset(site)
    if isinstance(superset, Unknown):
        return superset.verdict("", **evidence)
    evidence.update(public_clients={"families": family_words(site.families), "not_determined": reason,
                                    "judged_on": PUBLIC_SUPERSET_LABEL})
    answer = ctx.fully_allowed(inbound(superset, site.subnet_endpoint, TCP, PortSet.of(port)), levels, Side.SOURCE,
                               lean=True)
    if isinstance(answer, Unknown):
        return answer.verdict("", **evidence)
    reach = f"every address of the AKS subnet {site.subnet_endpoint.label} on the scoring port TCP {port}"
    if not answer.possible:
        proof = answer.proof_of_none
        return failed("", f"no globally reachable address outside the own networks can reach {reach}, so no public "
                          f"client can ({proof.summary}); the service tags that set the public clients apart were not "
                          f"needed ({reason})", **evidence, **proof.evidence(detailed=True))
    return error("", f"public clients cannot be determined: {reason}; some globally reachable addresses "
                     f"{'can' if answer.certain else 'may'} reach {reach} ({_sketch_words(answer)}), and whether any of "
                     "them is a public client rather than the service's own address needs those tags", **evidence,
                 fully_allowed_internet=_clients_sketch(answer.possible), **answer.strict.evidence(detailed=True))


def _clients_sketch(addresses: AddressSet) -> dict[str, Any]:
    cidrs, ranges, complete = address_sketch(addresses)
    return {"cidrs": cidrs, "range_count": ranges, "truncated": not complete}


def _sketch_words(answer: SideAnswer) -> str:
    cidrs, ranges, complete = address_sketch(answer.possible, 3)
    return ", ".join(cidrs) + ("" if complete else f" and more ({ranges} address ranges in all)")


def _assumed(answer: SideAnswer) -> dict[str, Any]:
    verdict = answer.strict.verdict
    return {"assumed": [str(assumption) for assumption in verdict.assumed]} if verdict.assumed else {}
