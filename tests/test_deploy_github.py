"""deploy/github-actions/amlaudit-nightly.yml: valid against SchemaStore's GitHub workflow schema, and
does what a nightly audit needs (OIDC without a secret, least privilege, exit statuses passed through,
reports published after failures too). Its scan step's shell is run against a stand-in amlaudit."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.deploy_templates import (
    GITHUB_WORKFLOW,
    errors_of,
    load_github_workflow,
    load_schema,
    option_value,
    run_script,
)

CRON_FIELD = r"(\*|\d+(-\d+)?(,\d+(-\d+)?)*)(/\d+)?"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@(v\d+|[0-9a-f]{40})$")


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(load_schema("github/github-workflow.json"))


@pytest.fixture
def workflow() -> dict[str, Any]:
    document: dict[str, Any] = load_github_workflow()
    return document


def steps(workflow: dict[str, Any], job: str = "audit") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = workflow["jobs"][job]["steps"]
    return found


def step(workflow: dict[str, Any], *, uses: str | None = None, step_id: str | None = None, job: str = "audit") -> dict[str, Any]:
    for candidate in steps(workflow, job):
        if (uses and candidate.get("uses", "").startswith(uses + "@")) or (step_id and candidate.get("id") == step_id):
            return candidate
    raise AssertionError(f"no step uses={uses} id={step_id} in job {job}")


def test_valid_against_the_schemastore_schema(validator: jsonschema.Draft7Validator, workflow: dict[str, Any]) -> None:
    assert errors_of(validator, workflow) == []


@pytest.mark.parametrize("break_it", [
    lambda w: w["jobs"]["audit"]["permissions"].__setitem__("id-token", "admin"),
    lambda w: w["jobs"]["audit"]["steps"][0].__setitem__("uzes", "actions/checkout@v6"),
    lambda w: w["on"].__setitem__("schedule", [{"crom": "17 3 * * *"}]),
    lambda w: w["jobs"]["audit"].pop("runs-on"),
])
def test_the_schema_rejects_a_broken_workflow(break_it: Any, validator: jsonschema.Draft7Validator,
                                              workflow: dict[str, Any]) -> None:
    broken = copy.deepcopy(workflow)
    break_it(broken)
    assert errors_of(validator, broken)


def test_on_is_read_as_a_key_not_a_boolean() -> None:
    assert "on" in load_github_workflow() and True not in load_github_workflow()


def test_scheduled_nightly_and_by_hand(workflow: dict[str, Any]) -> None:
    (schedule,) = workflow["on"]["schedule"]
    fields = schedule["cron"].split()
    assert len(fields) == 5 and all(re.fullmatch(CRON_FIELD, f) for f in fields)
    assert fields[2:] == ["*", "*", "*"]  # every day
    assert "workflow_dispatch" in workflow["on"]
    assert workflow["concurrency"]["cancel-in-progress"] is False


def test_least_privilege_tokens(workflow: dict[str, Any]) -> None:
    assert workflow["permissions"] == {}
    assert workflow["jobs"]["audit"]["permissions"] == {
        "id-token": "write", "contents": "read", "security-events": "write", "actions": "read"}
    assert workflow["jobs"]["tickets"]["permissions"] == {"issues": "write"}


def test_every_action_is_pinned(workflow: dict[str, Any]) -> None:
    used = [s["uses"] for job in workflow["jobs"].values() for s in job["steps"] if "uses" in s]
    assert used and all(PINNED.match(u) for u in used), used
    assert {u.split("@")[0] for u in used} == {"actions/checkout", "actions/setup-python", "actions/download-artifact",
                                               "azure/login", "github/codeql-action/upload-sarif", "actions/upload-artifact"}


def test_oidc_login_without_a_secret(workflow: dict[str, Any]) -> None:
    login = step(workflow, uses="azure/login")
    assert set(login["with"]) == {"client-id", "tenant-id", "subscription-id"}
    for value in login["with"].values():
        assert re.fullmatch(r"\$\{\{ (vars|secrets)\.AZURE_[A-Z_]+ \}\}", value)
    text = GITHUB_WORKFLOW.read_text()
    assert "client-secret" not in text and "creds:" not in text and "AZURE_CLIENT_SECRET" not in text
    names = [s.get("uses", s.get("id", s.get("name"))) for s in steps(workflow)]
    assert names.index(login["uses"]) < names.index("scan")


def test_the_scan_step(workflow: dict[str, Any]) -> None:
    scan = step(workflow, step_id="scan")
    assert scan["env"]["AZURE_TOKEN_CREDENTIALS"] == "AzureCliCredential"
    assert "continue-on-error" not in scan and "if" not in scan  # it runs, and its failure is the run's
    script = scan["run"]
    formats = re.search(r"--format (\S+)", script)
    assert formats and {"sarif", "markdown", "json", "html"} <= set(formats.group(1).split(","))
    assert "--waivers .amlaudit/waivers.toml" in script and "--baseline" in script
    assert script.rstrip().endswith('exit "$status"')
    assert workflow["jobs"]["audit"]["outputs"]["exit-status"] == "${{ steps.scan.outputs.exit-status }}"


def test_publishing_steps_run_after_failures_too(workflow: dict[str, Any]) -> None:
    names = [s.get("id") or s.get("uses") or s.get("name") for s in steps(workflow)]
    after_scan = steps(workflow)[names.index("scan") + 1:]
    assert len(after_scan) == 3
    for later in after_scan:
        assert later["if"].startswith("always() && hashFiles('amlaudit-out/")
    summary, sarif, artifact = after_scan
    assert summary["run"] == 'cat amlaudit-out/summary.md >> "$GITHUB_STEP_SUMMARY"'
    assert sarif["uses"].startswith("github/codeql-action/upload-sarif@")
    assert sarif["with"] == {"sarif_file": "amlaudit-out/findings.sarif", "category": "amlaudit"}
    assert artifact["uses"].startswith("actions/upload-artifact@")
    assert artifact["with"]["name"] == "amlaudit-out" and artifact["with"]["path"] == "amlaudit-out/"


def test_the_baseline_is_the_previous_runs_artifact(workflow: dict[str, Any]) -> None:
    download = step(workflow, uses="actions/download-artifact")
    assert download["with"]["name"] == step(workflow, uses="actions/upload-artifact")["with"]["name"]
    assert download["with"]["path"] == "previous"
    assert download["with"]["run-id"] == "${{ steps.previous.outputs.run-id }}"
    assert download["if"] == "steps.previous.outputs.run-id != ''"


def test_tickets_job_only_after_an_audit_that_produced_findings(workflow: dict[str, Any]) -> None:
    tickets = workflow["jobs"]["tickets"]
    assert tickets["needs"] == "audit"
    assert tickets["if"].startswith("always() && vars.AMLAUDIT_TICKETS == 'github'")
    assert "'2'" not in tickets["if"] and all(f"exit-status == '{s}'" in tickets["if"] for s in "013")


# -- the scan step's shell, run ------------------------------------------------------------------------

def _run_scan(workflow: dict[str, Any], workdir: Path, status: int, **env: str) -> tuple[Any, str]:
    output = workdir / "github-output"
    output.write_text("")
    # Runners start a `run:` script without `shell:` as `bash -e {0}`.
    result = run_script("set -e\n" + step(workflow, step_id="scan")["run"], shell="bash", workdir=workdir, status=status,
                        env={"GITHUB_OUTPUT": str(output), "AMLAUDIT_HISTORY_URL": "", **env})
    return result, output.read_text()


@pytest.mark.parametrize(("status", "annotation"), [
    (0, "::notice title=amlaudit::"), (1, "::error title=amlaudit::new failing findings"),
    (2, "::error title=amlaudit::exit 2"), (3, "::warning title=amlaudit::incomplete"),
])
def test_scan_step_passes_the_exit_status_through(status: int, annotation: str, workflow: dict[str, Any],
                                                  tmp_path: Path) -> None:
    result, output = _run_scan(workflow, tmp_path, status)
    assert result.status == status
    assert f"exit-status={status}\n" in output
    assert result.stdout.startswith(annotation)


def test_scan_step_uses_the_previous_findings_and_history_when_there_are_some(workflow: dict[str, Any],
                                                                             tmp_path: Path) -> None:
    first, _ = _run_scan(workflow, tmp_path, 1)
    assert first.argv is not None and "--baseline" not in first.argv
    assert option_value(first.argv, "--history") == "amlaudit-out/history.db"
    previous = tmp_path / "previous"
    previous.mkdir()
    (previous / "findings.json").write_text("{}")
    (previous / "history.db").write_text("runs so far")
    second, _ = _run_scan(workflow, tmp_path, 0)
    assert second.argv is not None and option_value(second.argv, "--baseline") == "previous/findings.json"
    assert (tmp_path / "amlaudit-out" / "history.db").read_text() == "runs so far"
    third, _ = _run_scan(workflow, tmp_path, 0, AMLAUDIT_HISTORY_URL="postgresql://db/audits")
    assert third.argv is not None and option_value(third.argv, "--history") == "postgresql://db/audits"
