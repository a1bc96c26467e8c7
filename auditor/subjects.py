"""Subject lookup shared by checks: which resources a catalog row is about.

Several workspaces may share one storage account or key vault; the subject of
a storage or key-vault check is the account, so it is judged once, against
every workspace that uses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from amlaudit.auditor.check import Verdict, error
from amlaudit.auditor.graph.estate import Estate
from amlaudit.auditor.graph.model import Compute, Gap, KeyVault, StorageAccount, Subnet, Workspace
from amlaudit.auditor.ids import id_key

R = TypeVar("R", StorageAccount, KeyVault)


@dataclass(eq=False)
class SharedDependency(Generic[R]):
    """A storage account or key vault (or the Gap where it should be) and the workspaces using it."""

    resource: R | Gap
    workspaces: list[Workspace] = field(default_factory=list)

    @property
    def experimentation_computes(self) -> list[Compute]:
        return [c for ws in self.workspaces for c in ws.experimentation_computes]

    @property
    def inference_computes(self) -> list[Compute]:
        return [c for ws in self.workspaces for c in ws.inference_computes]

    @property
    def compute_list_gaps(self) -> list[Gap]:
        """Workspaces whose computes could not be listed: applicability is then unknown."""
        return [ws.computes_gap for ws in self.workspaces if ws.computes_gap is not None]


def workspace_storage_accounts(estate: Estate) -> list[SharedDependency[StorageAccount]]:
    return _dependencies(estate, lambda ws: ws.storage_account)  # type: ignore[arg-type,return-value]


def workspace_key_vaults(estate: Estate) -> list[SharedDependency[KeyVault]]:
    return _dependencies(estate, lambda ws: ws.key_vault)  # type: ignore[arg-type,return-value]


def _dependencies(estate: Estate, pick) -> list[SharedDependency]:  # noqa: ANN001
    by_key: dict[str, SharedDependency] = {}
    for ws in estate.workspaces:
        resource = pick(ws)
        if resource is None:
            continue
        key = id_key(resource.id)
        dep = by_key.setdefault(key, SharedDependency(resource))
        dep.workspaces.append(ws)
    return list(by_key.values())


@dataclass(eq=False)
class SubnetUse:
    """A compute subnet (or the Gap where it should be) and the computes placed in it."""

    subnet: Subnet | Gap
    computes: list[Compute] = field(default_factory=list)


def compute_subnets(computes: list[Compute]) -> list[SubnetUse]:
    """Distinct subnets of the given computes, in first-seen order."""
    by_key: dict[str, SubnetUse] = {}
    for compute in computes:
        subnet = compute.subnet
        if subnet is None:
            subnet = Gap(compute.id, "subnet", "the compute's subnet is unknown")
        key = id_key(subnet.id) if subnet.id else f"compute:{id_key(compute.id)}"
        by_key.setdefault(key, SubnetUse(subnet)).computes.append(compute)
    return list(by_key.values())


def aml_computes(estate: Estate) -> list[Compute]:
    return [c for c in estate.computes if c.kind == "AmlCompute"]


def aks_computes(estate: Estate) -> list[Compute]:
    return [c for c in estate.computes if c.kind == "AKS"]


def vm_computes(estate: Estate) -> list[Compute]:
    return [c for c in estate.computes if c.kind == "VirtualMachine"]


def compute_list_gaps(estate: Estate) -> list[Gap]:
    """Workspaces whose compute list could not be read: the computes (and the subnets,
    VNets and regions they use) a compute check would judge there are unknown."""
    return [ws.computes_gap for ws in estate.workspaces if ws.computes_gap is not None]


def unlisted_compute_errors(estate: Estate, unknown: str) -> list[Verdict]:
    """One `error` per workspace whose compute list could not be read.

    A compute check's subjects come from the compute list, so where it is missing the
    check cannot even name them; `unknown` says what it could not judge there, e.g.
    "its AmlCompute clusters and the subnets they use".
    """
    return [
        error(gap, f"the computes of workspace {gap.ref_id.rsplit('/computes', 1)[0]} could not be listed "
                   f"({gap.reason}), so {unknown} are unknown",
              missing={"kind": gap.kind, "id": gap.ref_id, "reason": gap.reason})
        for gap in compute_list_gaps(estate)
    ]
