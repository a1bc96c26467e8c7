"""keyvault-trusted-services: a vault that denies by default lets trusted Microsoft services through."""

from __future__ import annotations

import json

from amlaudit.auditor.check import Verdict
from amlaudit.checks.keyvault import keyvault_trusted_services
from tests.estates import ARM_EXAMPLES, EstateBuilder


def _verdict(b: EstateBuilder) -> Verdict:
    verdicts = keyvault_trusted_services(b.estate())
    assert len(verdicts) == 1, verdicts
    return verdicts[0]


def test_pass_when_deny_and_bypass_azure_services(builder: EstateBuilder) -> None:
    kv = builder.key_vault(default_action="Deny", bypass="AzureServices")
    builder.workspace(key_vault=kv)
    v = _verdict(builder)
    assert v.status == "pass" and v.resource_id == kv["id"] and v.evidence["bypass"] == "AzureServices"


def test_fail_when_deny_and_bypass_none(builder: EstateBuilder) -> None:
    kv = builder.key_vault(default_action="Deny", bypass="None")
    builder.workspace(key_vault=kv)
    v = _verdict(builder)
    assert v.status == "fail" and v.evidence["bypass"] == "None" and "blocked" in v.message


def test_bypass_compares_case_insensitively(builder: EstateBuilder) -> None:
    kv = builder.key_vault(default_action="deny", bypass="azureservices")
    builder.workspace(key_vault=kv)
    assert _verdict(builder).status == "pass"


def test_not_applicable_when_default_action_allow(builder: EstateBuilder) -> None:
    kv = builder.key_vault(default_action="Allow", bypass="None")
    builder.workspace(key_vault=kv)
    assert _verdict(builder).status == "not_applicable"


def test_not_applicable_when_firewall_never_configured(builder: EstateBuilder) -> None:
    """The REST spec's plain vault GET carries no networkAcls: all networks allowed."""
    sample = json.loads((ARM_EXAMPLES / "keyvault-2023-07-01-getVault.json").read_text())
    vault = sample["responses"]["200"]["body"]
    assert "networkAcls" not in vault["properties"]
    builder.resources.append(vault)
    builder.workspace(key_vault=vault)
    v = _verdict(builder)
    assert v.status == "not_applicable" and v.resource_id == vault["id"]
    assert v.evidence["network_acls_present"] is False


def test_error_when_bypass_missing(builder: EstateBuilder) -> None:
    kv = builder.key_vault(default_action="Deny")
    del kv["properties"]["networkAcls"]["bypass"]
    builder.workspace(key_vault=kv)
    assert _verdict(builder).status == "error"


def test_fail_when_bypass_is_anything_but_azure_services(builder: EstateBuilder) -> None:
    kv = builder.key_vault(default_action="Deny", bypass="Logging")
    builder.workspace(key_vault=kv)
    v = _verdict(builder)
    assert v.status == "fail" and "Logging" in v.message


def test_error_when_vault_unreadable(builder: EstateBuilder) -> None:
    kv = builder.key_vault(default_action="Deny")
    builder.workspace(key_vault=kv)
    builder.drop(kv)
    builder.collection_error(kv["id"], status=403)
    v = _verdict(builder)
    assert v.status == "error" and v.resource_id == kv["id"] and "403" in v.message


def test_error_when_default_action_unrecognised(builder: EstateBuilder) -> None:
    kv = builder.key_vault(default_action="Deny")
    kv["properties"]["networkAcls"]["defaultAction"] = None
    builder.workspace(key_vault=kv)
    assert _verdict(builder).status == "error"


def test_shared_vault_is_one_subject(builder: EstateBuilder) -> None:
    kv = builder.key_vault(default_action="Deny", bypass="None")
    builder.workspace("mlw-a", key_vault=kv)
    builder.workspace("mlw-b", key_vault=kv)
    assert len(keyvault_trusted_services(builder.estate())) == 1


def test_public_network_access_does_not_change_the_verdict(builder: EstateBuilder) -> None:
    kv = builder.key_vault(default_action="Deny", bypass="None")
    kv["properties"]["publicNetworkAccess"] = "Disabled"
    builder.workspace(key_vault=kv)
    v = _verdict(builder)
    assert v.status == "fail" and v.evidence["public_network_access"] == "Disabled"
    kv["properties"]["networkAcls"]["defaultAction"] = "Allow"
    assert _verdict(builder).status == "not_applicable"
