"""Calls that never answer end at the configured timeouts instead of holding a worker for azure-core's 300 s.

- Connected, asked, and then silence (the stand-in holds the request): that read becomes an error entry
  and collection goes on — Resource Manager was reachable.
- No connection at all within the connect timeout: the collection stops with CollectError, like a
  refused connection — Resource Manager is unreachable.

The timeouts here are a second or less. A hang lasts 10 s and then gets the normal answer, and the
black hole refuses connections after 5 s: without working timeouts these tests would not hang but
fail, on what the collection reports (no error entry; "connection refused" instead of a timeout).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from amlaudit.auditor.collect import CollectError, CollectOptions, collect
from tests.standin import StandIn
from tests.standin.blackhole import Blackhole
from tests.standin.fixtures import StartStandIn, arm_standin, standin_ca  # noqa: F401 - fixtures
from tests.standin.sample_estate import SampleEstate, sample_estate

# Seconds. Every read of the collection is held to these, not only the hung one, so they stay well
# above what a loopback answer (or TLS handshake) takes on a busy 2-core machine, and far below the hang.
READ_TIMEOUT = 1.0
CONNECT_TIMEOUT = 5.0
# Nothing ever connects to the black hole, so its test can afford a tiny one.
TINY = 0.3


@pytest.fixture
def estate() -> SampleEstate:
    return sample_estate()


def _collect(standin: StandIn, **options: Any) -> dict[str, Any]:
    settings = {"max_retries": 1, "retry_backoff": 0.0, "connect_timeout": CONNECT_TIMEOUT,
                "read_timeout": READ_TIMEOUT, **options}
    return collect(CollectOptions(arm_endpoint=standin.url, **settings))


def _by_id(snapshot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["id"].lower(): r for r in snapshot["resources"]}


def test_a_read_that_never_answers_is_an_error_entry_and_the_rest_is_collected(arm_standin: StartStandIn,
                                                                               estate: SampleEstate) -> None:
    standin = arm_standin(estate.document)
    vault = estate.ids["kv_prod"]
    standin.hang(f"^{re.escape(vault)}$", seconds=10.0)

    snapshot = _collect(standin)

    assert snapshot["errors"] == [{
        "scope": vault, "operation": "Microsoft.KeyVault/vaults/read", "status": None,
        "code": "ServiceResponseTimeoutError",
        "message": f"no answer within the timeouts (connect {CONNECT_TIMEOUT:g} s, read {READ_TIMEOUT:g} s)"}]
    assert _by_id(snapshot) == estate.resources_except("vnet_b", "kv_prod")
    # Retried like a broken answer (max_retries=1): the first attempt and one retry, each cut off.
    assert standin.count("GET", re.escape(vault) + "$") == 2


def test_a_list_page_that_never_answers_is_an_error_at_the_list(arm_standin: StartStandIn, estate: SampleEstate) -> None:
    standin = arm_standin(estate.document, page_size=1)
    computes = estate.ids["prod"] + "/computes"
    # Page 1 answers; page 2 (same path, a nextLink) hangs on every attempt.
    standin.hang(f"^{re.escape(computes)}$", seconds=10.0, after=1)

    snapshot = _collect(standin, max_retries=0)

    assert [(e["scope"], e["code"]) for e in snapshot["errors"]] == [(computes, "ServiceResponseTimeoutError")]
    assert standin.count("GET", re.escape(computes) + "$") == 2


def test_default_timeouts_replace_azure_cores_300_seconds() -> None:
    options = CollectOptions()
    assert (options.connect_timeout, options.read_timeout) == (10.0, 60.0)


@pytest.mark.parametrize("name", ["connect_timeout", "read_timeout"])
@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf")])
def test_timeouts_must_be_positive_and_finite(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=name):
        CollectOptions(**{name: value})


def test_no_connection_within_the_connect_timeout_stops_the_collection(arm_standin: StartStandIn,
                                                                       estate: SampleEstate) -> None:
    standin = arm_standin(estate.document)  # for the environment: stand-in `az`, CA bundle, loopback guard
    with Blackhole(give_up_after=5.0) as blackhole, pytest.raises(CollectError) as stopped:
        collect(CollectOptions(arm_endpoint=blackhole.url, max_retries=1, retry_backoff=0.0,
                               connect_timeout=TINY, read_timeout=TINY))
    assert str(stopped.value) == f"cannot reach {blackhole.url}: no connection within {TINY:g} s"
    assert standin.requests == []
