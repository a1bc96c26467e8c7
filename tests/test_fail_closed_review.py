"""White-box review for fail-open paths: inputs that are absent, mis-shaped or partly read must
never reach a `pass` (or a `not_applicable`, or no finding at all) for a pair that applies.

Each case starts from a good estate (tests/acceptance/scenarios.py, built with
tests/estates.py::EstateBuilder), damages one input the way a partial or odd collection would,
and states the verdict. Where the damage is one ARM legitimately produces (a subnet GET omits
`ipConfigurations` when nothing is attached), the case says so and expects the normal verdict.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.acceptance.harness import Audit, expect, run
from tests.acceptance.scenarios import (
    add_tags,
    add_workspace_compute,
    aks_scenario,
    aml_scenario,
    batch_allow_rule,
    hdinsight_cluster,
    inbound_allow,
    set_rules,
    vm_scenario,
)
from tests.acceptance2.kit import attach_route_table, peer
from tests.estates import NET_RG, EstateBuilder, security_rule

BATCH = "compute-batch-inbound"
OUT_VNET = "compute-outbound-vnet"
OUT_NET = "compute-outbound-internet"
REMOTE = "compute-remote-login"
TUNNEL = "compute-forced-tunneling"
LOCATION = "compute-vnet-location"
CAPACITY = "compute-subnet-capacity"
SSH = "attached-compute-ssh"
STORAGE_CHECKS = ("storage-vnet-rule", "storage-trusted-services", "storage-inference-access",
                  "storage-network-restricted")
VAULT_CHECKS = ("keyvault-vnet-rule", "keyvault-trusted-services", "keyvault-network-restricted")


def _statuses(audit: Audit, check_id: str) -> dict[str, str]:
    """resource id (lower-cased) -> status of every finding of one check."""
    found: dict[str, str] = {}
    for finding in audit.result.findings:
        if finding.check_id == check_id:
            assert finding.resource_id.lower() not in found, f"{check_id}: two findings for {finding.resource_id}"
            found[finding.resource_id.lower()] = finding.status
    return found


# -- a workspace whose storage account / key vault reference is missing ---------------------------------


@pytest.mark.parametrize(("reference", "checks"), [("storageAccount", STORAGE_CHECKS), ("keyVault", VAULT_CHECKS)])
def test_workspace_naming_no_dependency_is_an_error_not_silence(reference: str, checks: tuple[str, ...]) -> None:
    # Every workspace has a storage account and a key vault (both required at creation, immutable);
    # a GET without the reference is a partial read. Before the fix the workspace simply had no
    # storage / key-vault finding at all.
    s = aml_scenario()
    del s.workspace["properties"][reference]
    audit = run(s.builder)
    for check_id in checks:
        found = _statuses(audit, check_id)
        assert found == {s.workspace["id"].lower(): "error"}, (check_id, found)
        message = audit.finding(check_id, s.workspace["id"]).message
        assert f"properties.{reference}" in message, message


@pytest.mark.parametrize("value", ["", 42, {"id": "/subscriptions/x"}])
def test_workspace_dependency_reference_of_an_odd_shape_is_an_error(value: Any) -> None:
    s = aml_scenario()
    s.workspace["properties"]["storageAccount"] = value
    audit = run(s.builder)
    for check_id in STORAGE_CHECKS:
        assert set(_statuses(audit, check_id).values()) == {"error"}, check_id


def test_workspace_dependency_reference_guard() -> None:
    # The same estate, untouched: the storage checks decide (so the cases above fail for the right reason).
    s = aml_scenario()
    expect(run(s.builder), {("storage-network-restricted", s.storage["id"]): "pass",
                            ("storage-trusted-services", s.storage["id"]): "pass"})


# -- a VNet whose subnet list was not (fully) read ---------------------------------------------------------


def _aks_with_standalone_subnet() -> Any:
    """The AKS subnet also returned on its own (GET .../subnets/aks), as a collector may add it."""
    s = aks_scenario()
    standalone = dict(s.subnet)
    s.builder.resources.append(standalone)
    return s


@pytest.mark.parametrize("damage", ["missing", "not a list", "entry without id", "entry not an object"])
def test_vnet_subnet_list_not_fully_read_makes_overlap_checks_error(damage: str) -> None:
    # "The service CIDR overlaps no subnet of the VNet" cannot be known from part of the subnet list.
    # ARM always returns `subnets` on a VNet GET (an empty list when there are none).
    s = _aks_with_standalone_subnet()
    props = s.vnet["properties"]
    if damage == "missing":
        del props["subnets"]
    elif damage == "not a list":
        props["subnets"] = {"value": props["subnets"]}
    elif damage == "entry without id":
        props["subnets"].append({"name": "other", "properties": {"addressPrefix": "10.2.0.0/24"}})
    else:
        props["subnets"].append("/subscriptions/x/subnets/other")
    expect(run(s.builder), {("aks-service-cidr", s.compute_id): "error", ("aks-docker-bridge", s.compute_id): "error"})


def test_vnet_subnet_list_guard() -> None:
    s = _aks_with_standalone_subnet()
    expect(run(s.builder), {("aks-service-cidr", s.compute_id): "pass", ("aks-docker-bridge", s.compute_id): "pass"})


# -- references that are present but unreadable -----------------------------------------------------------

ODD_REFERENCES = ["/subscriptions/s/not-an-object", {}, {"id": ""}, {"id": 7}]


@pytest.mark.parametrize("value", ODD_REFERENCES)
def test_subnet_nsg_reference_unreadable_is_not_no_nsg(value: Any) -> None:
    # The subnet names an NSG in a shape that cannot be read: the NSG is unknown, not absent.
    # Read as "no NSG" the flows would pass (a subnet without NSG allows everything) and
    # compute-remote-login would not apply.
    s = aml_scenario(rules=[])
    s.subnet["properties"]["networkSecurityGroup"] = value
    expect(run(s.builder), {(BATCH, s.compute_id): "error", (OUT_VNET, s.compute_id): "error",
                            (OUT_NET, s.compute_id): "error", (REMOTE, s.compute_id): "error"})


@pytest.mark.parametrize("value", ODD_REFERENCES)
def test_subnet_route_table_reference_unreadable_is_not_no_route_table(value: Any) -> None:
    s = aml_scenario()
    attach_route_table(s.builder, s.subnet, [("all", "0.0.0.0/0", "VirtualAppliance")])
    s.subnet["properties"]["routeTable"] = value
    expect(run(s.builder), {(TUNNEL, s.compute_id): "error"})


@pytest.mark.parametrize("value", ODD_REFERENCES)
def test_nic_nsg_reference_unreadable_is_not_no_nsg(value: Any) -> None:
    # The NIC NSG has only the default rules, which deny SSH from AzureMachineLearning (fail);
    # with its reference unreadable that NSG is unknown.
    s = vm_scenario(nic_rules=[])
    s.nic["properties"]["networkSecurityGroup"] = value
    expect(run(s.builder), {(SSH, s.compute_id): "error"})


def test_unreadable_reference_guards() -> None:
    # An explicit deny: the 0.0.0.0/0 route puts every address in VirtualNetwork, so without it
    # AllowVnetInBound would admit Batch.
    s = aml_scenario(rules=[security_rule("DenyAllInbound", 4096, "Inbound", "Deny")])
    attach_route_table(s.builder, s.subnet, [("all", "0.0.0.0/0", "VirtualAppliance")])
    expect(run(s.builder), {(BATCH, s.compute_id): "fail", (TUNNEL, s.compute_id): "fail"})
    v = vm_scenario(nic_rules=[])
    expect(run(v.builder), {(SSH, v.compute_id): "fail"})


def test_null_references_mean_none() -> None:
    # `null` is how a serializer spells an absent reference: no NSG, no route table.
    s = aml_scenario(rules=[])
    s.subnet["properties"]["networkSecurityGroup"] = None
    s.subnet["properties"]["routeTable"] = None
    expect(run(s.builder), {(BATCH, s.compute_id): "pass", (REMOTE, s.compute_id): "not_applicable",
                            (TUNNEL, s.compute_id): "not_applicable"})


# -- HDInsight cluster whose roles could not be read --------------------------------------------------------


def _hdinsight(storage_default: str = "Deny") -> tuple[EstateBuilder, dict[str, Any], dict[str, Any], dict[str, Any]]:
    b = EstateBuilder()
    vnet = b.vnet()
    subnet = b.subnet(vnet, "hdi", "10.0.5.0/24", nsg=b.nsg("nsg-hdi", rules=[]),
                      service_endpoints=("Microsoft.Storage", "Microsoft.KeyVault"))
    storage = b.storage_account(default_action=storage_default, subnets=[subnet])
    ws = b.workspace(storage=storage, key_vault=b.key_vault(default_action="Deny", subnets=[subnet]))
    cluster = hdinsight_cluster(b, "hdi-spark", vnet, subnet)
    compute = add_workspace_compute(b, ws, "hdi", "HDInsight", {"address": "10.0.5.6", "sshPort": 22},
                                    resource_id=cluster["id"])
    b.network_usages()
    add_tags(b, "eastus")
    return b, cluster, compute, storage


@pytest.mark.parametrize("damage", ["no computeProfile", "roles not a list", "role not an object"])
def test_hdinsight_roles_unreadable_is_an_error(damage: str) -> None:
    # Whether the cluster sits in a subnet is read from its roles' virtualNetworkProfile; an
    # HDInsight GET always lists the roles. Unreadable roles are not "in no subnet".
    b, cluster, compute, storage = _hdinsight()
    profile = cluster["properties"]["computeProfile"]
    if damage == "no computeProfile":
        del cluster["properties"]["computeProfile"]
    elif damage == "roles not a list":
        profile["roles"] = {"headnode": profile["roles"][0]}
    else:
        profile["roles"].append("zookeepernode")
    # Unknown placement counts as experimentation compute (as for a cluster that could not be read):
    # the subnet the firewall must admit is then unknown, and "behind its firewall" still holds.
    expect(run(b), {(SSH, compute["id"]): "error", ("storage-vnet-rule", storage["id"]): "error",
                    ("storage-network-restricted", storage["id"]): "pass"})


def test_hdinsight_roles_guard() -> None:
    b, _, compute, storage = _hdinsight()
    expect(run(b), {(SSH, compute["id"]): "fail", ("storage-vnet-rule", storage["id"]): "pass",
                    ("storage-network-restricted", storage["id"]): "pass"})


def test_hdinsight_roles_readable_without_subnet_is_not_applicable() -> None:
    # Roles read, none in a virtual network: genuinely not in a customer VNet.
    b, cluster, compute, _ = _hdinsight()
    for role in cluster["properties"]["computeProfile"]["roles"]:
        del role["virtualNetworkProfile"]
    expect(run(b), {(SSH, compute["id"]): "not_applicable"})


# -- a compute whose kind or settings could not be read ---------------------------------------------------


def test_compute_without_compute_type_makes_workspace_verdicts_unknown() -> None:
    # A compute of unknown kind may be AKS (inference) or an experimentation compute: storage
    # applicability cannot be decided, and a compute check cannot name its subjects there.
    s = aml_scenario()
    unknown = add_workspace_compute(s.builder, s.workspace, "mystery", "AKS", {})
    del unknown["properties"]["computeType"]
    audit = run(s.builder)
    expect(audit, {("storage-network-restricted", s.storage["id"]): "error",
                   ("storage-inference-access", s.storage["id"]): "error"})
    assert "error" in _statuses(audit, "aks-vnet-location").values()


def test_compute_of_another_known_type_is_left_alone() -> None:
    # Guard: a compute type the catalog does not judge (a compute instance) changes nothing.
    s = aml_scenario()
    add_workspace_compute(s.builder, s.workspace, "ci", "ComputeInstance", {"vmSize": "STANDARD_DS3_V2"})
    expect(run(s.builder), {("storage-network-restricted", s.storage["id"]): "pass",
                            ("storage-inference-access", s.storage["id"]): "not_applicable"})


@pytest.mark.parametrize("damage", ["no properties.properties", "subnet not an object"])
def test_amlcompute_settings_unreadable_is_an_error(damage: str) -> None:
    # An AmlCompute whose settings (or subnet reference) cannot be read is not "a cluster that
    # names no subnet": whether it sits in a customer VNet is unknown.
    s = aml_scenario()
    inner = s.compute["properties"]
    if damage == "no properties.properties":
        del inner["properties"]
    else:
        inner["properties"]["subnet"] = s.subnet["id"]
    audit = run(s.builder)
    expect(audit, {(LOCATION, s.compute_id): "error", (BATCH, s.compute_id): "error",
                   (OUT_VNET, s.compute_id): "error", (OUT_NET, s.compute_id): "error",
                   (REMOTE, s.compute_id): "error", (TUNNEL, s.compute_id): "error",
                   ("storage-vnet-rule", s.storage["id"]): "error",
                   ("keyvault-vnet-rule", s.key_vault["id"]): "error",
                   # Unknown placement counts as experimentation; "behind its firewall" holds either way.
                   ("storage-network-restricted", s.storage["id"]): "pass",
                   ("keyvault-network-restricted", s.key_vault["id"]): "pass"})
    assert "error" in _statuses(audit, CAPACITY).values()
    assert "error" in _statuses(audit, "compute-vnet-locks").values()
    assert "error" in _statuses(audit, "compute-network-quota").values()


@pytest.mark.parametrize("value", [None, {"name": "compute"}])
def test_amlcompute_without_subnet_is_not_applicable(value: Any) -> None:
    # Guard: settings that say "no subnet" (null, or an object whose id is not set: the catalog's
    # "subnet.id is set" is the test; see tests/acceptance2/test_subjects.py) are not in a customer VNet.
    s = aml_scenario()
    s.compute["properties"]["properties"]["subnet"] = value
    expect(run(s.builder), {(LOCATION, s.compute_id): "not_applicable", (BATCH, s.compute_id): "not_applicable",
                            ("storage-vnet-rule", s.storage["id"]): "not_applicable"})


# -- collection errors the graph must connect to what they hide --------------------------------------------


def test_one_compute_unreadable_makes_the_workspace_compute_set_unknown() -> None:
    # The list was read, but one compute's own read failed: it may be AKS, so "only experimentation"
    # cannot be decided. Before the fix the storage account passed.
    s = aml_scenario()
    s.builder.collection_error(s.workspace["id"] + "/computes/gpu-cluster")
    audit = run(s.builder)
    expect(audit, {("storage-network-restricted", s.storage["id"]): "error",
                   ("storage-inference-access", s.storage["id"]): "error",
                   (CAPACITY, s.subnet["id"]): "error"})


@pytest.mark.parametrize("scope", [
    "{ws}/computes?api-version=2024-04-01",
    "https://127.0.0.1:8443{ws}/computes?api-version=2024-04-01&$skipToken=abc",
    "{ws_lower}/computes/",
])
def test_compute_list_error_in_any_spelling_makes_verdicts_unknown(scope: str) -> None:
    # Fine before the review: the ErrorIndex reduces URLs and query strings to the id path.
    s = aml_scenario()
    s.builder.collection_error(scope.format(ws=s.workspace["id"], ws_lower=s.workspace["id"].lower()))
    expect(run(s.builder), {("storage-network-restricted", s.storage["id"]): "error", (CAPACITY, s.subnet["id"]): "error"})


@pytest.mark.parametrize("scope", [
    "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/networkSecurityGroups",
    "/subscriptions/{sub}/providers/Microsoft.Network/networkSecurityGroups?api-version=2024-03-01",
    "https://management.azure.com/subscriptions/{sub}/providers/Microsoft.Network/networkSecurityGroups",
])
def test_missing_nsg_behind_a_failed_list_is_an_error_with_the_reason(scope: str) -> None:
    # A missing NSG is a gap whatever the error says; the list error only supplies the reason.
    s = aml_scenario()
    assert s.nsg is not None
    s.builder.drop(s.nsg)
    s.builder.collection_error(scope.format(sub=s.builder.subscription, rg=NET_RG))
    audit = run(s.builder)
    expect(audit, {(BATCH, s.compute_id): "error", (REMOTE, s.compute_id): "error"})
    assert "HTTP 403" in audit.finding(BATCH, s.compute_id).message


def test_lock_listing_error_as_url_is_an_error() -> None:
    s = aml_scenario()
    s.builder.collection_error(f"https://management.azure.com/subscriptions/{s.builder.subscription}/providers/"
                               "Microsoft.Authorization/locks?api-version=2020-05-01")
    expect(run(s.builder), {("compute-vnet-locks", s.vnet["id"]): "error"})


# -- lists inside resources --------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["securityRules missing", "securityRules not a list", "rule not an object",
                                    "properties missing"])
def test_nsg_rule_list_not_read_is_an_error(damage: str) -> None:
    # Fine before the review: the NSG engine reads the raw object and reports what it cannot read.
    s = aml_scenario()
    assert s.nsg is not None
    props = s.nsg["properties"]
    if damage == "securityRules missing":
        del props["securityRules"]
    elif damage == "securityRules not a list":
        props["securityRules"] = {"rule": props["securityRules"][0]}
    elif damage == "rule not an object":
        props["securityRules"].append("DenyAllInbound")
    else:
        del s.nsg["properties"]
    expect(run(s.builder), {(BATCH, s.compute_id): "error", (REMOTE, s.compute_id): "error"})


@pytest.mark.parametrize("damage", ["routes missing", "route not an object"])
def test_route_list_not_read_is_an_error(damage: str) -> None:
    s = aml_scenario()
    table = attach_route_table(s.builder, s.subnet, [])
    if damage == "routes missing":
        del table["properties"]["routes"]
    else:
        table["properties"]["routes"].append("to-firewall")
    expect(run(s.builder), {(TUNNEL, s.compute_id): "error"})


def test_route_list_guard() -> None:
    s = aml_scenario()
    attach_route_table(s.builder, s.subnet, [])
    expect(run(s.builder), {(TUNNEL, s.compute_id): "pass"})


@pytest.mark.parametrize("damage", ["networkProfile missing", "networkInterfaces missing", "nic not in snapshot"])
def test_attached_vm_nics_not_read_is_an_error(damage: str) -> None:
    s = vm_scenario()
    if damage == "networkProfile missing":
        del s.vm["properties"]["networkProfile"]
    elif damage == "networkInterfaces missing":
        del s.vm["properties"]["networkProfile"]["networkInterfaces"]
    else:
        s.builder.drop(s.nic)
    expect(run(s.builder), {(SSH, s.compute_id): "error", (OUT_VNET, s.compute_id): "error",
                            (OUT_NET, s.compute_id): "error"})


def test_subnet_without_ip_configurations_has_none_in_use() -> None:
    # ARM leaves `ipConfigurations` out of a subnet nothing is attached to: counted as none
    # (a network engineer reads the GET that way). A value of another shape is an error.
    s = aml_scenario(subnet_prefix="10.0.1.0/29", max_nodes=3)
    s.subnet["properties"].pop("ipConfigurations", None)
    expect(run(s.builder), {(CAPACITY, s.subnet["id"]): "pass"})
    s.subnet["properties"]["ipConfigurations"] = {"count": 2}
    expect(run(s.builder), {(CAPACITY, s.subnet["id"]): "error"})


# -- peerings: what `VirtualNetwork` (and so the public clients) means -------------------------------------


def _scoring_only_from(source: str) -> Any:
    s = aks_scenario(rules=[inbound_allow("AllowAzureMachineLearning", 100, "AzureMachineLearning", "443"),
                            inbound_allow("AllowScoringFromPeer", 110, source, "443")])
    return s


PEER_SPACE = "81.2.64.0/20"  # a globally routable range a peered VNet uses as its space


def test_peering_without_a_readable_remote_space_is_an_error() -> None:
    # The scoring port is open only to 81.2.64.0/20, the space of a connected peer. With the peer's
    # space unreadable that range would be counted a public client and the check would pass.
    s = _scoring_only_from(PEER_SPACE)
    peer(s.vnet, "vnet-hub", [PEER_SPACE])
    peering = s.vnet["properties"]["virtualNetworkPeerings"][0]["properties"]
    del peering["remoteAddressSpace"]
    del peering["remoteVirtualNetworkAddressSpace"]
    expect(run(s.builder), {("aks-scoring-inbound", s.compute_id): "error"})


def test_peering_guard() -> None:
    s = _scoring_only_from(PEER_SPACE)
    peer(s.vnet, "vnet-hub", [PEER_SPACE])
    expect(run(s.builder), {("aks-scoring-inbound", s.compute_id): "fail"})
    s = _scoring_only_from(PEER_SPACE)
    expect(run(s.builder), {("aks-scoring-inbound", s.compute_id): "pass"})


def test_peering_list_not_a_list_is_an_error() -> None:
    s = _scoring_only_from("10.1.0.0/16")
    s.vnet["properties"]["virtualNetworkPeerings"] = {"to-hub": {}}
    expect(run(s.builder), {("aks-scoring-inbound", s.compute_id): "error"})


def test_batch_guard_with_set_rules() -> None:
    # Helper guard: the scenario's NSG decides the Batch flow.
    s = aml_scenario()
    assert s.nsg is not None
    set_rules(s.nsg, [batch_allow_rule()])
    expect(run(s.builder), {(BATCH, s.compute_id): "pass"})


# -- AKS agent pools that cannot be read -------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["vnetSubnetID not a string", "pool not an object"])
def test_agent_pool_subnet_unreadable_is_not_no_customer_vnet(damage: str) -> None:
    # An attached cluster's subnet comes from its agent pool; a pool (or vnetSubnetID) that cannot be
    # read is not "a cluster in no customer VNet" (which makes the VNet rows not applicable).
    s = aks_scenario(via="cluster")
    pools = s.cluster["properties"]["agentPoolProfiles"]
    if damage == "vnetSubnetID not a string":
        pools[0]["vnetSubnetID"] = {"id": s.subnet["id"]}
    else:
        pools[0] = "nodepool1"
    expect(run(s.builder), {("aks-inbound-from-aml", s.compute_id): "error", ("aks-vnet-location", s.compute_id): "error",
                            ("aks-service-cidr", s.compute_id): "error", ("aks-scoring-inbound", s.compute_id): "error"})


def test_agent_pool_guard() -> None:
    s = aks_scenario(via="cluster")
    expect(run(s.builder), {("aks-inbound-from-aml", s.compute_id): "pass", ("aks-service-cidr", s.compute_id): "pass"})
    del s.cluster["properties"]["agentPoolProfiles"][0]["vnetSubnetID"]
    expect(run(s.builder), {("aks-inbound-from-aml", s.compute_id): "not_applicable",
                            ("aks-service-cidr", s.compute_id): "not_applicable"})
