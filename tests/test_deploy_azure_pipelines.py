"""deploy/azure-pipelines/amlaudit-nightly.yml: valid against Microsoft's Azure Pipelines schema
(service-schema.json, which knows each task's inputs), and does what a nightly audit needs. Its
AzureCLI script is run against a stand-in amlaudit, with the pipeline's macros filled in."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.deploy_templates import azure_pipelines_validator, errors_of, load_azure_pipeline, option_value, run_script


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    return azure_pipelines_validator()


@pytest.fixture
def pipeline() -> dict[str, Any]:
    document: dict[str, Any] = load_azure_pipeline()
    return document


def task(pipeline: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [s for s in pipeline["jobs"][0]["steps"] if s.get("task") == name]
    return found


def test_valid_against_microsofts_pipeline_schema(validator: jsonschema.protocols.Validator,
                                                  pipeline: dict[str, Any]) -> None:
    assert errors_of(validator, pipeline) == []


@pytest.mark.parametrize("break_it", [
    lambda p: task(p, "AzureCLI@2")["inputs"].__setitem__("azureSubscriptionn", "x"),  # a misspelt input
    lambda p: task(p, "AzureCLI@2")["inputs"].pop("scriptType"),  # a required input
    lambda p: task(p, "PublishTestResults@2")["inputs"].__setitem__("testResultsFormat", "JUnit5"),
    lambda p: task(p, "DownloadPipelineArtifact@2")["inputs"].__setitem__("allowFailedBuilds", "maybe"),
    lambda p: p["schedules"][0].__setitem__("always", "sometimes"),
    lambda p: p["schedules"][0].__setitem__("crontab", "17 3 * * *"),
])
def test_the_schema_rejects_a_broken_pipeline(break_it: Any, validator: jsonschema.protocols.Validator,
                                              pipeline: dict[str, Any]) -> None:
    broken = copy.deepcopy(pipeline)
    break_it(broken)
    assert errors_of(validator, broken)


def test_nightly_schedule_that_runs_without_changes(pipeline: dict[str, Any]) -> None:
    (schedule,) = pipeline["schedules"]
    assert schedule["always"] == "true"
    assert len(schedule["cron"].split()) == 5 and schedule["cron"].split()[2:] == ["*", "*", "*"]
    assert schedule["branches"]["include"] == ["main"]
    assert pipeline["trigger"] == "none" and pipeline["pr"] == "none"


def test_azure_cli_task_with_a_service_connection(pipeline: dict[str, Any]) -> None:
    azure_cli = task(pipeline, "AzureCLI@2")
    inputs = azure_cli["inputs"]
    assert inputs["azureSubscription"] == "${{ variables.serviceConnection }}"
    assert {v["name"]: v["value"] for v in pipeline["variables"]}["serviceConnection"]
    assert (inputs["scriptType"], inputs["scriptLocation"], inputs["failOnStandardError"]) == ("bash", "inlineScript", "false")
    assert azure_cli["env"] == {"AZURE_TOKEN_CREDENTIALS": "AzureCliCredential"}
    formats = re.search(r"--format (\S+)", inputs["inlineScript"])
    assert formats and {"junit", "json", "html"} <= set(formats.group(1).split(","))
    assert "continueOnError" not in azure_cli and "condition" not in azure_cli


def test_junit_and_artifact_published_after_failures_too(pipeline: dict[str, Any]) -> None:
    junit = task(pipeline, "PublishTestResults@2")
    assert junit["condition"] == "always()"
    assert junit["inputs"]["testResultsFormat"] == "JUnit"
    assert junit["inputs"]["testResultsFiles"] == "$(out)/junit.xml"
    artifact = task(pipeline, "PublishPipelineArtifact@1")
    assert artifact["condition"] == "and(always(), eq(variables['amlauditReports'], 'yes'))"
    assert (artifact["inputs"]["targetPath"], artifact["inputs"]["artifact"]) == ("$(out)", "amlaudit-out")
    order = [s.get("task") for s in pipeline["jobs"][0]["steps"]]
    assert order.index("AzureCLI@2") < order.index("PublishTestResults@2") < order.index("PublishPipelineArtifact@1")


def test_the_baseline_is_the_latest_run_with_reports(pipeline: dict[str, Any]) -> None:
    download = task(pipeline, "DownloadPipelineArtifact@2")
    assert download["continueOnError"] == "true"  # the first run has no baseline
    inputs = download["inputs"]
    assert inputs["artifactName"] == task(pipeline, "PublishPipelineArtifact@1")["inputs"]["artifact"]
    assert (inputs["buildType"], inputs["definition"]) == ("specific", "$(System.DefinitionId)")
    assert inputs["allowFailedBuilds"] == "true" and inputs["tags"] == "amlaudit-reports"
    assert inputs["targetPath"] == "$(Pipeline.Workspace)/previous"


# -- the AzureCLI script, run -----------------------------------------------------------------------------

def _script(pipeline: dict[str, Any], workdir: Path) -> str:
    """The inline script as the agent runs it: macros replaced by their values."""
    return (task(pipeline, "AzureCLI@2")["inputs"]["inlineScript"]
            .replace("$(Pipeline.Workspace)", str(workdir / "pipeline"))
            .replace("$(out)", str(workdir / "staging" / "amlaudit-out")))


@pytest.mark.parametrize(("status", "message"), [
    (0, "no new failing finding"), (1, "##vso[task.logissue type=error]amlaudit: new failing findings"),
    (2, "##vso[task.logissue type=error]amlaudit: exit 2"), (3, "##vso[task.logissue type=warning]amlaudit: incomplete"),
])
def test_script_passes_the_exit_status_through(status: int, message: str, pipeline: dict[str, Any], tmp_path: Path) -> None:
    result = run_script(_script(pipeline, tmp_path), shell="bash", workdir=tmp_path, status=status)
    assert result.status == status
    assert message in result.stdout
    # Only a run that wrote reports publishes them and tags itself as tomorrow's baseline.
    tagged = "##vso[build.addbuildtag]amlaudit-reports" in result.stdout
    published = "##vso[task.setvariable variable=amlauditReports]yes" in result.stdout
    assert tagged == published == (status != 2)


def test_script_uses_the_previous_findings_and_history(pipeline: dict[str, Any], tmp_path: Path) -> None:
    first = run_script(_script(pipeline, tmp_path), shell="bash", workdir=tmp_path, status=1)
    assert first.argv is not None and "--baseline" not in first.argv
    previous = tmp_path / "pipeline" / "previous"
    previous.mkdir(parents=True)
    (previous / "findings.json").write_text("{}")
    (previous / "history.db").write_text("runs so far")
    second = run_script(_script(pipeline, tmp_path), shell="bash", workdir=tmp_path, status=0)
    assert second.argv is not None
    assert option_value(second.argv, "--baseline") == str(previous / "findings.json")
    history = option_value(second.argv, "--history")
    assert history == str(tmp_path / "staging" / "amlaudit-out" / "history.db")
    assert Path(history).read_text() == "runs so far"
