"""The VirtualNetwork tag as Azure expands it, own networks and public clients, on realistic estates.

Catalog ("Words used below"): own networks = address space + peered VNets' spaces + on-premises spaces
of site-to-site (IPsec) connections of a gateway in the GatewaySubnet (or in a peer used through
useRemoteGateways); VirtualNetwork in rules = own networks + the prefixes of the subnet's routes;
Internet under routes judged both ways, the worse verdict reported with the reading that decided;
public clients = globally reachable addresses outside the own networks and the global
AzureMachineLearning and BatchNodeManagement tags.
"""

from __future__ import annotations

import pytest

from tests.acceptance.harness import expect, run
from tests.acceptance.scenarios import aks_scenario, aml_scenario, batch_allow_rule
from tests.acceptance2.kit import allow_in, allow_out, attach_route_table, deny_in, deny_out, peer
from tests.gateway_estates import BRANCH_PUBLIC, hub_and_spoke, vpn_in_vnet

REMOTE_LOGIN = "compute-remote-login"
BATCH = "compute-batch-inbound"
OUTBOUND_INTERNET = "compute-outbound-internet"
OUTBOUND_VNET = "compute-outbound-vnet"
TUNNEL = "compute-forced-tunneling"
SCORING = "aks-scoring-inbound"
AKS_INBOUND = "aks-inbound-from-aml"

WITH_ROUTES = "Internet outside VirtualNetwork with the route prefixes"
WITHOUT_ROUTES = "Internet outside VirtualNetwork without the route prefixes"
DENY_INTERNET_IN = deny_in("DenyInternetInbound", 4000, "Internet")
FORCED_TUNNEL = [("default", "0.0.0.0/0", "VirtualAppliance")]


# -- a 0.0.0.0/0 forced-tunnelling route ----------------------------------------------------------


def test_forced_tunnelling_route_opens_ssh_through_allow_vnet_inbound() -> None:
    s = aml_scenario(rules=[batch_allow_rule(), DENY_INTERNET_IN])
    attach_route_table(s.builder, s.subnet, FORCED_TUNNEL, name="rt-hub")
    audit = run(s.builder)
    finding = audit.finding(REMOTE_LOGIN, s.compute_id)
    assert finding.status == "fail"
    assert ("route default (0.0.0.0/0) in rt-hub puts every address in VirtualNetwork, so AllowVnetInBound (65000) "
            "admits SSH from 8.8.8.8") in finding.message
    # With Internet read without the route prefixes DenyInternetInbound stops SSH first: that reading passes.
    assert f"judged with {WITH_ROUTES} of rt-hub, the worse of the two readings" in finding.message
    reading = finding.evidence["internet_reading"]
    assert reading["decided_by"] == WITH_ROUTES
    assert reading["other_reading"]["status"] == "pass" and reading["other_reading"]["reading"] == WITHOUT_ROUTES
    assert reading["route_prefixes"] == ["0.0.0.0/0 (route default (0.0.0.0/0) in rt-hub)"]
    # Batch is allowed at 100 whatever Internet means; the routes send Batch to the appliance, which the
    # forced-tunnelling row fails on.
    expect(audit, {(BATCH, s.compute_id): "pass", (TUNNEL, s.compute_id): "fail"})
    assert "internet_reading" not in audit.finding(BATCH, s.compute_id).evidence  # one reading sufficed


def test_forced_tunnelling_route_without_internet_rules_needs_one_reading() -> None:
    # Only the default rules: AllowVnetInBound decides under both readings, so the second is not judged.
    s = aml_scenario(rules=[batch_allow_rule()])
    attach_route_table(s.builder, s.subnet, FORCED_TUNNEL, name="rt-hub")
    finding = run(s.builder).finding(REMOTE_LOGIN, s.compute_id)
    assert finding.status == "fail" and "internet_reading" not in finding.evidence
    assert "route default (0.0.0.0/0) in rt-hub puts every address in VirtualNetwork" in finding.message


def test_a_deny_of_ssh_above_allow_vnet_inbound_closes_it_again() -> None:
    s = aml_scenario(rules=[batch_allow_rule(), deny_in("DenySshInbound", 4000, "*", "22", "Tcp")])
    attach_route_table(s.builder, s.subnet, FORCED_TUNNEL, name="rt-hub")
    expect(run(s.builder), {(REMOTE_LOGIN, s.compute_id): "pass"})


def test_route_to_the_own_networks_changes_nothing() -> None:
    # 10.0.0.0/16 is the VNet's own space: VirtualNetwork and both readings of Internet stay as they were.
    s = aml_scenario(rules=[batch_allow_rule(), allow_in("AllowSshFromInternet", 300, "Internet", "22")])
    attach_route_table(s.builder, s.subnet, [("inspect-east-west", "10.0.0.0/16", "VirtualAppliance")])
    finding = run(s.builder).finding(REMOTE_LOGIN, s.compute_id)
    assert finding.status == "fail" and "internet_reading" not in finding.evidence
    assert "puts" not in finding.message


def test_service_tag_route_puts_the_tags_prefixes_in_virtual_network() -> None:
    # A route naming Storage.EastUS puts its prefixes in VirtualNetwork: a rule allowing SSH from
    # VirtualNetwork now admits Storage addresses, which are public clients.
    s = aml_scenario(rules=[batch_allow_rule(), allow_in("AllowSshFromVnet", 300, "VirtualNetwork", "22"),
                            deny_in("DenySsh", 310, "*", "22", "Tcp")])
    attach_route_table(s.builder, s.subnet, [("storage-via-firewall", "Storage.EastUS", "VirtualAppliance")])
    finding = run(s.builder).finding(REMOTE_LOGIN, s.compute_id)
    assert finding.status == "fail"
    assert "route storage-via-firewall (Storage.EastUS) in rt-ml puts" in finding.message
    assert "so AllowSshFromVnet (300) admits SSH from" in finding.message


# -- the worse of the two readings of Internet decides -------------------------------------------------


def test_reading_without_the_route_prefixes_decides_outbound_internet() -> None:
    # Storage.EastUS is routed through the firewall, so it is VirtualNetwork. Read with the route prefixes,
    # Internet no longer holds it and AllowVnetOutBound lets it out; read without them, DenyInternetOutbound
    # (4000) stops it before. The worse reading fails the check.
    rules = [batch_allow_rule(),
             allow_out("AllowAcrOutbound", 110, "AzureContainerRegistry.EastUS", "443", "Tcp"),
             allow_out("AllowAmlOutbound", 120, "AzureMachineLearning", "443", "Tcp"),
             deny_out("DenyInternetOutbound", 4000, "Internet")]
    s = aml_scenario(rules=rules)
    attach_route_table(s.builder, s.subnet, [("storage-via-firewall", "Storage.EastUS", "VirtualAppliance")])
    finding = run(s.builder).finding(OUTBOUND_INTERNET, s.compute_id)
    assert finding.status == "fail", finding.message
    assert "DenyInternetOutbound" in finding.message
    assert f"judged with {WITHOUT_ROUTES} of rt-ml, the worse of the two readings; with {WITH_ROUTES} the check passes" \
        in finding.message
    assert finding.evidence["internet_reading"]["decided_by"] == WITHOUT_ROUTES


def test_same_estate_without_the_route_passes_outbound_internet() -> None:
    s = aml_scenario(rules=[batch_allow_rule(), allow_out("AllowStorage", 100, "Storage.EastUS", "443", "Tcp"),
                            allow_out("AllowAcrOutbound", 110, "AzureContainerRegistry.EastUS", "443", "Tcp"),
                            allow_out("AllowAmlOutbound", 120, "AzureMachineLearning", "443", "Tcp"),
                            deny_out("DenyInternetOutbound", 4000, "Internet")])
    attach_route_table(s.builder, s.subnet, [("storage-via-firewall", "Storage.EastUS", "VirtualAppliance")])
    finding = run(s.builder).finding(OUTBOUND_INTERNET, s.compute_id)
    # Explicit allows decide before any rule naming Internet is reached: one reading suffices.
    assert finding.status == "pass" and "internet_reading" not in finding.evidence


def test_reading_with_the_route_prefixes_decides_scoring() -> None:
    # A forced-tunnelled AKS subnet allows the scoring port from Internet, then denies all. Read with the
    # route prefixes, Internet is empty (0.0.0.0/0 puts every address in VirtualNetwork) and no public
    # client gets in; read without them, every public client does.
    s = aks_scenario(rules=[allow_in("AllowAzureMachineLearning", 100, "AzureMachineLearning", "443"),
                            allow_in("AllowScoring", 110, "Internet", "443"), deny_in("DenyAllInbound", 4000, "*")])
    attach_route_table(s.builder, s.subnet, FORCED_TUNNEL, name="rt-aks")
    audit = run(s.builder)
    finding = audit.finding(SCORING, s.compute_id)
    assert finding.status == "fail", finding.message
    assert f"judged with {WITH_ROUTES} of rt-aks" in finding.message and "the check passes" in finding.message
    expect(audit, {(AKS_INBOUND, s.compute_id): "pass"})


def test_batch_behind_a_deny_on_internet_fails_under_one_reading() -> None:
    # DenyInternetInbound (100) above the Batch allow: read with the route prefixes Internet is empty and
    # Batch gets through; read without them it is denied. Worse: fail.
    s = aml_scenario(rules=[deny_in("DenyInternetInbound", 100, "Internet"), batch_allow_rule(200)])
    attach_route_table(s.builder, s.subnet, FORCED_TUNNEL)
    finding = run(s.builder).finding(BATCH, s.compute_id)
    assert finding.status == "fail"
    assert finding.evidence["internet_reading"]["decided_by"] == WITHOUT_ROUTES


# -- on-premises spaces: a VPN site's public block is not public ------------------------------------------


def _ssh_from_branch() -> list:
    return [batch_allow_rule(), allow_in("AllowSshFromBranch", 300, BRANCH_PUBLIC, "22")]


def test_vpn_site_public_block_is_not_a_public_client() -> None:
    s = aml_scenario(rules=_ssh_from_branch())
    vpn_in_vnet(s.builder, s.vnet)
    finding = run(s.builder).finding(REMOTE_LOGIN, s.compute_id)
    assert finding.status == "pass", finding.message
    assert ("TCP 22 is allowed from 84.17.32.0/24, but 84.17.32.0/24 is on-premises space of lng-branch, connected to "
            "vpngw-ml by cn-branch (IPsec, status Connected), so it is VirtualNetwork, not a public client") in finding.message
    sources = finding.evidence["public_clients"]["own_networks"]
    assert {"kind": "on-premises space", "prefixes": ["192.168.50.0/24", BRANCH_PUBLIC],
            "from": "on-premises space of lng-branch, connected to vpngw-ml by cn-branch (IPsec, status Connected)"} in sources


def test_without_the_connection_the_block_is_public() -> None:
    s = aml_scenario(rules=_ssh_from_branch())
    vpn = vpn_in_vnet(s.builder, s.vnet)
    s.builder.drop(vpn.connection)
    expect(run(s.builder), {(REMOTE_LOGIN, s.compute_id): "fail"})


@pytest.mark.parametrize("status", ["NotConnected", "Connecting", "Unknown"])
def test_the_connection_counts_whatever_its_status(status: str) -> None:
    s = aml_scenario(rules=_ssh_from_branch())
    vpn_in_vnet(s.builder, s.vnet, status=status)
    expect(run(s.builder), {(REMOTE_LOGIN, s.compute_id): "pass"})


def test_a_vnet_to_vnet_connection_adds_no_on_premises_space() -> None:
    s = aml_scenario(rules=_ssh_from_branch())
    vpn_in_vnet(s.builder, s.vnet, connection_type="Vnet2Vnet")
    finding = run(s.builder).finding(REMOTE_LOGIN, s.compute_id)
    assert finding.status == "fail"


def test_scoring_allowed_only_from_a_vpn_site_has_no_public_client() -> None:
    s = aks_scenario(rules=[allow_in("AllowAzureMachineLearning", 100, "AzureMachineLearning", "443"),
                            allow_in("AllowScoringFromBranch", 110, BRANCH_PUBLIC, "443")])
    vpn_in_vnet(s.builder, s.vnet, gateway_prefix="10.0.255.0/27")
    finding = run(s.builder).finding(SCORING, s.compute_id)
    assert finding.status == "fail"
    assert "84.17.32.0/24 is on-premises space of lng-branch" in finding.message and "not a public client" in finding.message


# -- peering with useRemoteGateways ------------------------------------------------------------------


@pytest.mark.parametrize(("use_remote_gateways", "status"), [(True, "pass"), (False, "fail")])
def test_hub_gateway_counts_through_use_remote_gateways(use_remote_gateways: bool, status: str) -> None:
    s = aml_scenario(rules=_ssh_from_branch())
    hub_and_spoke(s, use_remote_gateways=use_remote_gateways)
    finding = run(s.builder).finding(REMOTE_LOGIN, s.compute_id)
    assert finding.status == status, finding.message
    if use_remote_gateways:
        assert "connected to vpngw-hub by cn-branch (IPsec, status Connected), through peering to-vnet-hub " \
               "(useRemoteGateways)" in finding.message


def test_hub_not_in_the_snapshot_is_an_error() -> None:
    s = aml_scenario(rules=_ssh_from_branch())
    vpn = hub_and_spoke(s)
    assert vpn.hub is not None
    s.builder.drop(vpn.hub)
    expect(run(s.builder), {(REMOTE_LOGIN, s.compute_id): "error", (BATCH, s.compute_id): "error"})


def test_hub_peering_space_is_own_network() -> None:
    # The hub's own space is a peer's space: SSH from 10.1.0.0/16 is not public (and not global anyway),
    # while the hub's gateway also brings the branch.
    s = aml_scenario(rules=[batch_allow_rule(), allow_in("AllowSshFromHubAndBranch", 300, ["10.1.0.0/16", BRANCH_PUBLIC], "22")])
    hub_and_spoke(s)
    expect(run(s.builder), {(REMOTE_LOGIN, s.compute_id): "pass"})


# -- BGP: learned prefixes are not in Resource Manager ------------------------------------------------


def test_bgp_enabled_gateway_and_connection_say_learned_prefixes_are_not_counted() -> None:
    s = aml_scenario(rules=_ssh_from_branch())
    vpn_in_vnet(s.builder, s.vnet, enable_bgp=True)
    audit = run(s.builder)
    for check_id in (REMOTE_LOGIN, BATCH):
        finding = audit.finding(check_id, s.compute_id)
        notes = finding.evidence["own_networks_notes"]
        assert ("virtual network gateway vpngw-ml has BGP enabled: prefixes it learns over BGP are not in Resource "
                "Manager and are not counted") in notes
        assert "connection cn-branch has BGP enabled: prefixes it learns over BGP are not in Resource Manager and are " \
               "not counted" in notes
    assert audit.finding(REMOTE_LOGIN, s.compute_id).status == "pass"


def test_bgp_only_site_adds_nothing_and_says_so() -> None:
    s = aml_scenario(rules=_ssh_from_branch())
    vpn = vpn_in_vnet(s.builder, s.vnet, enable_bgp=True)
    del vpn.local["properties"]["localNetworkAddressSpace"]
    vpn.local["properties"]["bgpSettings"] = {"asn": 65050, "bgpPeeringAddress": "192.168.50.254", "peerWeight": 0}
    finding = run(s.builder).finding(REMOTE_LOGIN, s.compute_id)
    assert finding.status == "fail"  # 84.17.32.0/24 is not known to be the site's: public
    assert any("lists no address space (a BGP-only site)" in note for note in finding.evidence["own_networks_notes"])


# -- what cannot be read is an error, never a pass ---------------------------------------------------


def test_connections_that_could_not_be_listed_are_an_error() -> None:
    s = aml_scenario(rules=_ssh_from_branch())
    vpn = vpn_in_vnet(s.builder, s.vnet)
    s.builder.drop(vpn.connection)
    s.builder.collection_error(vpn.connections_path)
    audit = run(s.builder)
    finding = audit.finding(REMOTE_LOGIN, s.compute_id)
    assert finding.status == "error"
    assert "connection list of virtual network gateway" in finding.message and "HTTP 403" in finding.message
    expect(audit, {(BATCH, s.compute_id): "error", (OUTBOUND_VNET, s.compute_id): "error",
                   (OUTBOUND_INTERNET, s.compute_id): "error"})
    # Forced tunnelling reads routes, not the VirtualNetwork tag: still judged (no route table here).
    expect(audit, {(TUNNEL, s.compute_id): "not_applicable"})


@pytest.mark.parametrize("what", ["gateway", "local"])
def test_unreadable_gateway_or_site_is_an_error(what: str) -> None:
    s = aml_scenario(rules=_ssh_from_branch())
    vpn = vpn_in_vnet(s.builder, s.vnet)
    resource = vpn.gateway if what == "gateway" else vpn.local
    s.builder.drop(resource)
    s.builder.collection_error(resource["id"])
    expect(run(s.builder), {(REMOTE_LOGIN, s.compute_id): "error"})


def test_site_without_readable_address_space_is_an_error() -> None:
    s = aml_scenario(rules=_ssh_from_branch())
    vpn = vpn_in_vnet(s.builder, s.vnet)
    vpn.local["properties"]["localNetworkAddressSpace"] = {"addressPrefixes": "84.17.32.0/24"}
    expect(run(s.builder), {(REMOTE_LOGIN, s.compute_id): "error"})


def test_unreadable_route_table_makes_the_tag_unknown() -> None:
    s = aml_scenario(rules=[batch_allow_rule()])
    table = attach_route_table(s.builder, s.subnet, FORCED_TUNNEL)
    s.builder.drop(table)
    s.builder.collection_error(table["id"])
    expect(run(s.builder), {(REMOTE_LOGIN, s.compute_id): "error", (BATCH, s.compute_id): "error",
                            (TUNNEL, s.compute_id): "error"})


def test_route_naming_an_unknown_tag_makes_the_tag_unknown() -> None:
    s = aml_scenario(rules=[batch_allow_rule()])
    attach_route_table(s.builder, s.subnet, [("odd", "NoSuchTag.EastUS", "VirtualAppliance")])
    finding = run(s.builder).finding(REMOTE_LOGIN, s.compute_id)
    assert finding.status == "error" and "VirtualNetwork tag" in finding.message


def test_peer_with_public_space_is_own_network_for_scoring_too() -> None:
    s = aks_scenario(rules=[allow_in("AllowAzureMachineLearning", 100, "AzureMachineLearning", "443"),
                            allow_in("AllowScoringFromPeer", 110, "81.2.64.0/20", "443")])
    peer(s.vnet, "vnet-partner", ["81.2.64.0/20"])
    finding = run(s.builder).finding(SCORING, s.compute_id)
    assert finding.status == "fail"
    assert "81.2.64.0/20 is address space of a VNet peered with vnet-ml, so it is VirtualNetwork, not a public client" \
        in finding.message
