"""The read path under the collector: read-only pipelines, endpoint and scope resolution."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.identity import AzureCliCredential

from amlaudit.auditor.collect import CollectOptions
from amlaudit.auditor.collect.arm import ArmReader, provider_namespace
from amlaudit.auditor.collect.errors import ArmReadError
from amlaudit.auditor.collect.readonly import RefusedRequestError
from tests.standin import StandIn
from tests.standin.fixtures import StartStandIn, arm_standin, standin_ca  # noqa: F401 - fixtures
from tests.standin.sample_estate import SUB_A, SampleEstate, sample_estate


@pytest.fixture
def estate() -> SampleEstate:
    return sample_estate()


@pytest.fixture
def standin(arm_standin: StartStandIn, estate: SampleEstate) -> StandIn:
    return arm_standin(estate.document)


@pytest.fixture
def reader(standin: StandIn) -> Iterator[ArmReader]:
    with ArmReader(standin.url, f"{standin.url}/.default", AzureCliCredential(), max_retries=0,
                   retry_backoff=0.0, retry_backoff_max=0.0, connect_timeout=10.0, read_timeout=10.0) as arm:
        yield arm


def test_reads_return_the_body_as_served(reader: ArmReader, estate: SampleEstate) -> None:
    assert reader.get(estate.ids["cluster"], "2024-07-01") == estate.resource("cluster")


def test_secret_returning_actions_and_writes_through_the_sdk_are_refused_before_sending(
        reader: ArmReader, standin: StandIn, estate: SampleEstate) -> None:
    storage = reader.client("Microsoft.Storage")
    with pytest.raises(RefusedRequestError, match="POST"):
        storage.storage_accounts.list_keys("rg-data", "stmlshared")
    network = reader.client("Microsoft.Network")
    with pytest.raises(RefusedRequestError, match="DELETE"):
        network.network_security_groups.begin_delete("rg-network", "nsg-ml").result()
    assert standin.requests == []


def test_next_link_outside_the_endpoint_is_refused(reader: ArmReader, standin: StandIn) -> None:
    # A documentation address (TEST-NET-3): the loopback guard would also fail the test on any attempt.
    with pytest.raises(ArmReadError) as refused:
        reader.get("https://203.0.113.7/subscriptions?api-version=2022-12-01&$skiptoken=1", "2022-12-01")
    assert (refused.value.status, refused.value.code) == (None, "RequestRefused")
    other_port = standin.url.rsplit(":", 1)[0] + ":1"
    with pytest.raises(ArmReadError, match="outside the Resource Manager endpoint"):
        reader.get(f"{other_port}/subscriptions", "2022-12-01")
    assert standin.requests == []


def test_provider_namespace_picks_the_client() -> None:
    assert provider_namespace("/subscriptions") == "microsoft.resources"
    assert provider_namespace(f"/subscriptions/{SUB_A}") == "microsoft.resources"
    assert provider_namespace(f"/subscriptions/{SUB_A}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v"
                              "/providers/Microsoft.Authorization/locks") == "microsoft.authorization"
    assert provider_namespace(f"/subscriptions/{SUB_A}/providers/Microsoft.Network/locations/eastus/usages") == "microsoft.network"


def test_endpoint_comes_from_options_then_environment_then_cloud(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AMLAUDIT_ARM_ENDPOINT", raising=False)
    assert CollectOptions().resolve_arm_endpoint() == "https://management.azure.com"
    assert CollectOptions(cloud="AzureChinaCloud").resolve_arm_endpoint() == "https://management.chinacloudapi.cn"
    monkeypatch.setenv("AMLAUDIT_ARM_ENDPOINT", "https://127.0.0.1:8443/")
    assert CollectOptions().resolve_arm_endpoint() == "https://127.0.0.1:8443"
    assert CollectOptions(arm_endpoint="https://arm.local.azurestack.external/").resolve_arm_endpoint() == \
        "https://arm.local.azurestack.external"


def test_token_scope_is_the_clouds_own_or_endpoint_default() -> None:
    assert CollectOptions().credential_scope("https://management.azure.com") == "https://management.azure.com/.default"
    # US Government publishes a scope that differs from its endpoint.
    gov = CollectOptions(cloud="AzureUSGovernment")
    assert gov.credential_scope("https://management.usgovcloudapi.net") == "https://management.core.usgovcloudapi.net/.default"
    assert CollectOptions().credential_scope("https://127.0.0.1:8443") == "https://127.0.0.1:8443/.default"
