"""Live collection of what a VNet's own networks need: gateways, their connections, the sites they reach.

The collector finds the virtual network gateways in a compute VNet's GatewaySubnet (and in a peer it
uses through `useRemoteGateways`), reads each (GET), lists its connections
(`{gateway}/connections`, wherever they live) and reads the local network gateway of every
site-to-site one. The oracle is the offline audit of the estate itself; a connection's pre-shared key,
which a GET may echo, never reaches the snapshot.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from amlaudit.auditor.collect import CollectOptions, collect
from amlaudit.auditor.findings import AuditResult
from amlaudit.auditor.ids import id_key
from amlaudit.auditor.pipeline import audit_snapshot
from amlaudit.auditor.snapshot import parse_snapshot
from tests.acceptance.scenarios import AmlScenario, aml_scenario, batch_allow_rule
from tests.acceptance2.kit import allow_in, attach_route_table, deny_in
from tests.gateway_estates import BRANCH_PUBLIC, Vpn, hub_and_spoke, vpn_in_vnet
from tests.standin import StandIn
from tests.standin.fixtures import StartStandIn, arm_standin, standin_ca  # noqa: F401 - fixtures

FAST = {"max_retries": 2, "retry_backoff": 0.0}
SHARED_KEY = "Abc123-preshared"
REMOTE_LOGIN = "compute-remote-login"


def _estate() -> tuple[AmlScenario, Vpn, dict[str, Any]]:
    """Hub and spoke: the spoke's compute subnet allows SSH from the branch's public block and is forced-tunnelled;
    the connection lives in another resource group than its gateway."""
    s = aml_scenario(rules=[batch_allow_rule(), allow_in("AllowSshFromBranch", 300, BRANCH_PUBLIC, "22"),
                            deny_in("DenyInternetInbound", 4000, "Internet")])
    vpn = hub_and_spoke(s, enable_bgp=True)
    vpn.connection["id"] = vpn.connection["id"].replace("/resourceGroups/rg-network/", "/resourceGroups/rg-connectivity/")
    attach_route_table(s.builder, s.subnet, [("default", "0.0.0.0/0", "VirtualAppliance")], name="rt-spoke")
    return s, vpn, s.builder.document()


def _collect(standin: StandIn) -> dict[str, Any]:
    return collect(CollectOptions(arm_endpoint=standin.url, **FAST))


def _audit(document: dict[str, Any]) -> AuditResult:
    ordered = {**document, "resources": sorted(document["resources"], key=lambda r: id_key(r["id"]))}
    return audit_snapshot(parse_snapshot(ordered, "estate"))


def _comparable(result: AuditResult) -> dict[str, Any]:
    return {"findings": {(f.check_id, id_key(f.resource_id)): (f.status, f.message) for f in result.findings},
            "gaps": result.coverage_gaps, "summary": result.summary,
            "errors": sorted(result.errors, key=lambda e: (e["scope"].lower(), e.get("operation") or ""))}


def _without_shared_key(document: dict[str, Any]) -> dict[str, Any]:
    stripped = copy.deepcopy(document)
    for resource in stripped["resources"]:
        if resource["type"] == "Microsoft.Network/connections":
            resource["properties"].pop("sharedKey", None)
    return stripped


def test_gateways_connections_and_sites_are_collected(arm_standin: StartStandIn) -> None:
    s, vpn, document = _estate()
    standin = arm_standin(document)

    snapshot = _collect(standin)

    collected = {r["id"].lower(): r for r in snapshot["resources"]}
    for resource in (vpn.gateway, vpn.local, vpn.hub):
        assert collected[resource["id"].lower()] == resource  # as served
    connection = collected[vpn.connection["id"].lower()]
    assert "sharedKey" not in connection["properties"]
    assert {k: v for k, v in vpn.connection["properties"].items() if k != "sharedKey"} == connection["properties"]
    assert snapshot["redacted"] == [{"id": vpn.connection["id"], "path": "properties.sharedKey"}]
    assert SHARED_KEY not in json.dumps(snapshot)
    assert snapshot["errors"] == []
    # The gateway read by id, its connections listed under it, the site read by id; GETs only.
    paths = [r.path.lower() for r in standin.requests]
    for path in (vpn.gateway["id"], vpn.connections_path, vpn.local["id"]):
        assert paths.count(path.lower()) == 1
    assert {r.method for r in standin.requests} == {"GET"}
    assert all(r.query.get("api-version") == ["2024-03-01"] for r in standin.requests
               if "virtualnetworkgateways" in r.path.lower() or "localnetworkgateways" in r.path.lower())


def test_live_scan_audits_like_the_estate(arm_standin: StartStandIn) -> None:
    s, vpn, document = _estate()
    expected = _audit(_without_shared_key(document))
    finding = next(f for f in expected.findings if f.check_id == REMOTE_LOGIN)
    # Worth comparing: the branch's public block is an own network, the 0.0.0.0/0 route opens SSH anyway.
    assert finding.status == "fail" and "route default (0.0.0.0/0) in rt-spoke puts every address" in finding.message
    # Read without the route prefixes, DenyInternetInbound would stop every public client: the worse reading decides.
    assert finding.evidence["internet_reading"]["decided_by"] == "Internet outside VirtualNetwork with the route prefixes"
    assert finding.evidence["internet_reading"]["other_reading"]["status"] == "pass"
    assert any("vpngw-hub has BGP enabled" in note for note in finding.evidence["own_networks_notes"])
    standin = arm_standin(document, page_size=1)

    assert _comparable(_audit(_collect(standin))) == _comparable(expected)


def test_without_the_route_the_vpn_site_is_no_public_client_live(arm_standin: StartStandIn) -> None:
    s, vpn, document = _estate()
    document["resources"] = [r for r in document["resources"] if r["type"] != "Microsoft.Network/routeTables"]
    for subnet in next(r for r in document["resources"] if r["id"] == s.vnet["id"])["properties"]["subnets"]:
        subnet["properties"].pop("routeTable", None)
    standin = arm_standin(document)

    live = _audit(_collect(standin))

    finding = next(f for f in live.findings if f.check_id == REMOTE_LOGIN)
    assert finding.status == "pass"
    assert "84.17.32.0/24 is on-premises space of lng-branch, connected to vpngw-hub by cn-branch" in finding.message


def test_gateway_in_the_compute_vnet_is_found_in_its_gateway_subnet(arm_standin: StartStandIn) -> None:
    s = aml_scenario(rules=[batch_allow_rule(), allow_in("AllowSshFromBranch", 300, BRANCH_PUBLIC, "22")])
    vpn = vpn_in_vnet(s.builder, s.vnet)
    document = s.builder.document()
    standin = arm_standin(document)

    snapshot = _collect(standin)

    assert {vpn.gateway["id"].lower(), vpn.local["id"].lower(), vpn.connection["id"].lower()} <= \
        {r["id"].lower() for r in snapshot["resources"]}
    live = _audit(snapshot)
    assert _comparable(live) == _comparable(_audit(_without_shared_key(document)))
    assert next(f for f in live.findings if f.check_id == REMOTE_LOGIN).status == "pass"


@pytest.mark.parametrize("what", ["connections", "local"])
def test_denied_connection_list_or_site_errors_the_flow_checks(arm_standin: StartStandIn, what: str) -> None:
    s, vpn, document = _estate()
    path = vpn.connections_path if what == "connections" else vpn.local["id"]
    standin = arm_standin(document)
    standin.fail(f"^{re.escape(path)}$", 403, code="AuthorizationFailed", message="The client does not have authorization.")

    snapshot = _collect(standin)

    assert [(e["scope"], e["status"]) for e in snapshot["errors"]] == [(path, 403)]
    live = _audit(snapshot)
    statuses = {f.check_id: f.status for f in live.findings if id_key(f.resource_id) == id_key(s.compute_id)}
    for check_id in (REMOTE_LOGIN, "compute-batch-inbound", "compute-outbound-vnet", "compute-outbound-internet"):
        assert statuses[check_id] == "error", check_id
    assert statuses["compute-forced-tunneling"] == "fail"  # routes do not need the own networks
    # The same as auditing the estate offline with that error.
    offline = _without_shared_key(document)
    if what == "connections":
        offline["resources"] = [r for r in offline["resources"] if r["type"] != "Microsoft.Network/connections"]
    else:
        offline["resources"] = [r for r in offline["resources"] if id_key(r["id"]) != id_key(path)]
    offline["errors"] = snapshot["errors"]
    assert _comparable(live) == _comparable(_audit(offline))
