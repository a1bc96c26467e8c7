"""Live collection against the Resource Manager stand-in: what is read, and what failures leave behind."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import trustme
from azure.core.pipeline.transport import RequestsTransport

from amlaudit.auditor.collect import CollectError, CollectOptions, collect
from amlaudit.auditor.snapshot import parse_snapshot
from tests.standin import StandIn
from tests.standin.fixtures import StartStandIn, arm_standin, standin_ca  # noqa: F401 - fixtures
from tests.standin.sample_estate import SUB_A, SUB_B, SampleEstate, sample_estate

FAST = {"max_retries": 2, "retry_backoff": 0.0}
UNKNOWN_SUB = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def estate() -> SampleEstate:
    return sample_estate()


def _collect(standin: StandIn, **options: Any) -> dict[str, Any]:
    return collect(CollectOptions(arm_endpoint=standin.url, **{**FAST, **options}))


def _by_id(snapshot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["id"].lower(): r for r in snapshot["resources"]}


def _errors_at(snapshot: dict[str, Any], scope: str) -> list[dict[str, Any]]:
    return [e for e in snapshot["errors"] if e["scope"].lower() == scope.lower()]


def _list_path(subscription: str, kind: str) -> str:
    return f"/subscriptions/{subscription}/providers/{kind}"


# -- what a clean run collects ------------------------------------------------------------------


def test_collects_the_estate_as_served(arm_standin: StartStandIn, estate: SampleEstate) -> None:
    standin = arm_standin(estate.document)
    snapshot = _collect(standin)

    # Every resource reachable from a workspace, plus everything listed alongside (vnet-spare),
    # and nothing from a network list nobody needed (subscription B's VNets), bodies unchanged.
    assert _by_id(snapshot) == estate.resources_except("vnet_b")
    assert snapshot["subscriptions"] == sorted(standin.routes.subscriptions, key=lambda s: s["subscriptionId"])
    assert snapshot["usages"] == [u for u in estate.document["usages"] if u["location"] == "eastus"]
    assert snapshot["service_tags"] == [t for t in estate.document["service_tags"] if t["location"] == "eastus"]
    # Locks covering vnet-ml: on it, on its resource group, on its subscription (not rg-ml-dev's).
    assert sorted(lock["name"] for lock in snapshot["locks"]) == ["network-readonly", "subscription-keep", "vnet-keep"]
    assert snapshot["errors"] == [] and snapshot["redacted"] == []
    assert snapshot["arm_endpoint"] == standin.url
    parse_snapshot(snapshot, "collected")  # the snapshot module accepts what the collector writes


def test_paging_at_page_size_one_collects_the_same(arm_standin: StartStandIn, estate: SampleEstate) -> None:
    standin = arm_standin(estate.document, page_size=1)
    snapshot = _collect(standin)
    assert _by_id(snapshot) == estate.resources_except("vnet_b")
    assert snapshot["usages"][0]["value"] == estate.document["usages"][0]["value"]
    # Three computes in mlw-prod: three pages of its compute list.
    assert standin.count("GET", estate.ids["prod"] + "/computes$") == 3


def test_each_document_is_read_once(arm_standin: StartStandIn, estate: SampleEstate) -> None:
    standin = arm_standin(estate.document)
    _collect(standin, concurrency=4)
    reads = Counter(r.path.lower() for r in standin.requests)
    assert [path for path, n in reads.items() if n > 1] == []
    # Read by id: storage accounts, key vaults, the VM, its NIC, the cluster; everything else came from lists.
    by_id = {r.path.lower() for r in standin.requests} & {i.lower() for i in estate.ids.values()}
    assert by_id == {estate.ids[n].lower() for n in ("shared_storage", "kv_prod", "dev_storage", "dev_vault", "kv_b",
                                                      "storage_b", "vm", "nic", "cluster")}


def test_only_get_requests_reach_resource_manager(arm_standin: StartStandIn, estate: SampleEstate) -> None:
    standin = arm_standin(estate.document)
    _collect(standin)
    assert {r.method for r in standin.requests} == {"GET"}


def test_token_comes_from_the_credential_chain_once_for_the_endpoint_scope(arm_standin: StartStandIn,
                                                                           estate: SampleEstate) -> None:
    standin = arm_standin(estate.document)
    snapshot = collect(CollectOptions(**FAST))  # endpoint from AMLAUDIT_ARM_ENDPOINT, DefaultAzureCredential
    assert snapshot["errors"] == []
    # One `az` run for all SDK clients and threads, for the resource `<endpoint>` (scope `<endpoint>/.default`).
    invocations = Path(os.environ["STANDIN_AZ_LOG"]).read_text().splitlines()
    assert invocations == [f"account get-access-token --output json --resource {standin.url}"]


# -- scope ---------------------------------------------------------------------------------------


def test_given_subscription_reaches_a_storage_account_in_another_subscription(arm_standin: StartStandIn,
                                                                              estate: SampleEstate) -> None:
    standin = arm_standin(estate.document)
    snapshot = _collect(standin, subscriptions=(SUB_A,))
    collected = _by_id(snapshot)
    assert estate.ids["shared_storage"].lower() in collected  # lives in subscription B
    assert collected[estate.ids["shared_storage"].lower()] == estate.resource("shared_storage")
    assert estate.ids["workspace_b"].lower() not in collected
    assert [s["subscriptionId"] for s in snapshot["subscriptions"]] == [SUB_A]
    assert standin.count("GET", f"^/subscriptions/{SUB_B}/providers/Microsoft.MachineLearningServices") == 0


def test_workspace_filter_is_case_insensitive_and_reads_only_what_its_verdicts_need(arm_standin: StartStandIn,
                                                                                   estate: SampleEstate) -> None:
    standin = arm_standin(estate.document)
    snapshot = _collect(standin, workspaces=("RG-ML-DEV/MLW-Dev",))
    collected = _by_id(snapshot)
    assert snapshot["scope"]["workspaces"] == ["RG-ML-DEV/MLW-Dev"]
    assert estate.ids["dev-cluster"].lower() in collected
    assert estate.ids["dev_storage"].lower() in collected and estate.ids["dev_vault"].lower() in collected
    # mlw-prod's cpu-cluster shares dev-cluster's subnet (it counts in its capacity): it is kept, with its
    # workspace; nothing else of mlw-prod or mlw-b was read but their compute lists.
    assert estate.ids["cpu-cluster"].lower() in collected and estate.ids["prod"].lower() in collected
    for other in ("vm-attached", "aks-inference", "shared_storage", "kv_prod", "vm", "nic", "cluster", "workspace_b",
                  "storage_b", "kv_b"):
        assert estate.ids[other].lower() not in collected, other
    assert standin.count("GET", estate.ids["prod"] + "/computes$") == 1
    assert standin.count("GET", estate.ids["workspace_b"] + "/computes$") == 1
    for unread in ("shared_storage", "kv_prod", "vm", "cluster", "storage_b", "kv_b"):
        assert standin.count("GET", estate.ids[unread] + "$") == 0, unread
    assert snapshot["errors"] == []


def test_subscription_the_identity_cannot_read_is_an_error(arm_standin: StartStandIn, estate: SampleEstate) -> None:
    standin = arm_standin(estate.document)
    standin.fail(f"^/subscriptions/{SUB_B}", 403, code="AuthorizationFailed",
                 message="The client does not have authorization to perform action 'Microsoft.Resources/subscriptions/read'.")
    snapshot = _collect(standin, subscriptions=(SUB_A, SUB_B, UNKNOWN_SUB))
    denied = _errors_at(snapshot, f"/subscriptions/{SUB_B}")
    assert denied == [{"scope": f"/subscriptions/{SUB_B}", "operation": "Microsoft.Resources/subscriptions/read",
                       "status": 403, "code": "AuthorizationFailed",
                       "message": "The client does not have authorization to perform action 'Microsoft.Resources/subscriptions/read'."}]
    unknown = _errors_at(snapshot, f"/subscriptions/{UNKNOWN_SUB}")
    assert [(e["status"], e["code"]) for e in unknown] == [(404, "SubscriptionNotFound")]
    assert [s["subscriptionId"] for s in snapshot["subscriptions"]] == [SUB_A]
    assert estate.ids["prod"].lower() in _by_id(snapshot)  # the readable subscription was collected


def test_listed_subscription_whose_workspaces_cannot_be_listed_is_an_error(arm_standin: StartStandIn,
                                                                          estate: SampleEstate) -> None:
    standin = arm_standin(estate.document)
    workspaces_b = _list_path(SUB_B, "Microsoft.MachineLearningServices/workspaces")
    standin.fail(workspaces_b + "$", 403)
    snapshot = _collect(standin)
    assert [(e["status"], e["code"], e["operation"]) for e in _errors_at(snapshot, workspaces_b)] == [
        (403, "AuthorizationFailed", "Microsoft.MachineLearningServices/workspaces/read")]
    assert estate.ids["workspace_b"].lower() not in _by_id(snapshot)
    assert estate.ids["prod"].lower() in _by_id(snapshot)


# -- failures ------------------------------------------------------------------------------------


@pytest.fixture
def recorded_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits azure-core's retry policy asks the transport for, without waiting."""
    sleeps: list[float] = []
    monkeypatch.setattr(RequestsTransport, "sleep", lambda self, duration: sleeps.append(duration))
    return sleeps


def test_throttling_waits_as_retry_after_says_then_continues(arm_standin: StartStandIn, estate: SampleEstate,
                                                            recorded_sleeps: list[float]) -> None:
    standin = arm_standin(estate.document)
    standin.fail(estate.ids["kv_prod"] + "$", 429, times=2, retry_after=17)
    snapshot = _collect(standin, retry_backoff=5.0)
    assert snapshot["errors"] == []
    assert _by_id(snapshot)[estate.ids["kv_prod"].lower()] == estate.resource("kv_prod")
    assert standin.count("GET", estate.ids["kv_prod"] + "$") == 3
    assert recorded_sleeps == [17, 17]  # Retry-After, not the 5 s exponential backoff


@pytest.mark.parametrize(("status", "code"), [(403, "AuthorizationFailed"), (401, "InvalidAuthenticationToken")])
def test_refused_key_vault_is_an_error_and_the_rest_is_collected(arm_standin: StartStandIn, estate: SampleEstate,
                                                                 status: int, code: str) -> None:
    standin = arm_standin(estate.document)
    standin.fail(estate.ids["kv_prod"] + "$", status, code=code, message="no vault read")
    snapshot = _collect(standin)
    assert snapshot["errors"] == [{"scope": estate.ids["kv_prod"], "operation": "Microsoft.KeyVault/vaults/read",
                                   "status": status, "code": code, "message": "no vault read"}]
    assert _by_id(snapshot) == estate.resources_except("vnet_b", "kv_prod")
    assert standin.count("GET", estate.ids["kv_prod"] + "$") == 1  # not retried


def test_server_error_once_is_retried(arm_standin: StartStandIn, estate: SampleEstate, recorded_sleeps: list[float]) -> None:
    standin = arm_standin(estate.document)
    standin.fail(estate.ids["vm"] + "$", 500, times=1)
    snapshot = _collect(standin)
    assert snapshot["errors"] == []
    assert _by_id(snapshot) == estate.resources_except("vnet_b")
    assert standin.count("GET", estate.ids["vm"] + "$") == 2


def test_server_error_that_outlives_retries_is_an_error(arm_standin: StartStandIn, estate: SampleEstate,
                                                        recorded_sleeps: list[float]) -> None:
    standin = arm_standin(estate.document)
    standin.fail(estate.ids["vm"] + "$", 500, code="InternalServerError", message="boom")
    snapshot = _collect(standin, max_retries=3)
    assert snapshot["errors"] == [{"scope": estate.ids["vm"], "operation": "Microsoft.Compute/virtualMachines/read",
                                   "status": 500, "code": "InternalServerError", "message": "boom"}]
    assert standin.count("GET", estate.ids["vm"] + "$") == 4  # first try and three retries, no more
    # Nothing behind the VM could be reached: its NIC was never read.
    assert standin.count("GET", estate.ids["nic"] + "$") == 0
    assert _by_id(snapshot) == estate.resources_except("vnet_b", "vm", "nic")


def test_referenced_resource_that_is_gone_is_a_404_error(arm_standin: StartStandIn, estate: SampleEstate) -> None:
    estate.document["resources"].remove(estate.resource("dev_vault"))
    standin = arm_standin(estate.document)
    snapshot = _collect(standin)
    assert [(e["scope"], e["status"], e["code"]) for e in snapshot["errors"]] == [
        (estate.ids["dev_vault"], 404, "ResourceNotFound")]


def test_malformed_resource_body_is_an_error(arm_standin: StartStandIn, estate: SampleEstate) -> None:
    standin = arm_standin(estate.document)
    standin.malform(estate.ids["dev_storage"] + "$")
    snapshot = _collect(standin)
    [error] = snapshot["errors"]
    assert (error["scope"], error["status"], error["code"]) == (estate.ids["dev_storage"], 200, "MalformedResponse")
    assert _by_id(snapshot) == estate.resources_except("vnet_b", "dev_storage")


def test_malformed_list_page_is_an_error_and_needed_resources_are_read_by_id(arm_standin: StartStandIn,
                                                                             estate: SampleEstate) -> None:
    standin = arm_standin(estate.document)
    vnet_list = _list_path(SUB_A, "Microsoft.Network/virtualNetworks")
    standin.malform(vnet_list + "$")
    snapshot = _collect(standin)
    assert [(e["scope"], e["code"]) for e in snapshot["errors"]] == [(vnet_list, "MalformedResponse")]
    # The compute VNet is still there (read by id); the spare one only a list would have brought.
    assert _by_id(snapshot) == estate.resources_except("vnet_b", "vnet_spare")
    assert standin.count("GET", estate.ids["vnet"] + "$") == 1


def test_unregistered_provider_means_an_empty_list_and_nothing_is_registered(arm_standin: StartStandIn,
                                                                             estate: SampleEstate) -> None:
    standin = arm_standin(estate.document)
    standin.fail(_list_path(SUB_B, "Microsoft.MachineLearningServices/workspaces") + "$", 409,
                 code="MissingSubscriptionRegistration",
                 message="The subscription is not registered to use namespace 'Microsoft.MachineLearningServices'.")
    snapshot = _collect(standin)
    # azure-mgmt-core answers this 409 by POSTing .../register; the read-only policy refused it.
    assert {r.method for r in standin.requests} == {"GET"}
    assert snapshot["errors"] == []
    assert estate.ids["workspace_b"].lower() not in _by_id(snapshot)


def test_secret_fields_are_dropped_and_reported(arm_standin: StartStandIn, estate: SampleEstate) -> None:
    vm_compute = estate.resource("vm-attached")
    vm_compute["properties"]["properties"]["administratorAccount"] = {
        "username": "azureuser", "password": "hunter2", "publicKeyData": None, "privateKeyData": None}
    standin = arm_standin(estate.document)
    snapshot = _collect(standin)
    account = _by_id(snapshot)[estate.ids["vm-attached"].lower()]["properties"]["properties"]["administratorAccount"]
    assert account == {"username": "azureuser", "publicKeyData": None, "privateKeyData": None}
    assert snapshot["redacted"] == [{"id": estate.ids["vm-attached"],
                                     "path": "properties.properties.administratorAccount.password"}]


def test_placeholder_subnet_id_leads_nowhere(arm_standin: StartStandIn, estate: SampleEstate) -> None:
    # The AmlCompute example in the REST specs carries "test-subnet-resource-id".
    estate.resource("dev-cluster")["properties"]["properties"]["subnet"]["id"] = "test-subnet-resource-id"
    standin = arm_standin(estate.document)
    snapshot = _collect(standin, workspaces=("rg-ml-dev/mlw-dev",))
    assert snapshot["errors"] == []
    assert standin.count("GET", "Microsoft.Network") == 0


# -- no audit possible ---------------------------------------------------------------------------


def test_no_credential_is_a_collect_error(arm_standin: StartStandIn, estate: SampleEstate,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    standin = arm_standin(estate.document)
    monkeypatch.setenv("PATH", "/nonexistent")  # no `az`: the only credential allowed is unavailable
    with pytest.raises(CollectError, match="cannot get a token"):
        _collect(standin)
    assert standin.requests == []


def test_tls_trust_follows_requests_ca_bundle(arm_standin: StartStandIn, estate: SampleEstate, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    standin = arm_standin(estate.document)
    stranger = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(stranger))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(stranger))  # a CA that did not issue the stand-in's certificate
    with pytest.raises(CollectError, match="cannot reach"):
        _collect(standin, max_retries=0)
    assert standin.requests == []


def test_unreachable_endpoint_is_a_collect_error(arm_standin: StartStandIn, estate: SampleEstate) -> None:
    standin = arm_standin(estate.document)
    endpoint = standin.url
    standin.stop()
    with pytest.raises(CollectError, match="cannot reach"):
        collect(CollectOptions(arm_endpoint=endpoint, max_retries=0))


@pytest.mark.parametrize(("options", "message"), [
    ({"cloud": "Mars"}, "unknown cloud"),
    ({"workspaces": ("just-a-name",)}, "RESOURCE_GROUP/NAME"),
    ({"subscriptions": ("../../providers",)}, "not a subscription id"),
    ({"concurrency": 0}, "concurrency"),
])
def test_unusable_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CollectOptions(**options)


def test_plain_http_endpoint_is_refused_before_any_call() -> None:
    with pytest.raises(ValueError, match="https"):
        collect(CollectOptions(arm_endpoint="http://127.0.0.1:9"))


def test_quiet_when_stderr_is_not_a_terminal(arm_standin: StartStandIn, estate: SampleEstate,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    standin = arm_standin(estate.document)
    _collect(standin)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
