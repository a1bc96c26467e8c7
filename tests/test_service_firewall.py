"""amlaudit.auditor.service_firewall: the odd shapes the check tests do not reach."""

from __future__ import annotations

from amlaudit.auditor.graph.model import NetworkAcls, Subnet
from amlaudit.auditor.service_firewall import (
    KEY_VAULT_ENDPOINT_SERVICES,
    STORAGE_ENDPOINT_SERVICES,
    service_endpoint_for,
    virtual_network_rule_for,
)

SUBNET_ID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/a"


def _acls(rules: list[dict]) -> NetworkAcls:
    return NetworkAcls(True, "Deny", ["AzureServices"], "AzureServices", rules, [])


def _subnet(endpoints: object) -> Subnet:
    return Subnet(SUBNET_ID, "a", {"id": SUBNET_ID, "properties": {"serviceEndpoints": endpoints}})


def test_rule_without_readable_id_leaves_an_unnamed_subnet_unknown() -> None:
    assert virtual_network_rule_for(_acls([{"action": "Allow"}]), SUBNET_ID).answer == "unknown"
    assert virtual_network_rule_for(_acls([]), SUBNET_ID).answer == "no"


def test_a_rule_in_force_wins_over_a_stale_duplicate() -> None:
    rules = [{"id": SUBNET_ID, "state": "NetworkSourceDeleted"}, {"id": SUBNET_ID.upper(), "state": "Succeeded"}]
    assert virtual_network_rule_for(_acls(rules), SUBNET_ID).answer == "yes"
    assert virtual_network_rule_for(_acls(rules[:1]), SUBNET_ID).answer == "no"


def test_rule_for_another_subnet_does_not_admit() -> None:
    other = SUBNET_ID[:-1] + "b"
    assert virtual_network_rule_for(_acls([{"id": other}]), SUBNET_ID).answer == "no"


def test_unreadable_service_endpoints_are_unknown() -> None:
    assert service_endpoint_for(_subnet("Microsoft.Storage"), STORAGE_ENDPOINT_SERVICES).answer == "unknown"


def test_absent_service_endpoints_are_missing() -> None:
    subnet = Subnet(SUBNET_ID, "a", {"id": SUBNET_ID, "properties": {}})
    assert service_endpoint_for(subnet, STORAGE_ENDPOINT_SERVICES).answer == "no"


def test_endpoint_locations_are_not_consulted() -> None:
    scoped = _subnet([{"service": "Microsoft.Storage", "locations": ["eastus"]}])
    listless = _subnet([{"service": "microsoft.storage.global"}])
    assert service_endpoint_for(scoped, STORAGE_ENDPOINT_SERVICES).answer == "yes"
    assert service_endpoint_for(listless, STORAGE_ENDPOINT_SERVICES).answer == "yes"


def test_a_live_endpoint_wins_over_a_failed_one() -> None:
    endpoints = [{"service": "Microsoft.Storage", "provisioningState": "Failed"},
                 {"service": "Microsoft.Storage.Global", "provisioningState": "Succeeded"}]
    found = service_endpoint_for(_subnet(endpoints), STORAGE_ENDPOINT_SERVICES)
    assert found.answer == "yes" and found.entry == endpoints[1]
    assert service_endpoint_for(_subnet(endpoints[:1]), STORAGE_ENDPOINT_SERVICES).answer == "no"


def test_endpoint_for_another_service_does_not_count() -> None:
    storage_only = _subnet([{"service": "Microsoft.Storage"}])
    assert service_endpoint_for(storage_only, KEY_VAULT_ENDPOINT_SERVICES).answer == "no"
