"""A scoped audit (`--workspace RG/NAME`): which workspaces were named, and what it reports.

Scoping must never pass what the whole estate fails. So it is not a narrower set of
checks or data, but two steps at the two ends of the flow:

* collection (`amlaudit.auditor.collect.crawl`) reads the named workspaces in full, plus what
  verdicts about them need from the other workspaces of the subscriptions read (the
  computes in their subnets, the workspaces sharing their storage account or key vault),
  and records the names in the snapshot's `scope.workspaces`;
* the checks run over the whole snapshot as they always do, so a subnet, VNet, storage
  account or quota region shared with other workspaces is judged with all of them; then
  :func:`scope_findings`, a plain function of the checks' result and the estate, keeps the
  findings about what the named workspaces use (their :func:`footprint`).

A snapshot without `scope.workspaces` (an unscoped collection, one written by another ARM
client) is reported whole. docs/collect.md describes both steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace

from amlaudit.auditor.findings import AuditResult
from amlaudit.auditor.graph.estate import Estate
from amlaudit.auditor.graph.model import Compute, Gap, HDInsightCluster, ManagedCluster, NetworkInterface, Subnet
from amlaudit.auditor.ids import id_key, looks_like_arm_id, parent_id, parse_arm_id

WorkspaceKey = tuple[str, str]  # (resource group, name), lower-cased


class WorkspaceScope:
    """Workspaces named as `RESOURCE_GROUP/NAME`, compared case-insensitively. No names: every workspace."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        # (group, name) as given, by their lower-case key.
        self.wanted: dict[WorkspaceKey, tuple[str, str]] = {}
        for text in names:
            group, separator, name = text.partition("/")
            if not separator or not group or not name or "/" in name:
                raise ValueError(f"workspace {text!r}: expected RESOURCE_GROUP/NAME")
            self.wanted.setdefault((group.lower(), name.lower()), (group, name))

    def __bool__(self) -> bool:
        """True when workspaces were named (the audit is scoped)."""
        return bool(self.wanted)

    def match(self, workspace_id: str) -> WorkspaceKey | None:
        """The key of the name `workspace_id` matches (None: named by none)."""
        parsed = parse_arm_id(workspace_id)
        if parsed is None or parsed.resource_group is None or not parsed.segments:
            return None
        key = (parsed.resource_group.lower(), parsed.segments[-1][1].lower())
        return key if key in self.wanted else None

    def keeps(self, workspace_id: str) -> bool:
        return not self.wanted or self.match(workspace_id) is not None


def snapshot_scope(estate: Estate) -> WorkspaceScope:
    """The workspaces the snapshot's collection was scoped to (none: the whole estate)."""
    return WorkspaceScope(estate.snapshot.scope_workspaces)


def footprint(estate: Estate, scope: WorkspaceScope) -> set[str]:
    """The id keys of what the named workspaces use: the workspaces, their compute lists,
    storage accounts, key vaults and computes, and each compute's machine, NICs, subnets,
    the subnets' NSGs and route tables, their VNets and the VNets' quota regions
    (`/subscriptions/{s}/providers/Microsoft.Network/locations/{region}`)."""
    keys: set[str] = set()

    def add(*ids: str | None) -> None:
        keys.update(id_key(i) for i in ids if i)

    for workspace in estate.workspaces:
        if not scope.keeps(workspace.id):
            continue
        add(workspace.id, workspace.id.rstrip("/") + "/computes", workspace.storage_account_id, workspace.key_vault_id)
        for compute in workspace.computes:
            add(compute.id, compute.target_id)
            nic = compute.nic
            if isinstance(nic, NetworkInterface):
                add(nic.id, nic.nsg_id)
            elif isinstance(nic, Gap):
                add(nic.ref_id)
            for subnet_id in set(_subnet_ids(compute)):
                add(subnet_id)
                subnet = estate.subnets.get(id_key(subnet_id))
                if subnet is not None:
                    add(subnet.nsg_id, subnet.route_table_id)
                vnet_id = parent_id(subnet_id, "subnets") if looks_like_arm_id(subnet_id) else None
                add(vnet_id)
                vnet = estate.vnets.get(id_key(vnet_id)) if vnet_id else None
                if vnet is not None and vnet.subscription_id and vnet.location:
                    add(f"/subscriptions/{vnet.subscription_id}/providers/Microsoft.Network/locations/{vnet.location}")
    return keys


def _subnet_ids(compute: Compute) -> Iterator[str]:
    """Every subnet the compute sits in, as referenced (resolved or not)."""
    if compute.subnet_id:
        yield compute.subnet_id
    if isinstance(compute.subnet, Subnet | Gap) and compute.subnet.id:
        yield compute.subnet.id
    if isinstance(compute.hdinsight, HDInsightCluster):
        yield from compute.hdinsight.subnet_ids
    if isinstance(compute.managed_cluster, ManagedCluster):
        yield from compute.managed_cluster.agent_pool_subnet_ids
    if compute.aks_networking is not None and compute.aks_networking.subnet_id:
        yield compute.aks_networking.subnet_id


def scope_findings(result: AuditResult, estate: Estate) -> AuditResult:
    """The result as a scoped audit reports it: the findings (and coverage gaps) about the
    named workspaces' footprint. A finding without a subject (a check that crashed) and the
    gaps of compute lists (a workspace whose computes are unknown may run clusters in any
    subnet, so they bear on every capacity verdict) are always kept; so are the
    collection errors, which say what the verdicts could not see."""
    scope = snapshot_scope(estate)
    if not scope:
        return result
    inside = footprint(estate, scope)
    findings = [f for f in result.findings if not f.resource_id or id_key(f.resource_id) in inside]
    gaps = [g for g in result.gaps if g.kind == "compute list" or id_key(g.ref_id) in inside]
    return replace(result, findings=findings, gaps=gaps)
