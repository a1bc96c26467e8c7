from amlaudit.checks.storage import storage_trusted_services
from tests.estates import EstateBuilder


def _verdicts(b: EstateBuilder):
    return {v.resource_id: v for v in storage_trusted_services(b.estate())}


def test_pass_when_deny_and_bypass_includes_azure_services(builder: EstateBuilder) -> None:
    st = builder.storage_account(default_action="Deny", bypass="Logging, Metrics, AzureServices")
    builder.workspace(storage=st, key_vault=builder.key_vault())
    (v,) = _verdicts(builder).values()
    assert v.status == "pass" and v.resource_id == st["id"]
    assert v.evidence["bypass"] == "Logging, Metrics, AzureServices"


def test_fail_when_deny_without_bypass(builder: EstateBuilder) -> None:
    st = builder.storage_account(default_action="Deny", bypass="None")
    builder.workspace(storage=st)
    (v,) = _verdicts(builder).values()
    assert v.status == "fail"
    assert "blocked" in v.message


def test_not_applicable_when_default_allow(builder: EstateBuilder) -> None:
    st = builder.storage_account(default_action="Allow", bypass="None")
    builder.workspace(storage=st)
    (v,) = _verdicts(builder).values()
    assert v.status == "not_applicable"


def test_error_when_account_could_not_be_read(builder: EstateBuilder) -> None:
    st = builder.storage_account(default_action="Deny", bypass="AzureServices")
    builder.workspace(storage=st)
    builder.drop(st)
    builder.collection_error(st["id"], status=403)
    (v,) = _verdicts(builder).values()
    assert v.status == "error"
    assert "403" in v.message and v.resource_id == st["id"]


def test_error_when_default_action_unrecognised(builder: EstateBuilder) -> None:
    st = builder.storage_account(default_action="Deny")
    st["properties"]["networkAcls"]["defaultAction"] = None
    builder.workspace(storage=st)
    (v,) = _verdicts(builder).values()
    assert v.status == "error"


def test_shared_account_is_one_subject(builder: EstateBuilder) -> None:
    st = builder.storage_account(default_action="Deny", bypass="None")
    builder.workspace("mlw-a", storage=st)
    builder.workspace("mlw-b", storage=st)
    assert len(storage_trusted_services(builder.estate())) == 1


def test_public_network_access_does_not_change_the_verdict(builder: EstateBuilder) -> None:
    st = builder.storage_account(default_action="Deny", bypass="AzureServices")
    st["properties"]["publicNetworkAccess"] = "Disabled"
    builder.workspace(storage=st)
    (v,) = _verdicts(builder).values()
    assert v.status == "pass" and v.evidence["public_network_access"] == "Disabled"
    st["properties"]["networkAcls"]["defaultAction"] = "Allow"
    (v,) = _verdicts(builder).values()
    assert v.status == "not_applicable"
