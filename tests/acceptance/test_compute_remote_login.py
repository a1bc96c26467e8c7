"""compute-remote-login (subject: AmlCompute compute; applies when the compute subnet has an NSG):
TCP 22 is not allowed inbound from any public client, unless remoteLoginPortPublicAccess is Enabled.

Public clients: globally reachable addresses (Python ipaddress is_global) outside the VNet's own
networks and outside every prefix of the global AzureMachineLearning and BatchNodeManagement tags.
"""

from __future__ import annotations

import ipaddress

import pytest

from tests.acceptance.harness import NOT_APPLICABLE, expect, run
from tests.acceptance.scenarios import aml_scenario, batch_allow_rule, inbound_allow
from tests.acceptance.tagmath import covered, entry_ipv4
from tests.estates import SUB, security_rule

CHECK = "compute-remote-login"

SERVICE_ADDRESSES = entry_ipv4("BatchNodeManagement") + entry_ipv4("AzureMachineLearning")
BATCH_PREFIX = ipaddress.ip_network("20.42.6.224/27")
WIDER_THAN_BATCH = ipaddress.ip_network("20.42.6.0/24")
assert covered([BATCH_PREFIX], SERVICE_ADDRESSES)
assert not covered([WIDER_THAN_BATCH], SERVICE_ADDRESSES)
assert not covered([ipaddress.ip_network("84.17.32.7/32")], SERVICE_ADDRESSES)


def ssh_allow(source: str | list[str], protocol: str = "Tcp", ports: str = "22", destination: str = "*") -> dict:
    return inbound_allow("AllowSsh", 100, source, ports, protocol, destination)


CASES = {
    "default-rules": ([], "pass"),
    "from-Internet": ([ssh_allow("Internet")], "fail"),
    "from-star": ([ssh_allow("*")], "fail"),
    "from-one-public-ip": ([ssh_allow("84.17.32.7/32")], "fail"),
    "from-BatchNodeManagement": ([ssh_allow("BatchNodeManagement")], "pass"),
    "from-AzureMachineLearning": ([ssh_allow("AzureMachineLearning")], "pass"),
    "from-regional-batch-tag": ([ssh_allow("BatchNodeManagement.EastUS")], "pass"),
    "from-a-batch-prefix": ([ssh_allow(str(BATCH_PREFIX))], "pass"),
    "from-a-range-wider-than-a-batch-prefix": ([ssh_allow(str(WIDER_THAN_BATCH))], "fail"),
    "from-VirtualNetwork": ([ssh_allow("VirtualNetwork")], "pass"),
    "from-AzureLoadBalancer": ([ssh_allow("AzureLoadBalancer")], "pass"),
    "udp-22-from-Internet": ([ssh_allow("Internet", protocol="Udp")], "pass"),
    "range-20-25-from-Internet": ([ssh_allow("Internet", ports="20-25")], "fail"),
    "any-protocol-from-Internet": ([ssh_allow("Internet", protocol="*")], "fail"),
    "to-another-subnet": ([ssh_allow("Internet", destination="10.0.2.0/24")], "pass"),
    "to-one-node-address": ([ssh_allow("Internet", destination="10.0.1.10")], "fail"),
    "denied-above-the-allow": ([security_rule("DenySsh", 90, "Inbound", "Deny", "Tcp", "*", "*", "22"),
                                ssh_allow("Internet")], "pass"),
    # Catalog: public clients are globally reachable addresses (ipaddress is_global), so private,
    # shared (RFC 6598) and documentation ranges outside the VNet are not public clients.
    "from-private-range-outside-the-vnet": ([ssh_allow("192.168.0.0/16")], "pass"),
    "from-10-slash-8": ([ssh_allow("10.0.0.0/8")], "pass"),
    "from-shared-address-space": ([ssh_allow("100.64.0.0/10")], "pass"),
    "from-documentation-range": ([ssh_allow("192.0.2.0/24")], "pass"),
    "from-link-local": ([ssh_allow("169.254.0.0/16")], "pass"),
    "from-a-private-range-plus-one-public-ip": ([ssh_allow(["10.0.0.0/8", "8.8.8.8"])], "fail"),
    "from-the-whole-ipv4-space-minus-nothing": ([ssh_allow("0.0.0.0/0")], "fail"),
}


@pytest.mark.parametrize(("rules", "status"), list(CASES.values()), ids=list(CASES))
def test_remote_login_rules(rules: list[dict], status: str) -> None:
    s = aml_scenario(rules=[batch_allow_rule(200), *rules])
    expect(run(s.builder), {(CHECK, s.compute_id): status})


@pytest.mark.parametrize(("setting", "status"), [("Enabled", "pass"), ("Disabled", "fail"), ("NotSpecified", "fail")])
def test_public_access_setting_with_ssh_open(setting: str, status: str) -> None:
    s = aml_scenario(rules=[batch_allow_rule(200), ssh_allow("Internet")], remote_login=setting)
    expect(run(s.builder), {(CHECK, s.compute_id): status})


@pytest.mark.parametrize("setting", ["Enabled", "Disabled", "NotSpecified"])
def test_public_access_setting_with_ssh_closed(setting: str) -> None:
    s = aml_scenario(remote_login=setting)
    expect(run(s.builder), {(CHECK, s.compute_id): "pass"})


def test_subnet_without_nsg_is_not_applicable() -> None:
    s = aml_scenario(with_nsg=False)
    expect(run(s.builder), {(CHECK, s.compute_id): NOT_APPLICABLE})


@pytest.mark.parametrize("how", ["absent", "403"])
def test_nsg_unreadable_is_an_error(how: str) -> None:
    s = aml_scenario()
    assert s.nsg is not None
    s.builder.drop(s.nsg)
    if how == "403":
        s.builder.collection_error(s.nsg["id"])
    expect(run(s.builder), {(CHECK, s.compute_id): "error"})


def test_service_tags_absent_when_the_answer_depends_on_them_is_an_error() -> None:
    # Whether 20.42.6.224/27 is a public client depends on the Batch tag's prefixes.
    s = aml_scenario(rules=[batch_allow_rule(200), ssh_allow(str(BATCH_PREFIX))], tags=None)
    s.builder.service_tags = None
    expect(run(s.builder), {(CHECK, s.compute_id): "error"})


def _asg_rule(rule: dict) -> dict:
    """Point a rule's destination at an application security group instead of prefixes."""
    rule["properties"].pop("destinationAddressPrefix")
    rule["properties"]["destinationApplicationSecurityGroups"] = [
        {"id": f"/subscriptions/{SUB}/resourceGroups/rg-network/providers/Microsoft.Network/applicationSecurityGroups/asg-nodes"}]
    return rule


def test_application_security_group_allow_is_assumed_to_match() -> None:
    # Worst case for this check: the allow may reach the nodes.
    s = aml_scenario(rules=[batch_allow_rule(), _asg_rule(inbound_allow("AllowSshAsg", 120, "Internet", "22", destination=""))])
    expect(run(s.builder), {(CHECK, s.compute_id): "fail"})


def test_application_security_group_deny_is_assumed_not_to_match() -> None:
    deny = _asg_rule(security_rule("DenySshAsg", 110, "Inbound", "Deny", "*", "*", "", "22"))
    s = aml_scenario(rules=[batch_allow_rule(), deny, inbound_allow("AllowSsh", 120, "Internet", "22")])
    expect(run(s.builder), {(CHECK, s.compute_id): "fail"})


def test_enabled_public_access_needs_no_nsg_data() -> None:
    # "unless remoteLoginPortPublicAccess is Enabled": decided by the setting alone.
    s = aml_scenario(remote_login="Enabled")
    assert s.nsg is not None
    s.builder.drop(s.nsg)
    expect(run(s.builder), {(CHECK, s.compute_id): "pass"})


def test_service_tags_absent_when_nothing_admits_ssh_from_outside() -> None:
    # Only the default rules touch port 22: AllowVnetInBound (VirtualNetwork), AllowAzureLoadBalancerInBound
    # (168.63.129.16), DenyAllInBound. No Internet address reaches TCP 22 whatever the tags hold.
    s = aml_scenario(rules=[inbound_allow("AllowBatchPorts", 100, "*", ["29876", "29877"])], tags=None)
    s.builder.service_tags = None
    expect(run(s.builder), {(CHECK, s.compute_id): "pass"})


def test_public_access_setting_absent_is_not_enabled() -> None:
    s = aml_scenario(rules=[batch_allow_rule(200), ssh_allow("Internet")])
    del s.compute["properties"]["properties"]["remoteLoginPortPublicAccess"]
    expect(run(s.builder), {(CHECK, s.compute_id): "fail"})
