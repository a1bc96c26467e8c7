"""Shared by the tests of the scheduled-run templates under deploy/: loading them as their runners
do, the vendored schemas, the `amlaudit …` command lines inside them, and running their shell
scripts against a stand-in `amlaudit` that records what it was asked.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
SCHEMAS = Path(__file__).resolve().parent / "data" / "schemas"
GITHUB_WORKFLOW = DEPLOY / "github-actions" / "amlaudit-nightly.yml"
AZURE_PIPELINE = DEPLOY / "azure-pipelines" / "amlaudit-nightly.yml"
KUBERNETES = DEPLOY / "kubernetes" / "amlaudit-cronjob.yaml"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
README = REPO / "README.md"
SCHEDULE_SECTION = "## Run it on a schedule"


# -- loading ----------------------------------------------------------------------------------------------

class Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 core booleans (true/false only), as GitHub's workflow parser reads them: under PyYAML's
    YAML 1.1 rules the key `on:` would become the boolean True."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                   list("tTfF"))


def load_github_workflow(text: str | None = None) -> Any:
    return yaml.load(GITHUB_WORKFLOW.read_text() if text is None else text, Loader=Yaml12Loader)


def load_azure_pipeline(text: str | None = None) -> Any:
    """Every scalar a string, as Azure Pipelines reads its YAML (it converts values per input later)."""
    return yaml.load(AZURE_PIPELINE.read_text() if text is None else text, Loader=yaml.BaseLoader)


def load_kubernetes(text: str | None = None) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(KUBERNETES.read_text() if text is None else text) if doc is not None]


# -- vendored schemas -------------------------------------------------------------------------------------

def read_vendored(relative: str) -> bytes:
    """A vendored file's bytes as published (`.gz` copies are stored compressed, byte for byte)."""
    data = (SCHEMAS / relative).read_bytes()
    return gzip.decompress(data) if relative.endswith(".gz") else data


def load_schema(relative: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(read_vendored(relative).decode("utf-8-sig"))
    return schema


def git_blob_sha(data: bytes) -> str:
    """The id git gives a file's content: what SOURCES.md records for each vendored schema."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def errors_of(validator: jsonschema.protocols.Validator, document: Any) -> list[str]:
    return [f"{'/'.join(map(str, error.absolute_path)) or '(document)'}: {error.message[:300]}"
            for error in validator.iter_errors(document)]


def _azure_boolean(checker: Any, instance: Any) -> bool:
    return isinstance(instance, bool) or (isinstance(instance, str) and instance.lower() in ("true", "false"))


def _azure_integer(checker: Any, instance: Any) -> bool:
    if isinstance(instance, bool):
        return False
    return isinstance(instance, int) or (isinstance(instance, str) and re.fullmatch(r"-?\d+", instance) is not None)


def azure_pipelines_validator() -> jsonschema.protocols.Validator:
    """Microsoft's pipeline schema, read as Azure Pipelines reads YAML: every scalar is a string, and a
    task input declared boolean or integer is that string converted (`"true"`, `"3"`). The schema's
    own top-level booleans (`always`, `batch`) are already string patterns. Its editor-only keywords
    (`firstProperty`, `ignoreCase`, `aliases`, `doNotSuggest`) are not validation and are ignored."""
    base = jsonschema.Draft7Validator
    checker = base.TYPE_CHECKER.redefine("boolean", _azure_boolean).redefine("integer", _azure_integer)
    validator_class = jsonschema.validators.extend(base, type_checker=checker)
    return validator_class(load_schema("azure-pipelines/service-schema.json.gz"))


KUBERNETES_SCHEMAS = {
    ("v1", "ServiceAccount"): "kubernetes/serviceaccount-v1.json",
    ("v1", "ConfigMap"): "kubernetes/configmap-v1.json",
    ("v1", "PersistentVolumeClaim"): "kubernetes/persistentvolumeclaim-v1.json",
    ("batch/v1", "CronJob"): "kubernetes/cronjob-batch-v1.json.gz",
}


def kubernetes_validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    schema = load_schema(KUBERNETES_SCHEMAS[(api_version, kind)])
    # The files say "$schema": "http://json-schema.org/schema#" (no draft); they are draft-04 shaped.
    return jsonschema.Draft4Validator(schema)


# -- amlaudit command lines -------------------------------------------------------------------------------

@dataclass(frozen=True)
class CommandLine:
    where: str  # "deploy/kubernetes/amlaudit-cronjob.yaml" or "README.md"
    text: str  # the command as written (continuations joined)
    argv: tuple[str, ...]  # what the shell passes to amlaudit, `amlaudit` first


# ${NAME:+word}: the shell's "word if NAME is set": the templates add optional options this way.
_ALTERNATE_VALUE = re.compile(r"\$\{\w+:\+([^}]*)\}")
_CONTROL = {";", "&&", "||", "|", "&", "\n"}


def amlaudit_commands(script: str, where: str) -> list[CommandLine]:
    """Every simple command in a shell script whose program is `amlaudit`."""
    joined = re.sub(r"\\\n", " ", script)
    found: list[CommandLine] = []
    for line in joined.splitlines():
        if not line.strip() or line.strip().startswith("#"):
            continue
        lexer = shlex.shlex(_ALTERNATE_VALUE.sub(r"\1", line), posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        words: list[str] = []
        for token in [*lexer, ";"]:
            if token in _CONTROL:
                if words and words[0] == "amlaudit":
                    found.append(CommandLine(where, line.strip(), tuple(words)))
                words = []
            else:
                words.append(token)
    return found


def github_scripts() -> Iterator[str]:
    for job in load_github_workflow()["jobs"].values():
        for step in job["steps"]:
            if "run" in step:
                yield step["run"]


def azure_pipeline_scripts() -> Iterator[str]:
    for job in load_azure_pipeline()["jobs"]:
        for step in job["steps"]:
            if "script" in step:
                yield step["script"]
            if step.get("task", "").startswith("AzureCLI@") and "inlineScript" in step["inputs"]:
                yield step["inputs"]["inlineScript"]


def kubernetes_scripts() -> Iterator[str]:
    for doc in load_kubernetes():
        if doc["kind"] == "CronJob":
            for container in doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]:
                command = [*container.get("command", []), *container.get("args", [])]
                if command[:2] == ["/bin/sh", "-c"]:
                    yield command[2]
                else:
                    yield shlex.join(["amlaudit", *command])  # the image's entry point is amlaudit


def readme_schedule_section() -> str:
    text = README.read_text()
    start = text.index(SCHEDULE_SECTION)
    end = text.find("\n## ", start + len(SCHEDULE_SECTION))
    return text[start:] if end < 0 else text[start:end]


def readme_scripts() -> Iterator[str]:
    """Shell code blocks of the README's nightly-job section, and inline code spans that are commands."""
    section = readme_schedule_section()
    for language, body in re.findall(r"```(\w*)\n(.*?)```", section, flags=re.S):
        if language in ("", "sh", "bash", "shell", "console"):
            yield body
    prose = re.sub(r"```.*?```", "", section, flags=re.S)
    for span in re.findall(r"`(amlaudit [^`]+)`", prose):
        if "…" not in span:  # `amlaudit --quiet scan …` stands for any scan
            yield span


def all_command_lines() -> list[CommandLine]:
    sources = [
        (str(GITHUB_WORKFLOW.relative_to(REPO)), github_scripts()),
        (str(AZURE_PIPELINE.relative_to(REPO)), azure_pipeline_scripts()),
        (str(KUBERNETES.relative_to(REPO)), kubernetes_scripts()),
        ("README.md", readme_scripts()),
    ]
    return [command for where, scripts in sources for script in scripts for command in amlaudit_commands(script, where)]


# -- running a template's script --------------------------------------------------------------------------

FAKE_AMLAUDIT = r"""#!/bin/sh
# Stand-in for amlaudit: records its arguments (one per line), writes the reports a scan would write
# to --out unless it is to exit 2 (a run that stops with exit 2 writes nothing), exits $FAKE_STATUS.
printf '%s\n' "$@" > "$FAKE_ARGV"
out=""
previous=""
for arg in "$@"; do
  if [ "$previous" = "--out" ]; then out="$arg"; fi
  previous="$arg"
done
status="${FAKE_STATUS:-0}"
if [ -n "$out" ] && [ "$status" != 2 ]; then
  mkdir -p "$out"
  for name in findings.json report.html findings.sarif junit.xml summary.md; do
    printf 'run %s\n' "$FAKE_RUN" > "$out/$name"
  done
fi
exit "$status"
"""


@dataclass
class ScriptRun:
    status: int
    stdout: str
    stderr: str
    argv: list[str] | None  # what the stand-in amlaudit received; None if it was not called


def run_script(script: str, *, shell: str, workdir: Path, status: int, env: Mapping[str, str] | None = None,
               run_label: str = "1") -> ScriptRun:
    """Run a template's script with `shell`, `amlaudit` being the stand-in above, in `workdir`."""
    bin_dir = workdir / ".fake-bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    fake = bin_dir / "amlaudit"
    fake.write_text(FAKE_AMLAUDIT)
    fake.chmod(0o755)
    argv_file = workdir / ".fake-argv"
    argv_file.unlink(missing_ok=True)
    environment = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "HOME": str(workdir),
                   "FAKE_STATUS": str(status), "FAKE_ARGV": str(argv_file), "FAKE_RUN": run_label, **(env or {})}
    done = subprocess.run([shell, "-c", script], cwd=workdir, env=environment, capture_output=True, text=True,
                          timeout=60, check=False)
    argv = argv_file.read_text().splitlines() if argv_file.exists() else None
    return ScriptRun(done.returncode, done.stdout, done.stderr, argv)


def option_value(argv: list[str], option: str) -> str | None:
    return argv[argv.index(option) + 1] if option in argv else None
