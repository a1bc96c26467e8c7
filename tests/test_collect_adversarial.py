"""Adversarial review of live collection: estates the collector's author did not write, served over
HTTPS by the stand-in, with faults injected, audited through the real command line.

The oracle is always the offline audit: `amlaudit scan --snapshot` of the estate itself (or of the
estate as a faulty collection must see it: minus what could not be read, plus the error that says
why), its resources in the order a collection writes them. A live scan must give exactly its
findings (check, resource id, status, message), exit status and collection errors. Every live test
also proves that only GETs reached the stand-in and (through the `arm_standin` fixture's guard) that
nothing left loopback. Retry waits are recorded, not slept.

The last test is a failure found here (a scoped scan passed a subnet the whole estate fails),
now fixed: a scoped collection also reads what verdicts about the named workspaces need from the
others (tests/test_collect_scope.py has the rest of that story).
"""

from __future__ import annotations

import copy
import gzip
import json
import logging
import random
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest
import trustme
from azure.core.pipeline.transport import RequestsTransport

from amlaudit.auditor.cli import main
from amlaudit.auditor.ids import id_key
from amlaudit.auditor.snapshot import load_snapshot
from benchmarks.estate_gen import generate
from tests.standin import StandIn
from tests.standin.fixtures import StartStandIn, arm_standin, standin_ca  # noqa: F401 - fixtures
from tests.standin.sample_estate import hdinsight_cluster

ROOT = Path(__file__).resolve().parent.parent
DEMO_FILE = ROOT / "fixtures" / "demo.json.gz"
CLEAN_FILE = ROOT / "fixtures" / "estates" / "clean.json"

WORKSPACE_TYPE = "microsoft.machinelearningservices/workspaces"
COMPUTE_TYPE = "microsoft.machinelearningservices/workspaces/computes"

FindingKey = tuple[str, str, str, str]  # check_id, resource_id, status, message


# -- estates ----------------------------------------------------------------------------------------


@cache
def _demo_bytes() -> bytes:
    return gzip.decompress(DEMO_FILE.read_bytes())


def demo_estate() -> dict[str, Any]:
    """A fresh copy of the bundled demo estate (tests mutate theirs)."""
    return orjson.loads(_demo_bytes())


@cache
def _generated_bytes(workspaces: int) -> bytes:
    return orjson.dumps(generate(workspaces))


def generated_estate(workspaces: int) -> dict[str, Any]:
    """A fresh copy of benchmarks.estate_gen's estate of `workspaces` workspaces."""
    return orjson.loads(_generated_bytes(workspaces))


def clean_estate() -> dict[str, Any]:
    return orjson.loads(CLEAN_FILE.read_bytes())


def resource(estate: dict[str, Any], name: str, kind: str) -> dict[str, Any]:
    """The one resource of type `kind` (case-insensitive) called `name`."""
    [found] = [r for r in estate["resources"] if r["name"] == name and r["type"].lower() == kind.lower()]
    return found


def without(estate: dict[str, Any], *resource_ids: str) -> dict[str, Any]:
    """A copy of `estate` without the given resources (ids compare case-insensitively)."""
    gone = {id_key(i) for i in resource_ids}
    copied = copy.deepcopy(estate)
    copied["resources"] = [r for r in copied["resources"] if id_key(r["id"]) not in gone]
    return copied


def with_errors(estate: dict[str, Any], *errors: dict[str, Any]) -> dict[str, Any]:
    copied = copy.deepcopy(estate)
    copied["errors"] = [*(copied.get("errors") or []), *errors]
    return copied


def computes_of(estate: dict[str, Any], workspace_id: str) -> list[dict[str, Any]]:
    """The workspace's computes, in the order the stand-in lists them (the estate's)."""
    prefix = id_key(workspace_id) + "/computes/"
    return [r for r in estate["resources"] if r["type"].lower() == COMPUTE_TYPE and id_key(r["id"]).startswith(prefix)]


def workspace_footprint(estate: dict[str, Any], workspace_id: str) -> set[str]:
    """The id keys of what a workspace uses, read from the estate's raw JSON (independently of
    amlaudit.auditor.scope): the workspace, its compute list, storage account, key vault and computes, the
    subnets its computes sit in (cluster subnet, VM NIC, AKS agent pool, HDInsight role), their VNets
    and the VNets' quota regions."""
    by_id = {id_key(r["id"]): r for r in estate["resources"]}
    workspace = by_id[id_key(workspace_id)]
    keys = {workspace_id, workspace_id + "/computes", workspace["properties"]["storageAccount"],
            workspace["properties"]["keyVault"]}
    subnets: list[Any] = []
    for compute in computes_of(estate, workspace_id):
        keys.add(compute["id"])
        settings = compute["properties"].get("properties") or {}
        subnets += [(settings.get("subnet") or {}).get("id"), (settings.get("aksNetworkingConfiguration") or {}).get("subnetId")]
        target = by_id.get(id_key(compute["properties"].get("resourceId") or ""), {}).get("properties") or {}
        for reference in (target.get("networkProfile") or {}).get("networkInterfaces") or []:
            nic = by_id.get(id_key(reference["id"]), {}).get("properties") or {}
            subnets += [c["properties"]["subnet"]["id"] for c in nic.get("ipConfigurations") or []]
        subnets += [pool.get("vnetSubnetID") for pool in target.get("agentPoolProfiles") or []]
        subnets += [(role.get("virtualNetworkProfile") or {}).get("subnet")
                    for role in (target.get("computeProfile") or {}).get("roles") or []]
    for subnet_id in filter(None, subnets):
        vnet_id = subnet_id.split("/subnets/")[0]
        keys |= {subnet_id, vnet_id}
        vnet = by_id.get(id_key(vnet_id))
        if vnet is not None:
            keys.add(f"/subscriptions/{vnet_id.split('/')[2]}/providers/Microsoft.Network/locations/{vnet['location']}")
    return {id_key(key) for key in keys}


def restricted_to(scan: Scan, subjects: set[str]) -> list[FindingKey]:
    """The scan's findings about `subjects` (id keys)."""
    return [finding for finding in scan.findings if id_key(finding[1]) in subjects]


def subscription_ids(estate: dict[str, Any]) -> list[str]:
    return [s["subscriptionId"] for s in estate["subscriptions"]]


# -- scans through the command line ---------------------------------------------------------------


@dataclass(frozen=True)
class Scan:
    status: int
    findings: list[FindingKey]
    errors: list[dict[str, Any]]  # findings.json's: scope, operation, status, message
    snapshot_errors: list[dict[str, Any]] = field(default_factory=list, compare=False)  # with `code`

    def by_subject(self) -> dict[tuple[str, str], FindingKey]:
        return {(f[0], id_key(f[1])): f for f in self.findings}


def _read_scan(status: int, out: Path, snapshot: Path | None = None) -> Scan:
    assert status in (0, 1, 3), f"scan ended with exit {status}"
    document = json.loads((out / "findings.json").read_text())
    findings = sorted((f["check_id"], f["resource_id"], f["status"], f["message"]) for f in document["findings"])
    errors = sorted(document["errors"], key=lambda e: (id_key(e["scope"]), e.get("operation") or ""))
    return Scan(status, findings, errors, load_snapshot(snapshot).raw["errors"] if snapshot else [])


def in_collection_order(estate: dict[str, Any]) -> dict[str, Any]:
    """The estate with its resources in the order a live collection writes them (by id).

    Needed because messages list the subjects they name in snapshot order (see
    test_messages_do_not_depend_on_the_order_of_resources), so an estate in any other
    order could not match a live scan word for word.
    """
    return {**estate, "resources": sorted(estate["resources"], key=lambda r: id_key(r["id"]))}


@cache
def _offline_scan_of(estate_bytes: bytes, workdir: Path) -> Scan:
    workdir.mkdir(parents=True, exist_ok=True)
    name = f"{zlib.crc32(estate_bytes):08x}-{len(estate_bytes)}"
    snapshot = workdir / f"{name}.json"
    snapshot.write_bytes(estate_bytes)
    out = workdir / f"{name}-out"
    return _read_scan(main(["scan", "--snapshot", str(snapshot), "--out", str(out), "--format", "json", "-q"]), out)


def scan_offline(estate: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Scan:
    """`amlaudit scan --snapshot` of the estate itself (cached: many tests share an oracle)."""
    return _offline_scan_of(orjson.dumps(in_collection_order(estate), option=orjson.OPT_SORT_KEYS),
                            tmp_path_factory.getbasetemp() / "offline-oracle")


def scan_live(standin: StandIn, workdir: Path, *args: str) -> Scan:
    """`amlaudit scan ... --arm-endpoint <stand-in>`: DefaultAzureCredential (narrowed to the stand-in
    `az`), TLS trust from REQUESTS_CA_BUNDLE, exactly as a user would run it."""
    out = workdir / f"live-{len(list(workdir.glob('live-*')))}"
    if "--save-snapshot" not in args:
        args = (*args, "--save-snapshot", str(out.with_suffix(".snapshot.json")))
    status = main(["scan", *args, "--arm-endpoint", standin.url, "--out", str(out), "--format", "json", "-q"])
    return _read_scan(status, out, Path(args[args.index("--save-snapshot") + 1]))


def assert_only_gets(*standins: StandIn) -> None:
    for standin in standins:
        methods = {r.method for r in standin.requests}
        assert methods <= {"GET"}, f"{standin.url} saw {methods}"


@pytest.fixture(autouse=True)
def retry_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits azure-core's retry policy asks for (Retry-After or backoff), recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr(RequestsTransport, "sleep", lambda self, seconds: waits.append(seconds))
    return waits


@pytest.fixture
def decoy(standin_ca: trustme.CA) -> Iterator[StandIn]:
    """A second Resource Manager stand-in on another port: the 'other host' a hostile link points at.
    Any request it receives carried the bearer token there, so it must receive none."""
    with StandIn(demo_estate(), ca=standin_ca) as other:
        yield other


# -- 1. round trips on estates the collector's author did not use --------------------------------


ESTATES = {"demo": demo_estate, "generated-20": lambda: generated_estate(20)}


@pytest.mark.parametrize("scope", ["given subscriptions", "all listable"])
@pytest.mark.parametrize("estate_name", list(ESTATES))
def test_live_scan_finds_what_the_offline_scan_finds(estate_name: str, scope: str, arm_standin: StartStandIn,
                                                      tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    estate = ESTATES[estate_name]()
    expected = scan_offline(estate, tmp_path_factory)
    assert {f[2] for f in expected.findings} >= {"pass", "fail"}, "the oracle must have something to disagree with"
    standin = arm_standin(estate, page_size=2)
    # Given in upper case: subscription ids compare case-insensitively, as Azure's do.
    args = [a for s in subscription_ids(estate) for a in ("--subscription", s.upper())] if scope == "given subscriptions" else []

    assert scan_live(standin, tmp_path, *args) == expected
    assert_only_gets(standin)


WORKSPACE_SCOPES = {
    # Shares its AmlCompute subnet with mlw-retail-research; VM and AKS computes.
    "demo/shared-subnet": (demo_estate, "rg-retail-ml", "mlw-retail-forecast"),
    # Its compute sits in the connectivity subscription's VNet; its key vault is denied (estate error).
    "demo/cross-subscription": (demo_estate, "rg-marketing-ml", "mlw-marketing-sandbox"),
    "generated-20": (lambda: generated_estate(20), None, None),
}


@pytest.mark.parametrize("case", list(WORKSPACE_SCOPES))
def test_workspace_scope_reports_what_that_workspace_uses_as_the_whole_estate_judges_it(
        case: str, arm_standin: StartStandIn, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    make, group, name = WORKSPACE_SCOPES[case]
    estate = make()
    workspaces = [r for r in estate["resources"] if r["type"].lower() == WORKSPACE_TYPE]
    chosen = next(w for w in workspaces if w["name"] == name) if name else workspaces[len(workspaces) // 2]
    group = group or chosen["id"].split("/")[4]
    standin = arm_standin(estate, page_size=2)

    live = scan_live(standin, tmp_path, "--workspace", f"{group.upper()}/{chosen['name']}")

    # Exactly the whole estate's findings about what the workspace uses, word for word: a subnet,
    # VNet or quota region shared with other workspaces is judged with all of them.
    whole = scan_offline(estate, tmp_path_factory)
    expected = restricted_to(whole, workspace_footprint(estate, chosen["id"]))
    assert live.findings == expected
    own_computes = {id_key(c["id"]) for c in computes_of(estate, chosen["id"])}
    assert own_computes <= {subject for _, subject in live.by_subject()}
    # The offline path: the live scan's own snapshot records the scope and reports the same.
    saved = load_snapshot(next(tmp_path.glob("live-*.snapshot.json")))
    assert saved.raw["scope"]["workspaces"] == [f"{group.upper()}/{chosen['name']}"]
    assert _offline_scan_of(orjson.dumps(saved.raw), tmp_path / "offline").findings == live.findings
    # Of the other workspaces only the compute lists were read (none shares a storage account or key vault).
    others = [w for w in workspaces if w is not chosen]
    for other in others:
        assert standin.count("GET", re.escape(other["id"]) + "/computes$") > 0
        for reference in ("storageAccount", "keyVault"):
            assert standin.count("GET", re.escape(other["properties"][reference]) + "$") == 0
    assert_only_gets(standin)


def demo_with_hdinsight() -> tuple[dict[str, Any], str]:
    """The demo with an HDInsight cluster in vnet-retail-eus/snet-legacy-apps attached to mlw-retail-forecast;
    also returns the compute's id."""
    estate = demo_estate()
    vnet = resource(estate, "vnet-retail-eus", "Microsoft.Network/virtualNetworks")
    [subnet] = [s for s in vnet["properties"]["subnets"] if s["name"] == "snet-legacy-apps"]
    workspace = resource(estate, "mlw-retail-forecast", "Microsoft.MachineLearningServices/workspaces")
    group = workspace["id"].split("/providers/")[0]
    cluster = hdinsight_cluster(f"{group}/providers/Microsoft.HDInsight/clusters/hdi-retail", subnet, location="East US")
    compute = {"id": f"{workspace['id']}/computes/spark-legacy", "name": "spark-legacy",
               "type": "Microsoft.MachineLearningServices/workspaces/computes", "location": workspace["location"],
               "properties": {"computeType": "HDInsight", "provisioningState": "Succeeded", "isAttachedCompute": True,
                              "resourceId": cluster["id"],
                              "properties": {"sshPort": 22, "address": "hdi-retail-ssh.azurehdinsight.net"}}}
    estate["resources"] += [cluster, compute]
    return estate, compute["id"]


def test_live_scan_of_an_hdinsight_compute_finds_what_the_offline_scan_finds(arm_standin: StartStandIn, tmp_path: Path,
                                                                            tmp_path_factory: pytest.TempPathFactory) -> None:
    estate, compute_id = demo_with_hdinsight()
    expected = scan_offline(estate, tmp_path_factory)
    # Judged on its cluster's subnet (the compute keeps the SSH host name, not an address).
    assert [f[2] for f in expected.findings if id_key(f[1]) == id_key(compute_id)] not in ([], ["error"])
    standin = arm_standin(estate, page_size=2)

    assert scan_live(standin, tmp_path) == expected
    assert standin.count("GET", r"/Microsoft\.HDInsight/clusters/hdi-retail$") == 1
    assert_only_gets(standin)


# -- 2. faults over HTTPS -----------------------------------------------------------------------------


def test_throttling_on_random_paths_changes_nothing(arm_standin: StartStandIn, tmp_path: Path, retry_waits: list[float],
                                                   tmp_path_factory: pytest.TempPathFactory) -> None:
    estate = demo_estate()
    expected = scan_offline(estate, tmp_path_factory)
    standin = arm_standin(estate, page_size=2)
    assert scan_live(standin, tmp_path) == expected  # learns which paths a collection reads
    clean_reads = standin.count("GET")
    paths = sorted({r.path for r in standin.requests})
    rng = random.Random(4)
    throttled = {path: rng.choice([1, 7, 30]) for path in rng.sample(paths, 12)}
    for path, seconds in throttled.items():
        standin.fail(f"^{re.escape(path)}$", 429, times=2, retry_after=seconds, code="TooManyRequests")

    assert scan_live(standin, tmp_path) == expected
    # Each throttled path answered twice more, and the waits were exactly what Retry-After said.
    assert standin.count("GET") - clean_reads == clean_reads + 2 * len(throttled)
    assert sorted(retry_waits) == sorted(s for s in throttled.values() for _ in range(2))
    assert_only_gets(standin)


@pytest.mark.parametrize(("make", "vault", "clean_status"), [
    (demo_estate, "kv-retail-forecast", 1),
    (clean_estate, "kv-churn-train", 0),
], ids=["demo-with-failures", "clean"])
def test_denied_key_vault_errors_its_checks_and_nothing_else(make: Any, vault: str, clean_status: int,
                                                            arm_standin: StartStandIn, tmp_path: Path,
                                                            tmp_path_factory: pytest.TempPathFactory) -> None:
    estate = make()
    vault_id = resource(estate, vault, "Microsoft.KeyVault/vaults")["id"]
    message = f"The client does not have authorization to perform action 'Microsoft.KeyVault/vaults/read' over scope '{vault_id}'."
    standin = arm_standin(estate)
    standin.fail(f"^{re.escape(vault_id)}$", 403, code="AuthorizationFailed", message=message)

    live = scan_live(standin, tmp_path)

    denied = {"scope": vault_id, "operation": "Microsoft.KeyVault/vaults/read", "status": 403,
              "code": "AuthorizationFailed", "message": message}
    assert live == scan_offline(with_errors(without(estate, vault_id), denied), tmp_path_factory)
    original = scan_offline(estate, tmp_path_factory)
    assert original.status == clean_status
    changed = {key for key, finding in live.by_subject().items() if original.by_subject()[key] != finding}
    assert changed == {key for key in original.by_subject() if key[1] == id_key(vault_id)}, "only the vault's checks change"
    assert {live.by_subject()[key][2] for key in changed} == {"error"}
    assert live.status == (1 if any(f[2] == "fail" for f in live.findings) else 3)
    assert live.status == (3 if clean_status == 0 else 1)
    assert standin.count("GET", re.escape(vault_id) + "$") == 1  # a 403 is not retried
    assert_only_gets(standin)


def test_vnet_that_always_fails_errors_the_computes_in_it(arm_standin: StartStandIn, tmp_path: Path,
                                                         retry_waits: list[float],
                                                         tmp_path_factory: pytest.TempPathFactory) -> None:
    estate = demo_estate()
    vnet = resource(estate, "vnet-fraud-weu", "Microsoft.Network/virtualNetworks")
    vnet_list = f"/subscriptions/{vnet['id'].split('/')[2]}/providers/Microsoft.Network/virtualNetworks"
    standin = arm_standin(estate)
    standin.fail(f"^{re.escape(vnet['id'])}$", 500, code="InternalServerError", message="vnet backend down")
    standin.fail(f"^{re.escape(vnet_list)}$", 500, code="InternalServerError", message="list backend down")

    live = scan_live(standin, tmp_path)

    failed = [{"scope": vnet_list, "operation": "Microsoft.Network/virtualNetworks/read", "status": 500,
               "code": "InternalServerError", "message": "list backend down"},
              {"scope": vnet["id"], "operation": "Microsoft.Network/virtualNetworks/read", "status": 500,
               "code": "InternalServerError", "message": "vnet backend down"}]
    assert live == scan_offline(with_errors(without(estate, vnet["id"]), *failed), tmp_path_factory)
    # The computes placed in that VNet cannot be verified; the other workspaces' are as before.
    original = scan_offline(estate, tmp_path_factory).by_subject()
    in_vnet = {id_key(c["id"]) for c in computes_of(estate, resource(estate, "mlw-fraud-detection",
                                                                        "Microsoft.MachineLearningServices/workspaces")["id"])}
    statuses = {key[0]: finding[2] for key, finding in live.by_subject().items() if key[1] in in_vnet}
    assert statuses and "error" in statuses.values() and "pass" not in statuses.values()
    for key, finding in live.by_subject().items():
        if key[1].startswith("/subscriptions/3f2a6c1e") and "/computes/" in key[1]:
            assert finding == original[key]
    # Both reads outlived their retries (1 try + 5 retries each) with azure-core's exponential backoff
    # (0.8 s x 2^n; its first retry goes at once).
    assert standin.count("GET", re.escape(vnet["id"]) + "$") == 6 and standin.count("GET", re.escape(vnet_list) + "$") == 6
    assert sorted(retry_waits) == sorted([0.8 * 2**n for n in (1, 2, 3, 4)] * 2)
    assert_only_gets(standin)


def test_vnet_failing_by_id_is_not_needed_when_its_list_answers(arm_standin: StartStandIn, tmp_path: Path,
                                                                tmp_path_factory: pytest.TempPathFactory) -> None:
    estate = demo_estate()
    vnet = resource(estate, "vnet-fraud-weu", "Microsoft.Network/virtualNetworks")
    standin = arm_standin(estate, page_size=1)
    standin.fail(f"^{re.escape(vnet['id'])}$", 500)
    assert scan_live(standin, tmp_path) == scan_offline(estate, tmp_path_factory)
    assert standin.count("GET", re.escape(vnet["id"]) + "$") == 0
    assert_only_gets(standin)


def _partial_compute_list(estate: dict[str, Any], workspace: str, pages_read: int) -> tuple[dict[str, Any], str, list[str]]:
    """(the estate, the compute list path of `workspace`, the ids of its computes a page_size=1 list
    that stops after `pages_read` pages never delivers)."""
    workspace_id = resource(estate, workspace, "Microsoft.MachineLearningServices/workspaces")["id"]
    computes = computes_of(estate, workspace_id)
    assert len(computes) > pages_read + 1
    return estate, workspace_id + "/computes", [c["id"] for c in computes[pages_read:]]


def test_malformed_list_page_is_an_error_and_the_pages_before_it_count(arm_standin: StartStandIn, tmp_path: Path,
                                                                       tmp_path_factory: pytest.TempPathFactory) -> None:
    estate, compute_list, undelivered = _partial_compute_list(demo_estate(), "mlw-fraud-detection", pages_read=1)
    standin = arm_standin(estate, page_size=1)
    standin.malform(f"^{re.escape(compute_list)}$", after=1)  # page 1 is fine, page 2 is cut short

    live = scan_live(standin, tmp_path)

    [error] = [e for e in live.snapshot_errors if id_key(e["scope"]) == id_key(compute_list)]
    assert (error["operation"], error["status"], error["code"]) == (
        "Microsoft.MachineLearningServices/workspaces/computes/read", 200, "MalformedResponse")
    assert live == scan_offline(with_errors(without(estate, *undelivered), error), tmp_path_factory)
    assert live.status == 1
    assert_only_gets(standin)


def test_malformed_subscription_list_page_leaves_the_audit_incomplete(arm_standin: StartStandIn, tmp_path: Path) -> None:
    estate = clean_estate()
    # A second subscription, listed after the first, whose workspaces the audit then never sees.
    estate["subscriptions"].append({**estate["subscriptions"][0], "subscriptionId": "0f0e0d0c-0b0a-4908-8706-050403020100",
                                    "id": "/subscriptions/0f0e0d0c-0b0a-4908-8706-050403020100", "displayName": "later"})
    standin = arm_standin(estate, page_size=1)
    standin.malform("^/subscriptions$", after=1)

    live = scan_live(standin, tmp_path)

    assert [(e["scope"], e["status"], e["code"]) for e in live.snapshot_errors] == [("/subscriptions", 200, "MalformedResponse")]
    assert [e["scope"] for e in live.errors] == ["/subscriptions"]
    assert live.status == 3  # no failures, but not clean: a subscription may have gone unaudited
    assert_only_gets(standin)


FOREIGN_BASES = {
    "another port": lambda decoy: decoy.url,
    "another host name": lambda decoy: "https://evil.example",
    "userinfo trick": lambda decoy: f"https://{decoy.url.split('//')[1]}@evil.example",
    "plain http": lambda decoy: decoy.url.replace("https://", "http://"),
}


@pytest.mark.parametrize("foreign", list(FOREIGN_BASES))
def test_next_link_to_another_host_is_not_followed_with_the_token(foreign: str, arm_standin: StartStandIn,
                                                                   decoy: StandIn, tmp_path: Path,
                                                                   tmp_path_factory: pytest.TempPathFactory) -> None:
    estate, compute_list, undelivered = _partial_compute_list(demo_estate(), "mlw-fraud-detection", pages_read=2)
    standin = arm_standin(estate, page_size=1)
    standin.next_link_at(f"^{re.escape(compute_list)}$", FOREIGN_BASES[foreign](decoy), after=1)  # page 2 points away

    live = scan_live(standin, tmp_path)

    assert decoy.requests == []
    [error] = [e for e in live.snapshot_errors if id_key(e["scope"]) == id_key(compute_list)]
    assert (error["status"], error["code"]) == (None, "RequestRefused")
    assert "outside the Resource Manager endpoint" in error["message"]
    assert live == scan_offline(with_errors(without(estate, *undelivered), error), tmp_path_factory)
    assert_only_gets(standin)


def test_redirect_to_another_host_is_not_followed_with_the_token(arm_standin: StartStandIn, decoy: StandIn,
                                                                 tmp_path: Path,
                                                                 tmp_path_factory: pytest.TempPathFactory) -> None:
    estate = demo_estate()
    storage_id = resource(estate, "stfrauddetect01", "Microsoft.Storage/storageAccounts")["id"]
    standin = arm_standin(estate)
    standin.redirect(f"^{re.escape(storage_id)}$", decoy.url)

    live = scan_live(standin, tmp_path)

    assert decoy.requests == []
    [error] = [e for e in live.snapshot_errors if id_key(e["scope"]) == id_key(storage_id)]
    assert (error["operation"], error["status"], error["code"]) == ("Microsoft.Storage/storageAccounts/read", None,
                                                                    "RequestRefused")
    assert live == scan_offline(with_errors(without(estate, storage_id), error), tmp_path_factory)
    assert_only_gets(standin)


def test_page_size_one_and_latency_everywhere_change_nothing(arm_standin: StartStandIn, tmp_path: Path,
                                                             tmp_path_factory: pytest.TempPathFactory) -> None:
    estate = demo_estate()
    standin = arm_standin(estate, page_size=1, latency=0.003)
    standin.delay("Microsoft.Network", 0.03)  # the slow provider answers last, after its dependants were queued
    assert scan_live(standin, tmp_path, "--concurrency", "3") == scan_offline(estate, tmp_path_factory)
    assert_only_gets(standin)


# -- 3. shapes real Resource Manager sends that the stand-in's estates did not -----------------------


def _arm_recased(resource_id: str) -> str:
    """An id spelled the way some providers echo it: `resourcegroups`, lower-case namespace and types."""
    head, _, tail = resource_id.partition("/providers/")
    head = re.sub("/resourceGroups/", "/resourcegroups/", head, flags=re.IGNORECASE)
    parts = tail.split("/")
    parts = [p.lower() if i == 0 or i % 2 == 1 else p for i, p in enumerate(parts)]
    return f"{head}/providers/{'/'.join(parts)}"


def _realistic_shapes(estate: dict[str, Any]) -> dict[str, Any]:
    """The estate with shapes real Resource Manager sends: bodies whose ids differ in case from the
    references to them, a workspace's storage reference in another case than the account's own id,
    service-tag change numbers as strings, usage counters as floats."""
    estate = copy.deepcopy(estate)
    recased_types = {"microsoft.keyvault/vaults", "microsoft.network/networksecuritygroups",
                     "microsoft.network/virtualnetworks", "microsoft.compute/virtualmachines",
                     "microsoft.machinelearningservices/workspaces/computes"}
    for item in estate["resources"]:
        if item["type"].lower() in recased_types:
            item["id"] = _arm_recased(item["id"])
            for subnet in (item.get("properties") or {}).get("subnets") or []:
                subnet["id"] = _arm_recased(subnet["id"])
        if item["type"].lower() == WORKSPACE_TYPE:
            item["properties"]["storageAccount"] = _arm_recased(item["properties"]["storageAccount"]).upper()
    for tags in estate["service_tags"]:
        tags["body"]["changeNumber"] = str(tags["body"].get("changeNumber", "1"))
        for value in tags["body"]["values"]:
            if "changeNumber" in value.get("properties", {}):
                value["properties"]["changeNumber"] = str(value["properties"]["changeNumber"])
    for usage in estate["usages"]:
        for counter in usage["value"]:
            counter["currentValue"], counter["limit"] = float(counter["currentValue"]), float(counter["limit"])
    return estate


@pytest.mark.parametrize("estate_name", list(ESTATES))
def test_realistic_arm_shapes_collect_and_audit_alike(estate_name: str, arm_standin: StartStandIn, tmp_path: Path,
                                                      tmp_path_factory: pytest.TempPathFactory) -> None:
    original = ESTATES[estate_name]()
    estate = _realistic_shapes(original)
    standin = arm_standin(estate, page_size=1)
    saved = tmp_path / "live.json.gz"

    live = scan_live(standin, tmp_path, "--save-snapshot", str(saved))

    assert live == scan_offline(estate, tmp_path_factory)
    # Ids compare case-insensitively: every subject is judged as in the estate spelled canonically.
    canonical = scan_offline(original, tmp_path_factory)
    assert {k: f[2] for k, f in live.by_subject().items()} == {k: f[2] for k, f in canonical.by_subject().items()}
    snapshot = load_snapshot(saved).raw  # validates
    collected = {id_key(r["id"]): r for r in snapshot["resources"]}
    for item in estate["resources"]:  # every resource a check reads, kept as served (ids in their served case)
        assert collected.get(id_key(item["id"])) == item, item["id"]
    # Usages of each (subscription, region) hosting a VNet (every VNet in these estates hosts computes), as served.
    vnet_regions = {(r["id"].split("/")[2].lower(), r["location"]) for r in estate["resources"]
                    if r["type"].lower() == "microsoft.network/virtualnetworks"}
    served = {(u["subscription_id"].lower(), u["location"]): u for u in estate["usages"]}
    assert {(u["subscription_id"].lower(), u["location"]): u for u in snapshot["usages"]} == {
        key: served[key] for key in vnet_regions}
    assert {t["location"]: t["body"] for t in snapshot["service_tags"]} == {
        t["location"]: t["body"] for t in estate["service_tags"]}
    # Locks at resource-group and subscription level came from the subscription-wide list.
    assert sorted(id_key(lock["id"]) for lock in snapshot["locks"]) == sorted(id_key(lock["id"]) for lock in estate["locks"])
    # One page per compute of each workspace: the computes list was followed through its nextLinks.
    for workspace in (r for r in estate["resources"] if r["type"].lower() == WORKSPACE_TYPE):
        pages = standin.count("GET", re.escape(workspace["id"]) + "/computes$")
        assert pages == max(1, len(computes_of(estate, workspace["id"])))
    assert_only_gets(standin)


# -- 4. collect, then scan the file -----------------------------------------------------------------


def test_collect_to_a_file_then_scan_it_equals_a_live_scan(arm_standin: StartStandIn, tmp_path: Path) -> None:
    estate = demo_estate()
    standin = arm_standin(estate, page_size=2)
    snapshot = tmp_path / "snap.json.gz"

    collected = main(["collect", "--out", str(snapshot), "--arm-endpoint", standin.url])
    offline_out = tmp_path / "from-file"
    from_file = _read_scan(main(["scan", "--snapshot", str(snapshot), "--out", str(offline_out), "--format", "json", "-q"]),
                           offline_out)

    assert collected == 3  # the demo's denied key vault is a collection error
    assert snapshot.read_bytes()[:2] == b"\x1f\x8b"
    assert from_file == scan_live(standin, tmp_path)
    assert_only_gets(standin)


# -- 5. no bearer token in what is written or logged -------------------------------------------------


def test_no_token_in_snapshots_reports_or_logs(arm_standin: StartStandIn, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                               capfd: pytest.CaptureFixture[str]) -> None:
    estate = demo_estate()
    standin = arm_standin(estate, page_size=2)
    standin.fail("kv-retail-research$", 401, code="InvalidAuthenticationToken", message="token rejected")
    standin.fail("stretailresearch01$", 500, times=1)
    caplog.set_level(logging.DEBUG)  # every logger, azure-core's HTTP logging included
    saved_json, saved_gz, collected = tmp_path / "s.json", tmp_path / "s.json.gz", tmp_path / "c.json.gz"

    main(["scan", "--arm-endpoint", standin.url, "--out", str(tmp_path / "out"), "--format", "json,html",
          "--save-snapshot", str(saved_json)])
    main(["scan", "--arm-endpoint", standin.url, "--out", str(tmp_path / "out2"), "--save-snapshot", str(saved_gz), "-q"])
    main(["collect", "--out", str(collected), "--arm-endpoint", standin.url])

    console = capfd.readouterr()
    reports = [path for out in ("out", "out2") for path in (tmp_path / out).iterdir()]
    written = {str(path.relative_to(tmp_path)): path.read_bytes() for path in [saved_json, *reports]}
    written |= {path.name: gzip.decompress(path.read_bytes()) for path in (saved_gz, collected)}
    assert {"s.json", "s.json.gz", "c.json.gz", "out/findings.json", "out/report.html"} <= set(written)
    texts = {"log records": caplog.text, "stdout": console.out, "stderr": console.err, **written}
    # The capture does see request headers (redacted), so its silence about the token means something.
    assert "'Authorization': 'REDACTED'" in caplog.text
    assert standin.token.startswith("standin|")
    for where, text in texts.items():
        data = text if isinstance(text, bytes) else text.encode()
        assert standin.token.encode() not in data, where
        assert b"Bearer " not in data and b"standin|" not in data, where
    assert_only_gets(standin)


# -- 6. answers no estate file can express: endless lists, non-objects, odd fields, broken connections --


def test_list_whose_next_link_repeats_ends_with_an_error(arm_standin: StartStandIn, tmp_path: Path,
                                                         tmp_path_factory: pytest.TempPathFactory) -> None:
    estate, compute_list, undelivered = _partial_compute_list(demo_estate(), "mlw-fraud-detection", pages_read=1)
    standin = arm_standin(estate, page_size=1)
    standin.loop_next_link(f"^{re.escape(compute_list)}$")  # every page points back at itself

    live = scan_live(standin, tmp_path)

    [error] = [e for e in live.snapshot_errors if id_key(e["scope"]) == id_key(compute_list)]
    assert (error["status"], error["code"]) == (200, "MalformedResponse") and "repeats" in error["message"]
    assert standin.count("GET", re.escape(compute_list) + "$") == 2  # page 1, its echo, then stop
    assert live == scan_offline(with_errors(without(estate, *undelivered), error), tmp_path_factory)
    assert_only_gets(standin)


@pytest.mark.parametrize("body", [b"null", b"[]", b'"ok"'])
def test_a_subscription_answered_with_a_non_object_is_an_error_not_a_clean_audit(body: bytes, arm_standin: StartStandIn,
                                                                                 tmp_path: Path) -> None:
    estate = clean_estate()
    [subscription] = subscription_ids(estate)
    standin = arm_standin(estate)
    standin.malform(f"^/subscriptions/{subscription}$", body=body)

    live = scan_live(standin, tmp_path, "--subscription", subscription)

    # Read as "nothing there", this was exit 0 with no findings and no errors: a clean bill for an unread estate.
    assert live.status == 3 and live.findings == []
    assert [(e["scope"], e["status"], e["code"]) for e in live.snapshot_errors] == [
        (f"/subscriptions/{subscription}", 200, "MalformedResponse")]
    assert_only_gets(standin)


def test_a_resource_answered_with_null_is_an_error(arm_standin: StartStandIn, tmp_path: Path,
                                                  tmp_path_factory: pytest.TempPathFactory) -> None:
    estate = demo_estate()
    vault_id = resource(estate, "kv-fraud-detect", "Microsoft.KeyVault/vaults")["id"]
    standin = arm_standin(estate)
    standin.malform(f"^{re.escape(vault_id)}$", body=b"null")

    live = scan_live(standin, tmp_path)

    null = {"scope": vault_id, "operation": "Microsoft.KeyVault/vaults/read", "status": 200, "code": "MalformedResponse",
            "message": "response body is a JSON null, not an object"}
    assert live == scan_offline(with_errors(without(estate, vault_id), null), tmp_path_factory)
    assert_only_gets(standin)


def _usage_without_name(estate: dict[str, Any]) -> str:
    block = estate["usages"][0]
    del block["value"][1]["name"]
    return f"/subscriptions/{block['subscription_id']}/providers/Microsoft.Network/locations/{block['location']}/usages"


def _lock_without_level(estate: dict[str, Any]) -> str:
    del estate["locks"][0]["properties"]["level"]
    return f"/subscriptions/{estate['locks'][0]['id'].split('/')[2]}/providers/Microsoft.Authorization/locks"


def _service_tag_without_name(estate: dict[str, Any]) -> str:
    tags = estate["service_tags"][0]
    del tags["body"]["values"][3]["name"]
    subscription = tags["body"]["id"].split("/")[2]
    return f"/subscriptions/{subscription}/providers/Microsoft.Network/locations/{tags['location']}/serviceTags"


def _vault_with_numeric_location(estate: dict[str, Any]) -> str:
    vault = resource(estate, "kv-retail-forecast", "Microsoft.KeyVault/vaults")
    vault["location"] = 1
    return str(vault["id"])


def _subscription_with_numeric_name(estate: dict[str, Any]) -> str:
    estate["subscriptions"][1]["displayName"] = 7
    return f"/subscriptions/{estate['subscriptions'][1]['subscriptionId']}"


ODD_FIELDS = {"usage without name": _usage_without_name, "lock without level": _lock_without_level,
              "service tag without name": _service_tag_without_name,
              "resource location a number": _vault_with_numeric_location,
              "subscription name a number": _subscription_with_numeric_name}


@pytest.mark.parametrize("odd", list(ODD_FIELDS))
def test_an_odd_field_is_one_error_entry_not_an_unreadable_snapshot(odd: str, arm_standin: StartStandIn,
                                                                    tmp_path: Path) -> None:
    estate = demo_estate()
    scope = ODD_FIELDS[odd](estate)
    standin = arm_standin(estate, page_size=2)
    snapshot = tmp_path / "collected.json"

    # Before: the collector kept the field, its own snapshot reader refused the document, and every
    # live scan of such an estate ended with exit 2 and nothing audited.
    collected = main(["collect", "--out", str(snapshot), "--arm-endpoint", standin.url])
    live = scan_live(standin, tmp_path)

    assert collected == 3
    errors = load_snapshot(snapshot).raw["errors"]  # validates
    assert [(e["status"], e["code"]) for e in errors if id_key(e["scope"]) == id_key(scope)] == [(200, "MalformedResponse")]
    assert live.status == 1 and any(id_key(e["scope"]) == id_key(scope) for e in live.errors)
    assert_only_gets(standin)


def test_a_list_item_that_is_not_an_object_is_an_error(arm_standin: StartStandIn, tmp_path: Path) -> None:
    estate = demo_estate()
    compute_list = resource(estate, "mlw-fraud-detection", "Microsoft.MachineLearningServices/workspaces")["id"] + "/computes"
    standin = arm_standin(estate)
    standin.malform(f"^{re.escape(compute_list)}$", body=b'{"value": [null]}')

    live = scan_live(standin, tmp_path)

    assert [(e["status"], e["code"]) for e in live.snapshot_errors if id_key(e["scope"]) == id_key(compute_list)] == [
        (200, "MalformedResponse")]
    assert live.status == 1
    assert_only_gets(standin)


@pytest.mark.parametrize("times", [1, None], ids=["once", "always"])
def test_a_connection_dropped_without_an_answer(times: int | None, arm_standin: StartStandIn, tmp_path: Path,
                                                tmp_path_factory: pytest.TempPathFactory) -> None:
    estate = demo_estate()
    vault_id = resource(estate, "kv-retail-forecast", "Microsoft.KeyVault/vaults")["id"]
    standin = arm_standin(estate)
    standin.drop(f"^{re.escape(vault_id)}$", times=times)

    live = scan_live(standin, tmp_path)

    if times == 1:
        assert live == scan_offline(estate, tmp_path_factory)
        assert standin.count("GET", re.escape(vault_id) + "$") == 2
        return
    [error] = [e for e in live.snapshot_errors if id_key(e["scope"]) == id_key(vault_id)]
    assert (error["status"], error["code"]) == (None, "ServiceResponseError")
    assert live == scan_offline(with_errors(without(estate, vault_id), error), tmp_path_factory)
    assert standin.count("GET", re.escape(vault_id) + "$") == 6  # retried like any GET
    assert_only_gets(standin)


def test_a_workspace_filter_that_names_no_workspace_is_an_error(arm_standin: StartStandIn, tmp_path: Path) -> None:
    estate = clean_estate()
    [subscription] = subscription_ids(estate)
    standin = arm_standin(estate)

    live = scan_live(standin, tmp_path, "--workspace", "rg-churn-ml/mlw-churn-trian")  # a typo

    # Before: exit 0, no findings, no errors, as if the workspace had been audited and found clean.
    assert (live.status, live.findings) == (3, [])
    assert [(e["scope"], e["code"]) for e in live.snapshot_errors] == [
        (f"/subscriptions/{subscription}/resourceGroups/rg-churn-ml/providers/Microsoft.MachineLearningServices"
         "/workspaces/mlw-churn-trian", "WorkspaceNotFound")]
    assert_only_gets(standin)



def test_an_identity_that_lists_no_subscription_is_an_error(arm_standin: StartStandIn, tmp_path: Path) -> None:
    estate = clean_estate()
    estate["subscriptions"] = []  # the wrong tenant, or a principal with no role anywhere
    standin = arm_standin(estate)

    live = scan_live(standin, tmp_path)

    # Before: exit 0 with nothing audited.
    assert (live.status, live.findings) == (3, [])
    assert [(e["scope"], e["code"]) for e in live.snapshot_errors] == [("/subscriptions", "NoSubscriptions")]
    assert_only_gets(standin)


# -- known, outside the collector ----------------------------------------------------------------------


def test_messages_do_not_depend_on_the_order_of_resources(tmp_path_factory: pytest.TempPathFactory) -> None:
    estate = demo_estate()
    vnet = resource(estate, "vnet-fraud-weu", "Microsoft.Network/virtualNetworks")
    unread = with_errors(without(estate, vnet["id"]), {"scope": vnet["id"], "operation": "Microsoft.Network/virtualNetworks/read",
                                                       "status": 500, "code": "InternalServerError", "message": "down"})
    workdir = tmp_path_factory.getbasetemp() / "order"
    as_listed = _offline_scan_of(orjson.dumps(unread), workdir)
    reversed_order = _offline_scan_of(orjson.dumps({**unread, "resources": unread["resources"][::-1]}), workdir)
    assert {k: f[2] for k, f in as_listed.by_subject().items()} == {k: f[2] for k, f in reversed_order.by_subject().items()}
    assert as_listed == reversed_order


def test_a_scoped_scan_does_not_pass_a_shared_subnet_the_whole_estate_fails(arm_standin: StartStandIn, tmp_path: Path,
                                                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    estate = demo_estate()
    # mlw-retail-research's cluster shares snet-training with mlw-retail-forecast's and outgrows it.
    research = resource(estate, "cpu-research", "Microsoft.MachineLearningServices/workspaces/computes")
    research["properties"]["properties"]["scaleSettings"]["maxNodeCount"] = 400
    subnet = resource(estate, "vnet-retail-eus", "Microsoft.Network/virtualNetworks")["id"] + "/subnets/snet-training"
    whole = scan_offline(estate, tmp_path_factory).by_subject()
    assert whole[("compute-subnet-capacity", id_key(subnet))][2] == "fail"
    standin = arm_standin(estate)

    scoped = scan_live(standin, tmp_path, "--workspace", "rg-retail-ml/mlw-retail-forecast").by_subject()

    assert scoped[("compute-subnet-capacity", id_key(subnet))] == whole[("compute-subnet-capacity", id_key(subnet))]
    assert ("compute-subnet-capacity", id_key(research["id"])) not in scoped  # research's own findings are not reported
    assert not [key for key in scoped if key[1] == id_key(research["id"])]
