"""deploy/kubernetes/amlaudit-cronjob.yaml: every document valid against the Kubernetes 1.32 JSON schema
of its kind (strict: unknown fields are errors), workload identity wired, locked down, and its
container script run against a stand-in amlaudit on a scratch state directory."""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.deploy_templates import errors_of, kubernetes_validator, load_kubernetes, option_value, run_script

STATE = "/var/lib/amlaudit"


@pytest.fixture
def documents() -> dict[str, dict[str, Any]]:
    docs = load_kubernetes()
    by_kind = {doc["kind"]: doc for doc in docs}
    assert len(by_kind) == len(docs)
    return by_kind


def pod_spec(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = documents["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec


def container(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (only,) = pod_spec(documents)["containers"]
    return only


def test_the_documents(documents: dict[str, dict[str, Any]]) -> None:
    assert set(documents) == {"ServiceAccount", "ConfigMap", "PersistentVolumeClaim", "CronJob"}


@pytest.mark.parametrize("kind", ["ServiceAccount", "ConfigMap", "PersistentVolumeClaim", "CronJob"])
def test_valid_against_the_kubernetes_schema(kind: str, documents: dict[str, dict[str, Any]]) -> None:
    doc = documents[kind]
    assert errors_of(kubernetes_validator(doc["apiVersion"], doc["kind"]), doc) == []


@pytest.mark.parametrize("break_it", [
    lambda c: c["spec"].__setitem__("concurrencyPolice", "Forbid"),  # unknown field (strict schema)
    lambda c: c["spec"]["jobTemplate"]["spec"].__setitem__("backoffLimit", "two"),
    lambda c: c["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["securityContext"].__setitem__(
        "readOnlyRootFilesystem", "yes"),
    lambda c: c["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0].pop("name"),
])
def test_the_schema_rejects_a_broken_cronjob(break_it: Any, documents: dict[str, dict[str, Any]]) -> None:
    broken = copy.deepcopy(documents["CronJob"])
    break_it(broken)
    assert errors_of(kubernetes_validator("batch/v1", "CronJob"), broken)


def test_workload_identity(documents: dict[str, dict[str, Any]]) -> None:
    account = documents["ServiceAccount"]
    client_id = account["metadata"]["annotations"]["azure.workload.identity/client-id"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", client_id)
    template = documents["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]
    assert template["metadata"]["labels"]["azure.workload.identity/use"] == "true"  # a string, as the webhook wants
    assert pod_spec(documents)["serviceAccountName"] == account["metadata"]["name"]
    env = {e["name"]: e for e in container(documents)["env"]}
    assert env["AZURE_TOKEN_CREDENTIALS"]["value"] == "WorkloadIdentityCredential"
    # No credential in the manifest: the one token the job may use comes from a Secret, and is optional.
    assert "value" not in env["GITHUB_TOKEN"] and env["GITHUB_TOKEN"]["valueFrom"]["secretKeyRef"]["optional"] is True


def test_schedule_and_failure_handling(documents: dict[str, dict[str, Any]]) -> None:
    spec = documents["CronJob"]["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert len(spec["schedule"].split()) == 5 and spec["schedule"].split()[2:] == ["*", "*", "*"]
    job = spec["jobTemplate"]["spec"]
    fail_job, ignore = job["podFailurePolicy"]["rules"]
    assert fail_job["action"] == "FailJob"
    assert fail_job["onExitCodes"] == {"containerName": container(documents)["name"], "operator": "In", "values": [1, 2, 3]}
    assert ignore["action"] == "Ignore" and ignore["onPodConditions"][0]["type"] == "DisruptionTarget"
    assert pod_spec(documents)["restartPolicy"] == "Never"  # podFailurePolicy requires it


def test_locked_down(documents: dict[str, dict[str, Any]]) -> None:
    pod = pod_spec(documents)["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0 and pod["runAsGroup"] != 0
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    main = container(documents)
    security = main["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False and security["capabilities"]["drop"] == ["ALL"]
    assert {"cpu", "memory"} <= set(main["resources"]["limits"]) and {"cpu", "memory"} <= set(main["resources"]["requests"])
    assert documents["ServiceAccount"]["automountServiceAccountToken"] is False
    assert pod_spec(documents)["automountServiceAccountToken"] is False


def test_writes_only_to_its_volumes(documents: dict[str, dict[str, Any]]) -> None:
    volumes = {v["name"]: v for v in pod_spec(documents)["volumes"]}
    mounts = {m["mountPath"]: m for m in container(documents)["volumeMounts"]}
    state = volumes[mounts[STATE]["name"]]
    assert state["persistentVolumeClaim"]["claimName"] == documents["PersistentVolumeClaim"]["metadata"]["name"]
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]
    config = mounts["/etc/amlaudit"]
    assert config["readOnly"] is True
    config_map = documents["ConfigMap"]
    assert volumes[config["name"]]["configMap"]["name"] == config_map["metadata"]["name"]
    script = container(documents)["args"][0]
    for path in re.findall(r"/etc/amlaudit/([\w.]+)", script):
        assert path in config_map["data"]
    # Every absolute path the script writes is on a writable volume.
    written = re.findall(r'(?:--out|--history|mv|cp \S+) "?(/[^"\s]+|\$state[^"\s]*)', script)
    assert written
    for path in written:
        assert path.startswith("$state") or path.startswith(STATE) or path.startswith("/tmp")
    assert "state=/var/lib/amlaudit" in script


# -- the container script, run ------------------------------------------------------------------------

def _script(documents: dict[str, dict[str, Any]], state: Path) -> str:
    command = [*container(documents)["command"], *container(documents)["args"]]
    assert command[:2] == ["/bin/sh", "-c"]
    return command[2].replace(STATE, str(state)).replace("/etc/amlaudit", str(state.parent / "etc"))


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX sh")
def test_script_keeps_the_baseline_between_runs(documents: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    script = _script(documents, state)
    first = run_script(script, shell="sh", workdir=tmp_path, status=1, run_label="first")
    assert first.status == 1 and first.argv is not None
    assert "--baseline" not in first.argv and "--tickets" not in first.argv
    assert option_value(first.argv, "--history") == str(state / "history.db")
    assert first.argv[:3] == ["--log-format", "json", "scan"]
    out_dir = Path(option_value(first.argv, "--out") or "")
    assert out_dir.parent == state / "runs"
    assert (state / "baseline.json").read_text() == "run first\n"

    failed = run_script(script, shell="sh", workdir=tmp_path, status=2, run_label="failed")
    assert failed.status == 2
    assert (state / "baseline.json").read_text() == "run first\n"  # exit 2 wrote nothing: the baseline stays

    second = run_script(script, shell="sh", workdir=tmp_path, status=0, run_label="second",
                        env={"AMLAUDIT_TICKETS": "github"})
    assert second.status == 0 and second.argv is not None
    assert option_value(second.argv, "--baseline") == str(state / "baseline.json")
    assert option_value(second.argv, "--tickets") == "github"
    assert (state / "baseline.json").read_text() == "run second\n"
    assert second.stderr == ""  # nothing but amlaudit's own events may reach the log collector


@pytest.mark.parametrize("status", [0, 1, 2, 3])
def test_script_exits_with_amlaudits_status(status: int, documents: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    assert run_script(_script(documents, state), shell="sh", workdir=tmp_path, status=status).status == status
