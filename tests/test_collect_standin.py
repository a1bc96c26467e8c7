"""The Resource Manager stand-in behaves like Resource Manager where the collector relies on it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.identity import AzureCliCredential, DefaultAzureCredential

from tests.standin import StandIn
from tests.standin.fixtures import StartStandIn, arm_standin, standin_ca  # noqa: F401 - fixtures
from tests.standin.sample_estate import SUB_A, SUB_B, SampleEstate, sample_estate, sample_estate_with_hdinsight

API = {"api-version": "2024-03-01"}


@pytest.fixture
def estate() -> SampleEstate:
    return sample_estate()


def _get(standin: StandIn, path: str, *, token: str | None = None, params: dict[str, str] | None = None,
         method: str = "GET") -> requests.Response:
    headers = {"Authorization": f"Bearer {token or standin.token}"}
    return requests.request(method, standin.url + path, headers=headers, params=API if params is None else params,
                            verify=os.environ["REQUESTS_CA_BUNDLE"], timeout=10)


def _all_pages(standin: StandIn, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    response = _get(standin, path)
    while True:
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["value"]
        if not page.get("nextLink"):
            return items
        response = requests.get(page["nextLink"], headers={"Authorization": f"Bearer {standin.token}"},
                                verify=os.environ["REQUESTS_CA_BUNDLE"], timeout=10)


def test_resources_are_served_by_id_case_insensitively(arm_standin: StartStandIn, estate: SampleEstate) -> None:
    standin = arm_standin(estate.document)
    response = _get(standin, estate.ids["cluster"].upper().replace("/SUBSCRIPTIONS/", "/subscriptions/"))
    assert response.status_code == 200
    assert response.json() == estate.resource("cluster")


def test_lists_page_with_next_link_and_keep_every_item(arm_standin: StartStandIn, estate: SampleEstate) -> None:
    standin = arm_standin(estate.document, page_size=1)
    items = _all_pages(standin, f"/subscriptions/{SUB_A}/providers/Microsoft.Network/networkSecurityGroups")
    assert [i["name"] for i in items] == ["nsg-ml", "nsg-aks", "nsg-nic"]
    assert standin.count("GET", r"networkSecurityGroups$") == 3
    # Every page request carried the api-version the nextLink kept.
    assert all(r.query.get("api-version") == ["2024-03-01"] for r in standin.requests)


def test_child_collections_and_resource_group_lists(arm_standin: StartStandIn, estate: SampleEstate) -> None:
    standin = arm_standin(estate.document)
    computes = _all_pages(standin, estate.ids["prod"] + "/computes")
    assert {c["name"] for c in computes} == {"cpu-cluster", "vm-attached", "aks-inference"}
    dev_group = estate.ids["dev"].split("/providers/")[0]
    vaults = _all_pages(standin, f"{dev_group}/providers/Microsoft.KeyVault/vaults")
    assert [v["name"] for v in vaults] == ["kv-ml-dev"]
    # A workspace without computes has an empty child collection, not a 404.
    assert _all_pages(standin, estate.ids["workspace_b"] + "/computes") == []


def test_subscription_lists_hold_only_that_subscriptions_top_level_resources(arm_standin: StartStandIn,
                                                                             estate: SampleEstate) -> None:
    standin = arm_standin(estate.document)
    vnets_a = _all_pages(standin, f"/subscriptions/{SUB_A}/providers/Microsoft.Network/virtualNetworks")
    vnets_b = _all_pages(standin, f"/subscriptions/{SUB_B}/providers/Microsoft.Network/virtualNetworks")
    assert {v["name"] for v in vnets_a} == {"vnet-ml", "vnet-spare"}
    assert [v["name"] for v in vnets_b] == ["vnet-b"]
    subscriptions = _all_pages(standin, "/subscriptions")
    assert [s["id"] for s in subscriptions] == [f"/subscriptions/{SUB_A}", f"/subscriptions/{SUB_B}"]


def test_hdinsight_clusters_are_served_by_id_and_listed(arm_standin: StartStandIn) -> None:
    estate = sample_estate_with_hdinsight()
    standin = arm_standin(estate.document)
    cluster_id = estate.ids["hdi_cluster"]
    hdinsight = {"api-version": "2021-06-01"}
    response = _get(standin, cluster_id.replace("Microsoft.HDInsight", "microsoft.hdinsight"), params=hdinsight)
    assert response.status_code == 200 and response.json() == estate.resource("hdi_cluster")
    for collection in (f"/subscriptions/{SUB_B}/providers/Microsoft.HDInsight/clusters",
                       cluster_id.rsplit("/", 1)[0]):
        listed = _get(standin, collection, params=hdinsight)
        assert listed.status_code == 200 and [c["id"] for c in listed.json()["value"]] == [cluster_id]
    assert _get(standin, f"/subscriptions/{SUB_A}/providers/Microsoft.HDInsight/clusters", params=hdinsight).json() == {
        "value": []}


def test_hang_holds_the_answer_then_sends_it(arm_standin: StartStandIn, estate: SampleEstate) -> None:
    standin = arm_standin(estate.document)
    standin.hang("kv-ml-prod$", seconds=0.5, times=1)
    standin.hang("kv-ml-dev$", seconds=30.0)
    late = _get(standin, estate.ids["kv_prod"])  # the client waits (10 s timeout) and gets the normal answer
    assert late.status_code == 200 and late.json() == estate.resource("kv_prod")
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(standin.url + estate.ids["dev_vault"], params=API, headers={"Authorization": f"Bearer {standin.token}"},
                     verify=os.environ["REQUESTS_CA_BUNDLE"], timeout=(10, 0.3))
    assert standin.count("GET", "kv-ml-dev$") == 1  # it was received, just never answered


def test_locks_are_listed_at_and_below_a_scope(arm_standin: StartStandIn, estate: SampleEstate) -> None:
    standin = arm_standin(estate.document)
    at_subscription = _all_pages(standin, f"/subscriptions/{SUB_A}/providers/Microsoft.Authorization/locks")
    network_group = estate.ids["vnet"].split("/providers/")[0]
    at_group = _all_pages(standin, f"{network_group}/providers/Microsoft.Authorization/locks")
    at_vnet = _all_pages(standin, f"{estate.ids['vnet']}/providers/Microsoft.Authorization/locks")
    assert {lock["name"] for lock in at_subscription} == {"network-readonly", "vnet-keep", "subscription-keep", "dev-readonly"}
    assert {lock["name"] for lock in at_group} == {"network-readonly", "vnet-keep"}
    assert [lock["name"] for lock in at_vnet] == ["vnet-keep"]


def test_usages_and_service_tags_per_location(arm_standin: StartStandIn, estate: SampleEstate) -> None:
    standin = arm_standin(estate.document)
    usages = _all_pages(standin, f"/subscriptions/{SUB_A}/providers/Microsoft.Network/locations/eastus/usages")
    assert "NetworkSecurityGroups" in {u["name"]["value"] for u in usages}
    tags = _get(standin, f"/subscriptions/{SUB_A}/providers/Microsoft.Network/locations/westus/serviceTags")
    assert tags.status_code == 200 and tags.json() == estate.document["service_tags"][1]["body"]
    assert _get(standin, f"/subscriptions/{SUB_A}/providers/Microsoft.Network/locations/northeurope/usages").status_code == 404


def test_unknown_subscription_and_resource_are_404(arm_standin: StartStandIn, estate: SampleEstate) -> None:
    standin = arm_standin(estate.document)
    unknown_sub = _get(standin, "/subscriptions/11111111-2222-3333-4444-555555555555")
    assert (unknown_sub.status_code, unknown_sub.json()["error"]["code"]) == (404, "SubscriptionNotFound")
    missing = _get(standin, estate.ids["kv_prod"] + "-gone")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "ResourceNotFound")


def test_requests_without_token_or_api_version_are_refused(arm_standin: StartStandIn, estate: SampleEstate) -> None:
    standin = arm_standin(estate.document)
    assert _get(standin, "/subscriptions", token="someone-else").status_code == 401
    no_version = _get(standin, "/subscriptions", params={})
    assert (no_version.status_code, no_version.json()["error"]["code"]) == (400, "MissingApiVersionParameter")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "HEAD"])
def test_anything_but_get_is_405_and_counted(arm_standin: StartStandIn, estate: SampleEstate, method: str) -> None:
    standin = arm_standin(estate.document)
    response = _get(standin, estate.ids["shared_storage"] + "/listKeys", method=method)
    assert response.status_code == 405
    assert standin.count(method) == 1


def test_faults_apply_as_many_times_as_asked(arm_standin: StartStandIn, estate: SampleEstate) -> None:
    standin = arm_standin(estate.document)
    standin.fail("kv-ml-prod$", 429, times=2, retry_after=7)
    standin.fail("kv-ml-dev$", 500)
    standin.malform("stmldev$", times=1)
    first, second, third = (_get(standin, estate.ids["kv_prod"]) for _ in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [429, 429, 200]
    assert first.headers["Retry-After"] == "7"
    assert {_get(standin, estate.ids["dev_vault"]).status_code for _ in range(3)} == {500}
    broken = _get(standin, estate.ids["dev_storage"])
    assert broken.status_code == 200
    with pytest.raises(ValueError):
        broken.json()
    assert _get(standin, estate.ids["dev_storage"]).json() == estate.resource("dev_storage")


def test_stand_in_az_issues_the_token_the_server_expects(arm_standin: StartStandIn, estate: SampleEstate) -> None:
    standin = arm_standin(estate.document)
    token = AzureCliCredential().get_token(f"{standin.url}/.default")
    assert token.token == standin.token
    # DefaultAzureCredential, narrowed by AZURE_TOKEN_CREDENTIALS, reaches the same `az` and nothing else.
    assert DefaultAzureCredential().get_token(f"{standin.url}/.default").token == standin.token
    log = Path(os.environ["STANDIN_AZ_LOG"]).read_text().splitlines()
    assert log == [f"account get-access-token --output json --resource {standin.url}"] * 2


def test_stand_in_az_refuses_other_commands(arm_standin: StartStandIn, estate: SampleEstate) -> None:
    arm_standin(estate.document)
    result = subprocess.run(["az", "account", "show"], capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "only answers" in result.stderr
