"""The outside edges (contracts.md) on a mixed estate where all 24 rows have subjects.

- findings.json: format, generated_at, tool, summary, errors, findings with the contract's keys;
  every applicable (check, subject) pair exactly once; resource_id is the subject's ARM id "as Azure
  spelled it", which we take to mean the resource's own `id` field when the snapshot holds the resource
  (a reference from elsewhere may be spelled differently), else the reference as written.
- severities and subjects follow the catalog table.
- exit codes: 0 / 1 / 2 / 3 and --fail-on.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from amlaudit.auditor.cli import main as cli_main
from amlaudit.auditor.registry import load_checks
from tests.acceptance.harness import NOT_APPLICABLE, run, run_cli
from tests.acceptance.scenarios import add_workspace_compute, aml_scenario, hdinsight_cluster, ssh_from_aml_rule
from tests.acceptance2.kit import attach_route_table
from tests.estates import SUB

# The catalog table: id -> severity.
CATALOG_SEVERITY = {
    "storage-vnet-rule": "high", "storage-trusted-services": "high", "storage-inference-access": "high",
    "storage-network-restricted": "medium", "keyvault-vnet-rule": "high", "keyvault-trusted-services": "high",
    "keyvault-network-restricted": "medium", "compute-vnet-location": "high", "compute-subnet-capacity": "high",
    "compute-batch-inbound": "critical", "compute-outbound-vnet": "high", "compute-outbound-internet": "high",
    "compute-remote-login": "medium", "compute-network-quota": "high", "compute-vnet-locks": "high",
    "compute-forced-tunneling": "critical", "attached-compute-ubuntu": "high", "attached-compute-ssh": "high",
    "aks-inbound-from-aml": "high", "aks-vnet-location": "medium", "aks-service-cidr": "high",
    "aks-dns-service-ip": "high", "aks-docker-bridge": "high", "aks-scoring-inbound": "medium",
}
FINDING_KEYS = {"check_id", "status", "severity", "resource_id", "title", "message", "evidence", "remediation",
                "reference", "fingerprint"}
STATUSES = {"pass", "fail", "error", "not_applicable"}


class MixedEstate:
    """One workspace with an AmlCompute cluster (behind a route table), an attached VM, an attached
    HDInsight cluster and an AKS compute; storage and key vault deny by default."""

    def __init__(self) -> None:
        s = aml_scenario()
        b = s.builder
        self.scenario = s
        attach_route_table(b, s.subnet, [("default-to-firewall", "0.0.0.0/0", "VirtualAppliance")])
        vm_nsg = b.nsg("nsg-vms", rules=[ssh_from_aml_rule()])
        vm_subnet = b.subnet(s.vnet, "vms", "10.0.3.0/24", nsg=vm_nsg)
        nic = b.nic("nic-dsvm", vm_subnet, "10.0.3.4")
        self.vm_compute = b.vm_compute(s.workspace, "dsvm", b.vm("dsvm", nic))
        hdi_subnet = b.subnet(s.vnet, "hdi", "10.0.5.0/24", nsg=vm_nsg)
        cluster = hdinsight_cluster(b, "hdi-spark", s.vnet, hdi_subnet)
        self.hdi_compute = add_workspace_compute(b, s.workspace, "hdi", "HDInsight", {"address": "10.0.5.6", "sshPort": 22},
                                                 resource_id=cluster["id"])
        aks_nsg = b.nsg("nsg-aks", rules=[])
        aks_subnet = b.subnet(s.vnet, "aks", "10.0.8.0/22", nsg=aks_nsg)
        managed = b.managed_cluster("aks-ml", aks_subnet)
        self.aks_compute = b.aks_compute(s.workspace, "aks", managed)

    def document(self) -> dict[str, Any]:
        return self.scenario.builder.document()

    def expected_pairs(self) -> set[tuple[str, str]]:
        """Every (check, subject) the catalog makes applicable here."""
        s = self.scenario
        aml, vm, hdi, aks = s.compute_id, self.vm_compute["id"], self.hdi_compute["id"], self.aks_compute["id"]
        pairs = {(c, s.storage["id"]) for c in ("storage-vnet-rule", "storage-trusted-services", "storage-inference-access")}
        pairs |= {(c, s.key_vault["id"]) for c in ("keyvault-vnet-rule", "keyvault-trusted-services",
                                                   "keyvault-network-restricted")}
        pairs |= {(c, aml) for c in ("compute-vnet-location", "compute-batch-inbound", "compute-remote-login",
                                     "compute-forced-tunneling")}
        pairs |= {(c, x) for c in ("compute-outbound-vnet", "compute-outbound-internet") for x in (aml, vm)}
        pairs |= {("compute-subnet-capacity", s.subnet["id"]), ("compute-network-quota", s.quota_id),
                  ("compute-vnet-locks", s.vnet["id"]), ("attached-compute-ubuntu", vm),
                  ("attached-compute-ssh", vm), ("attached-compute-ssh", hdi)}
        pairs |= {(c, aks) for c in ("aks-inbound-from-aml", "aks-vnet-location", "aks-service-cidr",
                                     "aks-dns-service-ip", "aks-docker-bridge", "aks-scoring-inbound")}
        return pairs


def test_registered_checks_are_the_catalog() -> None:
    assert {c.id: c.severity for c in load_checks()} == CATALOG_SEVERITY


def test_every_applicable_pair_once_and_nothing_else() -> None:
    estate = MixedEstate()
    findings = run(estate.document()).result.findings
    applicable = [(f.check_id, f.resource_id) for f in findings if f.status != NOT_APPLICABLE]
    assert len(applicable) == len({(c, r.lower()) for c, r in applicable}), "a pair reported twice"
    # Exact spelling: every subject here is a resource of the snapshot (or the quota location id).
    assert set(applicable) == estate.expected_pairs()
    keyed = [(f.check_id, f.resource_id.lower()) for f in findings]
    assert len(keyed) == len(set(keyed)), "a not_applicable pair reported next to another finding for it"
    assert all(f.severity == CATALOG_SEVERITY[f.check_id] for f in findings)


def test_findings_json_document(tmp_path: Path) -> None:
    code, document = run_cli(MixedEstate().document(), tmp_path)
    assert document["format"] == "amlaudit.findings/v1"
    assert isinstance(document["generated_at"], str) and document["generated_at"]
    assert document["tool"]["name"] == "amlaudit" and document["tool"]["version"]
    assert isinstance(document["errors"], list)
    findings = document["findings"]
    assert findings and all(FINDING_KEYS <= set(f) for f in findings)
    assert all(f["status"] in STATUSES for f in findings)
    assert all(isinstance(f["evidence"], dict) and f["message"] for f in findings)
    counted = {status: sum(f["status"] == status for f in findings) for status in STATUSES}
    assert {k: document["summary"].get(k, 0) for k in STATUSES} == counted
    assert counted["fail"] > 0   # the forced-tunnelling route and the AKS NSG fail
    assert code == 1


def test_fingerprints_are_stable_across_runs_and_spellings(tmp_path: Path) -> None:
    document = MixedEstate().document()
    for name in ("first", "second", "third"):
        (tmp_path / name).mkdir()
    _, first = run_cli(document, tmp_path / "first")
    _, second = run_cli(document, tmp_path / "second")
    lowered = json.loads(json.dumps(document).replace("resourceGroups", "resourcegroups")
                         .replace("Microsoft.Network", "microsoft.network"))
    _, third = run_cli(lowered, tmp_path / "third")

    def prints(doc: dict[str, Any]) -> dict[tuple[str, str], str]:
        return {(f["check_id"], f["resource_id"].lower()): f["fingerprint"] for f in doc["findings"]}

    assert prints(first) == prints(second) == prints(third)
    assert len(set(prints(first).values())) == len(first["findings"])


# -- resource_id as Azure spelled it --------------------------------------------------------------------------


def test_subjects_keep_their_own_unusual_spelling() -> None:
    # The storage account, key vault and VNet are stored under ids with an upper-cased resource group;
    # the workspace and the compute refer to them in lower case. Findings name each by its own id.
    s = aml_scenario()
    for resource in (s.storage, s.key_vault):
        resource["id"] = resource["id"].replace("/rg-ml-prod/", "/RG-ML-PROD/")
    old_vnet = s.vnet["id"]
    s.vnet["id"] = old_vnet.replace("/rg-network/", "/RG-Network/")
    for subnet in s.vnet["properties"]["subnets"]:
        subnet["id"] = subnet["id"].replace(old_vnet, s.vnet["id"])
    s.workspace["properties"]["storageAccount"] = s.storage["id"].lower()
    s.workspace["properties"]["keyVault"] = s.key_vault["id"].lower()
    s.compute["properties"]["properties"]["subnet"]["id"] = s.subnet["id"].lower()
    findings = run(s.builder).result.findings
    by_check = {f.check_id: f.resource_id for f in findings}
    assert by_check["storage-trusted-services"] == s.storage["id"]
    assert by_check["keyvault-trusted-services"] == s.key_vault["id"]
    assert by_check["compute-vnet-locks"] == s.vnet["id"]
    assert by_check["compute-subnet-capacity"] == s.subnet["id"]
    assert by_check["compute-network-quota"] == f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/eastus"


def test_compute_subject_keeps_the_lower_cased_spelling_arm_returned() -> None:
    s = aml_scenario()
    s.compute["id"] = s.compute["id"].replace("resourceGroups", "resourcegroups")
    findings = run(s.builder).result.findings
    assert {f.resource_id for f in findings if f.check_id == "compute-batch-inbound"} == {s.compute["id"]}


def test_unreadable_subject_is_named_as_the_workspace_references_it() -> None:
    # The storage account could not be read: the only spelling Azure gave is the workspace's reference.
    s = aml_scenario()
    reference = s.storage["id"].replace("resourceGroups", "resourcegroups")
    s.workspace["properties"]["storageAccount"] = reference
    s.builder.drop(s.storage)
    s.builder.collection_error(s.storage["id"])
    findings = [f for f in run(s.builder).result.findings if f.check_id == "storage-trusted-services"]
    assert [(f.resource_id, f.status) for f in findings] == [(reference, "error")]


# -- exit codes -----------------------------------------------------------------------------------------------


def _high_only_failure() -> dict[str, Any]:
    """Everything passes except compute-network-quota (high): no public IPs left."""
    s = aml_scenario()
    for usage in s.builder.usages[0]["value"]:
        if usage["name"]["value"] == "PublicIPAddresses":
            usage["currentValue"] = usage["limit"]
    return s.document()


@pytest.mark.parametrize(("fail_on", "code"), [(None, 1), ("high", 1), ("critical", 0)])
def test_fail_on_threshold(tmp_path: Path, fail_on: str | None, code: int) -> None:
    extra = [] if fail_on is None else ["--fail-on", fail_on]
    status, document = run_cli(_high_only_failure(), tmp_path, *extra)
    failing = {(f["check_id"], f["severity"]) for f in document["findings"] if f["status"] == "fail"}
    assert failing == {("compute-network-quota", "high")}
    assert not any(f["status"] == "error" for f in document["findings"])
    assert status == code


def test_errors_below_the_threshold_exit_3(tmp_path: Path) -> None:
    document = _high_only_failure()
    document.pop("locks")   # compute-vnet-locks becomes error
    status, findings = run_cli(document, tmp_path, "--fail-on", "critical")
    assert any(f["check_id"] == "compute-vnet-locks" and f["status"] == "error" for f in findings["findings"])
    assert status == 3


def test_clean_estate_exits_0(tmp_path: Path) -> None:
    status, document = run_cli(aml_scenario().document(), tmp_path)
    assert {f["status"] for f in document["findings"]} <= {"pass", NOT_APPLICABLE}
    assert status == 0


@pytest.mark.parametrize("content", [b"{not json", b'{"format": "amlaudit.snapshot/v9", "resources": []}', b"[]"])
def test_unreadable_snapshot_exits_2_and_writes_nothing(tmp_path: Path, content: bytes,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_bytes(content)
    out = tmp_path / "out"
    status = cli_main(["scan", "--snapshot", str(snapshot), "--out", str(out), "--format", "json", "--quiet"])
    err = capsys.readouterr().err
    assert status == 2
    assert not (out / "findings.json").exists()
    assert err.strip().count("\n") == 0 and "Traceback" not in err


# -- snapshot reading ---------------------------------------------------------------------------------------


def _verdicts(document: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(f["check_id"], f["resource_id"].lower()): f["status"] for f in document["findings"]}


def test_gzip_snapshot_and_unknown_keys(tmp_path: Path) -> None:
    # "optionally gzip-compressed"; "Readers ignore keys they don't know; writers may add keys."
    plain = MixedEstate().document()
    extended = json.loads(json.dumps(plain))
    extended["collector"] = {"name": "someone-else", "version": "9.9"}
    for resource in extended["resources"]:
        resource["systemData"] = {"createdBy": "ops@example.com", "lastModifiedAt": "2026-11-01T00:00:00Z"}
    snapshot = tmp_path / "snapshot.json.gz"
    snapshot.write_bytes(gzip.compress(json.dumps(extended).encode()))
    out = tmp_path / "gz-out"
    status = cli_main(["scan", "--snapshot", str(snapshot), "--out", str(out), "--format", "json", "--quiet"])
    from_gzip = json.loads((out / "findings.json").read_text())
    (tmp_path / "plain").mkdir()
    plain_status, from_plain = run_cli(plain, tmp_path / "plain")
    assert _verdicts(from_gzip) == _verdicts(from_plain)
    assert status == plain_status == 1


def test_collection_errors_are_listed_in_findings_json(tmp_path: Path) -> None:
    s = aml_scenario()
    s.builder.drop(s.key_vault)
    s.builder.collection_error(s.key_vault["id"], operation="Microsoft.KeyVault/vaults/read")
    _, document = run_cli(s.document(), tmp_path)
    assert any(e.get("scope") == s.key_vault["id"] and e.get("status") == 403 and e.get("operation")
               and e.get("message") for e in document["errors"])


@pytest.mark.parametrize(("planned", "status"), [(2, "pass"), (3, "fail")])
def test_planned_clusters_from_the_config_file(tmp_path: Path, planned: int, status: str) -> None:
    # compute-network-quota's "setting, default 1", given in the run's TOML config (README: planned_new_clusters).
    s = aml_scenario()
    for usage in s.builder.usages[0]["value"]:
        if usage["name"]["value"] == "NetworkSecurityGroups":
            usage["currentValue"], usage["limit"] = 98.0, 100.0
    config = tmp_path / "run.toml"
    config.write_text(f"planned_new_clusters = {planned}\n")
    _, document = run_cli(s.document(), tmp_path, "--config", str(config))
    assert _verdicts(document)[("compute-network-quota", s.quota_id.lower())] == status


# -- one subject however it is referenced ----------------------------------------------------------------------


def test_storage_shared_under_two_spellings_is_one_subject() -> None:
    s = aml_scenario()
    ws_b = s.builder.workspace("mlw-team-b", storage=s.storage, key_vault=s.key_vault)
    ws_b["properties"]["storageAccount"] = s.storage["id"].lower()
    ws_b["properties"]["keyVault"] = s.key_vault["id"].upper().replace("/SUBSCRIPTIONS/", "/subscriptions/")
    s.builder.aml_compute(ws_b, "cpu-b", s.subnet)
    findings = run(s.builder).result.findings
    for check_id, own_id in (("storage-trusted-services", s.storage["id"]), ("storage-vnet-rule", s.storage["id"]),
                             ("keyvault-trusted-services", s.key_vault["id"]), ("keyvault-vnet-rule", s.key_vault["id"])):
        assert [(f.resource_id, f.status) for f in findings if f.check_id == check_id] == [(own_id, "pass")], check_id


def test_two_vnets_one_subscription_spelled_two_ways_is_one_quota_subject() -> None:
    s = aml_scenario()
    second = s.builder.vnet("vnet-ml-2", prefixes=["10.1.0.0/16"])
    second["id"] = second["id"].replace(SUB, SUB.upper())
    subnet = s.builder.subnet(second, "compute", "10.1.1.0/24")
    s.builder.aml_compute(s.workspace, "cpu-2", subnet)
    quota = [f for f in run(s.builder).result.findings if f.check_id == "compute-network-quota"]
    assert len(quota) == 1 and quota[0].resource_id.lower() == s.quota_id.lower() and quota[0].status == "pass"
