"""Whether compute subnets get through the firewall of a storage account or key vault.

Storage and Key Vault share one firewall model, `properties.networkAcls`
(defaultAction, bypass, virtualNetworkRules), and the catalog judges both on
those fields alone. `publicNetworkAccess` is reported in evidence as
information and never changes a verdict.

Where the catalog is silent, a compute subnet is "in virtualNetworkRules" when
a rule names its id (compared case-insensitively: Key Vault lower-cases the ids
it returns) with `action` Allow (absent counts as Allow, ARM's default) and a
`state` in force: absent (Key Vault rules carry none) or `Succeeded`.
`NetworkSourceDeleted`, `Failed` and `Deprovisioning` are not in force; any
other state is unknown. A subnet "has a service endpoint" when its
`serviceEndpoints` lists one of the service names, whatever the entry's
`locations`; an entry whose `provisioningState` is `Failed` counts as absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from amlaudit.auditor.check import Verdict, error, failed, not_applicable, passed
from amlaudit.auditor.graph.model import Compute, Gap, KeyVault, NetworkAcls, StorageAccount, Subnet
from amlaudit.auditor.ids import id_key
from amlaudit.auditor.subjects import SharedDependency, SubnetUse, compute_subnets

# `Microsoft.Storage.Global` is Azure Storage's cross-region endpoint; a subnet has one or the other.
STORAGE_ENDPOINT_SERVICES: tuple[str, ...] = ("Microsoft.Storage", "Microsoft.Storage.Global")
KEY_VAULT_ENDPOINT_SERVICES: tuple[str, ...] = ("Microsoft.KeyVault",)

_RULE_STATES_NOT_IN_FORCE = frozenset({"networksourcedeleted", "failed", "deprovisioning"})

Answer = Literal["yes", "no", "unknown"]
_PREFERENCE: dict[Answer, int] = {"yes": 0, "unknown": 1, "no": 2}  # one entry that admits is enough


@dataclass(frozen=True, slots=True)
class Firewall:
    """A readable firewall: the network ACLs and their effective default action."""

    resource: StorageAccount | KeyVault
    acls: NetworkAcls
    default_action: Literal["Allow", "Deny"]

    @property
    def kind(self) -> str:
        return "key vault" if isinstance(self.resource, KeyVault) else "storage account"

    @property
    def described(self) -> str:
        if not self.acls.present:
            return ("networkAcls is absent (the firewall was never configured), which Azure treats as "
                    "defaultAction Allow")
        return f"networkAcls.defaultAction is {self.default_action}"

    @property
    def evidence(self) -> dict[str, Any]:
        return {
            "default_action": self.default_action,
            "network_acls_present": self.acls.present,
            # Information only: the catalog rows key on networkAcls.
            "public_network_access": self.resource.properties.get("publicNetworkAccess"),
        }


def read_firewall(resource: StorageAccount | KeyVault) -> Firewall | str:
    """The resource's firewall, or why it cannot be read (the check then says error)."""
    acls = resource.network_acls
    if acls is None:
        return "the resource carries no readable properties.networkAcls, so its firewall is unknown"
    default_action = acls.effective_default_action
    if default_action is None:
        return f"networkAcls.defaultAction is missing or unrecognised ({acls.default_action!r})"
    return Firewall(resource, acls, default_action)


@dataclass(frozen=True, slots=True)
class Answered:
    """One half of admission (rule or endpoint), why, and the ARM entry that decided."""

    answer: Answer
    detail: str
    entry: dict[str, Any] | None = None

    @property
    def as_evidence(self) -> bool | None:
        return {"yes": True, "no": False, "unknown": None}[self.answer]


def _best(candidates: list[Answered]) -> Answered | None:
    return min(candidates, key=lambda a: _PREFERENCE[a.answer], default=None)


def _judge_rule(rule: dict[str, Any]) -> Answered:
    action, state = rule.get("action"), rule.get("state")
    if action is not None and not (isinstance(action, str) and action.strip().lower() == "allow"):
        return Answered("no", f"its virtual network rule has action {action!r}, not Allow", rule)
    if state is None or (isinstance(state, str) and state.strip().lower() == "succeeded"):
        return Answered("yes", "in networkAcls.virtualNetworkRules", rule)
    if isinstance(state, str) and state.strip().lower() in _RULE_STATES_NOT_IN_FORCE:
        return Answered("no", f"its virtual network rule is in state {state}, not in force", rule)
    return Answered("unknown", f"its virtual network rule is in unrecognised state {state!r}", rule)


def virtual_network_rule_for(acls: NetworkAcls, subnet_id: str) -> Answered:
    """Whether `acls.virtualNetworkRules` admits `subnet_id`."""
    key = id_key(subnet_id)
    rules = acls.virtual_network_rules
    named = [_judge_rule(r) for r in rules if isinstance(r.get("id"), str) and id_key(r["id"]) == key]
    if not named and any(not isinstance(r.get("id"), str) for r in rules):
        return Answered("unknown", "no rule names the subnet, but some virtual network rule carries no readable id")
    return _best(named) or Answered("no", "not in networkAcls.virtualNetworkRules")


def service_endpoint_for(subnet: Subnet, services: tuple[str, ...]) -> Answered:
    """Whether `subnet` has a service endpoint for one of `services` (names compare case-insensitively)."""
    entries = subnet.properties.get("serviceEndpoints")
    if entries is not None and not isinstance(entries, list):
        return Answered("unknown", f"the subnet's serviceEndpoints is unreadable ({type(entries).__name__})")
    wanted = {s.lower() for s in services}
    found = [
        Answered("no", f"its {e['service']} service endpoint is in state Failed", e)
        if str(e.get("provisioningState", "")).strip().lower() == "failed"
        else Answered("yes", f"has a {e['service']} service endpoint", e)
        for e in entries or []
        if isinstance(e, dict) and isinstance(e.get("service"), str) and e["service"].strip().lower() in wanted
    ]
    return _best(found) or Answered("no", f"no {' or '.join(services)} service endpoint")


@dataclass(frozen=True, slots=True)
class SubnetAdmission:
    """How one compute subnet fares at the firewall, and which computes sit in it."""

    subnet: Subnet | Gap
    computes: list[Compute]
    rule: Answered
    endpoint: Answered

    @property
    def outcome(self) -> Literal["admitted", "refused", "unknown"]:
        answers = {self.rule.answer, self.endpoint.answer}
        return "refused" if "no" in answers else "admitted" if answers == {"yes"} else "unknown"

    @property
    def subnet_id(self) -> str | None:
        if isinstance(self.subnet, Subnet):
            return self.subnet.id
        return next((c.subnet_id for c in self.computes if c.subnet_id), None)

    def describe(self) -> str:
        if isinstance(self.subnet, Subnet):
            label = f"{self.subnet.vnet.name if self.subnet.vnet else '?'}/{self.subnet.name}"
        else:
            label = self.subnet_id or "the subnet"
        problems = dict.fromkeys(a.detail for a in (self.rule, self.endpoint) if a.answer != "yes")
        return f"{label} ({'; '.join(problems)}; used by {', '.join(c.name or c.id for c in self.computes)})"

    def evidence(self) -> dict[str, Any]:
        return {
            "subnet_id": self.subnet_id,
            "outcome": self.outcome,
            "computes": [c.id for c in self.computes],
            "in_virtual_network_rules": self.rule.as_evidence,
            "virtual_network_rule": self.rule.entry,
            "rule_detail": self.rule.detail,
            "service_endpoint": self.endpoint.as_evidence,
            "service_endpoint_entry": self.endpoint.entry,
            "endpoint_detail": self.endpoint.detail,
        }


def admit(use: SubnetUse, acls: NetworkAcls, services: tuple[str, ...]) -> SubnetAdmission:
    """Judge one compute subnet; a subnet the snapshot lacks is unknown on both halves."""
    if isinstance(use.subnet, Gap):
        unknown = Answered("unknown", f"the subnet is unknown: {use.subnet.reason}")
        return SubnetAdmission(use.subnet, use.computes, unknown, unknown)
    return SubnetAdmission(use.subnet, use.computes, virtual_network_rule_for(acls, use.subnet.id),
                           service_endpoint_for(use.subnet, services))


def vnet_rule_verdict(use: SharedDependency, services: tuple[str, ...]) -> Verdict:
    """storage-vnet-rule / keyvault-vnet-rule for one account or vault, against every workspace using it.

    Applies when defaultAction is Deny and a workspace has experimentation compute; passes
    when every compute subnet is admitted. A definite refusal fails even when other
    subnets (or the computes of workspaces that could not be listed) are unknown;
    otherwise any unknown is an error.
    """
    resource = use.resource
    if isinstance(resource, Gap):
        return error(resource, resource)
    firewall = read_firewall(resource)
    if isinstance(firewall, str):
        return error(resource, firewall)
    if firewall.default_action != "Deny":
        return not_applicable(resource, f"{firewall.described}: the firewall does not filter by network, so no "
                              "virtual network rule is needed", **firewall.evidence)
    if not use.experimentation_computes:
        return no_experimentation_verdict(resource, use)
    admissions = [admit(s, firewall.acls, services) for s in compute_subnets(use.experimentation_computes)]
    refused = [a for a in admissions if a.outcome == "refused"]
    unknown = [a.describe() for a in admissions if a.outcome == "unknown"]
    unknown += [unlisted_computes_reason([g]) for g in use.compute_list_gaps]
    evidence = {
        **firewall.evidence,
        "service_endpoint_names": list(services),
        "workspaces": workspace_ids(use),
        "compute_subnet_count": len(admissions),
        "refused_subnet_count": len(refused),
        "unknown_subnet_count": sum(a.outcome == "unknown" for a in admissions),
        "subnets": [a.evidence() for a in admissions],
        "unlisted_compute_workspaces": [{"compute_list": g.ref_id, "reason": g.reason} for g in use.compute_list_gaps],
    }
    if refused:
        return failed(resource, f"{len(refused)} of {len(admissions)} compute subnet(s) cannot reach the "
                      f"{firewall.kind} through its firewall (defaultAction Deny): "
                      + "; ".join(a.describe() for a in refused)
                      + (f". Also unknown: {'; '.join(unknown)}" if unknown else ""), **evidence)
    if unknown:
        return error(resource, f"cannot verify that every compute subnet gets through the {firewall.kind}'s "
                     f"firewall: {'; '.join(unknown)}", **evidence)
    return passed(resource, f"all {len(admissions)} compute subnet(s) are in the {firewall.kind}'s virtual network "
                  f"rules and have a {' or '.join(services)} service endpoint", **evidence)


def no_experimentation_verdict(resource: StorageAccount | KeyVault, use: SharedDependency) -> Verdict:
    """A row that needs experimentation compute, where no listed workspace has any."""
    if use.compute_list_gaps:
        return error(resource, "cannot verify whether a workspace using it has experimentation compute: "
                     + unlisted_computes_reason(use.compute_list_gaps), workspaces=workspace_ids(use))
    return not_applicable(resource, "no workspace using it has experimentation compute", workspaces=workspace_ids(use))


def workspace_ids(use: SharedDependency) -> list[str]:
    return [ws.id for ws in use.workspaces]


def unlisted_computes_reason(gaps: list[Gap]) -> str:
    """Plain words for workspaces whose compute list could not be read."""
    return "; ".join(f"the computes of workspace {g.ref_id.rsplit('/computes', 1)[0]} could not be listed ({g.reason})"
                     for g in gaps)
