"""The catalog's closing paragraph: every finding says why and carries evidence a reviewer can follow
without the portal — the NSG and rule (name, priority) that decided, the prefixes or ports left out,
the numbers compared, the route that matched.

Each case asserts that the deciding facts appear in the finding's message or evidence (as text), not
how they are laid out.
"""

from __future__ import annotations

import json

import pytest

from tests.acceptance.harness import Audit, run
from tests.acceptance.scenarios import aks_scenario, aml_scenario, batch_allow_rule, vm_scenario
from tests.acceptance2.kit import allow_in, attach_route_table, deny_in, deny_out, ipv4, replace_rules, tag


def told(audit: Audit, check_id: str, resource_id: str, status: str) -> str:
    finding = audit.finding(check_id, resource_id)
    assert finding.status == status, f"{check_id}: {finding.status}: {finding.message}"
    assert finding.message.strip()
    return finding.message + "\n" + json.dumps(finding.evidence, default=str)


def test_batch_inbound_names_the_deciding_deny() -> None:
    s = aml_scenario(rules=[deny_in("DenyBatchHighPort", 137, "BatchNodeManagement", "29877", "Tcp"), batch_allow_rule(140)])
    text = told(run(s.builder), "compute-batch-inbound", s.compute_id, "fail")
    assert "DenyBatchHighPort" in text and "137" in text and "29877" in text and "nsg-compute" in text


def test_batch_inbound_names_the_prefixes_left_out() -> None:
    batch = ipv4(tag("BatchNodeManagement.EastUS"))
    left_out = str(batch[-1])
    s = aml_scenario(rules=[allow_in("AllowSomeBatch", 100, [str(n) for n in batch[:-1]], ["29876", "29877"])])
    text = told(run(s.builder), "compute-batch-inbound", s.compute_id, "fail")
    assert left_out.split("/")[0] in text


def test_forced_tunneling_names_the_route() -> None:
    s = aml_scenario()
    attach_route_table(s.builder, s.subnet, [("to-hub-firewall", "0.0.0.0/0", "VirtualAppliance")], name="rt-spoke")
    text = told(run(s.builder), "compute-forced-tunneling", s.compute_id, "fail")
    assert "to-hub-firewall" in text and "0.0.0.0/0" in text and "VirtualAppliance" in text


def test_capacity_shows_the_numbers() -> None:
    s = aml_scenario(subnet_prefix="10.0.1.0/28", max_nodes=14, current_nodes=2)   # 16 - 5 = 11 free, 12 wanted
    text = told(run(s.builder), "compute-subnet-capacity", s.subnet["id"], "fail")
    assert "11" in text and "12" in text


def test_quota_shows_the_usage_and_numbers() -> None:
    s = aml_scenario()
    for usage in s.builder.usages[0]["value"]:
        if usage["name"]["value"] == "LoadBalancers":
            usage["currentValue"], usage["limit"] = 777.0, 777.0
    text = told(run(s.builder), "compute-network-quota", s.quota_id, "fail")
    assert "LoadBalancers" in text and "777" in text


def test_outbound_internet_names_the_deny_and_the_tag() -> None:
    s = aml_scenario(rules=[batch_allow_rule(), deny_out("BlockRegistry", 321, "AzureContainerRegistry.EastUS", "443", "Tcp")])
    text = told(run(s.builder), "compute-outbound-internet", s.compute_id, "fail")
    assert "BlockRegistry" in text and "321" in text and "AzureContainerRegistry" in text


def test_vm_ssh_names_the_nic_nsg_rule() -> None:
    s = vm_scenario()
    assert s.nic_nsg is not None
    replace_rules(s.nic_nsg, [deny_in("NoSshFromAzure", 222, "AzureMachineLearning", "22", "Tcp")])
    text = told(run(s.builder), "attached-compute-ssh", s.compute_id, "fail")
    assert "NoSshFromAzure" in text and "222" in text and "nsg-vm-nic" in text


@pytest.mark.parametrize("deciding", ["DenyAllInBound"])
def test_default_rule_is_named_when_it_decides(deciding: str) -> None:
    s = aks_scenario(rules=[])
    text = told(run(s.builder), "aks-inbound-from-aml", s.compute_id, "fail")
    assert deciding in text and "65500" in text


def test_remote_login_names_the_opening_rule() -> None:
    s = aml_scenario(rules=[batch_allow_rule(), allow_in("OpsSsh", 333, "84.17.32.0/24", "22")])
    text = told(run(s.builder), "compute-remote-login", s.compute_id, "fail")
    assert "OpsSsh" in text and "333" in text
