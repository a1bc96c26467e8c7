"""deploy/docker/Dockerfile, parsed with dockerfile-parse (no Docker engine here to build it): a base
pinned by version tag and digest, a non-root user, `amlaudit` as the entry point, pip without its
cache, the project installed from the build context, nothing secret inside."""

from __future__ import annotations

import ast
import io
import json
import re
import tomllib

import pytest
from dockerfile_parse import DockerfileParser

from tests.deploy_templates import DOCKERFILE, REPO

BASE = re.compile(r"^python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}$")
SECRET_NAME = re.compile(r"(?i)(secret|password|passwd|token|_key$|apikey|api_key|credential|connection_?string)")


def instructions(text: str) -> list[tuple[str, str]]:
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode()))
    return [(item["instruction"], item["value"]) for item in parser.structure if item["instruction"] != "COMMENT"]


def dockerfile_problems(text: str) -> list[str]:
    """What keeps `text` from being the image the deploy templates expect; [] if nothing."""
    steps = instructions(text)
    problems: list[str] = []
    froms = [value for name, value in steps if name == "FROM"]
    if len(froms) != 1 or not BASE.match(froms[0].split()[0]):
        problems.append(f"base not python:3.11.N-slim-bookworm pinned by tag and digest: {froms}")
    users = [(i, value) for i, (name, value) in enumerate(steps) if name == "USER"]
    if not users:
        problems.append("no USER: the image would run as root")
    else:
        position, user = users[-1]
        if user.split(":")[0] in ("0", "root") or not user.split(":")[0].isdigit():
            problems.append(f"USER {user!r}: must be a numeric non-root id (runAsNonRoot checks it)")
        if any(name == "RUN" for name, _ in steps[position:]):
            problems.append("RUN after the final USER")
    entrypoints = [value for name, value in steps if name == "ENTRYPOINT"]
    try:
        if len(entrypoints) != 1 or json.loads(entrypoints[0]) != ["amlaudit"]:
            problems.append(f"ENTRYPOINT is not exec-form [\"amlaudit\"]: {entrypoints}")
    except json.JSONDecodeError:
        problems.append(f"ENTRYPOINT is in shell form: {entrypoints}")
    for name, value in steps:
        if name == "RUN" and re.search(r"\bpip\b[^&;|]*\binstall\b", value):
            for install in re.findall(r"\bpip\b[^&;|]*\binstall\b[^&;|]*", value):
                if "--no-cache-dir" not in install:
                    problems.append(f"pip install without --no-cache-dir: {install.strip()}")
        if name == "ADD" and re.search(r"https?://", value):
            problems.append(f"ADD from a URL: {value}")
        if name in ("ENV", "ARG"):
            for assignment in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)(?:=|\s|$)", value.split("#")[0]):
                if SECRET_NAME.search(assignment):
                    problems.append(f"{name} {assignment}: secrets must not be baked into the image")
        if name == "COPY" and re.search(r"(?i)(\.env\b|id_rsa|\.pem\b|\.pfx\b|credentials|\.azure\b|\.kube\b)", value):
            problems.append(f"COPY of a credential file: {value}")
    return problems


def copied_sources(text: str) -> set[str]:
    sources: set[str] = set()
    for name, value in instructions(text):
        if name == "COPY":
            words = [w for w in value.split() if not w.startswith("--")]
            sources.update(w.rstrip("/") for w in words[:-1])
    return sources


def test_the_dockerfile_has_the_properties_the_templates_rely_on() -> None:
    assert dockerfile_problems(DOCKERFILE.read_text()) == []


@pytest.mark.parametrize(("change", "expected"), [
    (("python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d",
      "python:3.11-slim-bookworm"), "base not"),
    (("USER 10001:10001", "USER root"), "USER 'root'"),
    (("USER 10001:10001\n", ""), "no USER"),
    (('ENTRYPOINT ["amlaudit"]', "ENTRYPOINT amlaudit"), "shell form"),
    (('ENTRYPOINT ["amlaudit"]', 'ENTRYPOINT ["python", "-m", "amlaudit"]'), "not exec-form"),
    (("pip install --no-cache-dir", "pip install"), "without --no-cache-dir"),
    (("HOME=/tmp", "HOME=/tmp \\\n    AZURE_CLIENT_SECRET=abc"), "AZURE_CLIENT_SECRET"),
    (("COPY checks /src/checks", "COPY checks /src/checks\nCOPY .azure /home/.azure"), "credential file"),
    (('CMD ["--help"]', 'RUN echo late\nCMD ["--help"]'), "RUN after the final USER"),
])
def test_the_checks_catch_a_bad_dockerfile(change: tuple[str, str], expected: str) -> None:
    text = DOCKERFILE.read_text()
    assert change[0] in text
    problems = dockerfile_problems(text.replace(change[0], change[1]))
    assert any(expected in p for p in problems), problems


def test_installs_the_project_from_the_build_context() -> None:
    text = DOCKERFILE.read_text()
    # setup.py maps these folders into the amlaudit package; pyproject.toml names the readme.
    folders = next(ast.literal_eval(node.value) for node in ast.walk(ast.parse((REPO / "setup.py").read_text()))
                   if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "FOLDERS")
    readme = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["readme"]
    assert copied_sources(text) == {"pyproject.toml", "setup.py", readme, *folders}
    installs = [value for name, value in instructions(text) if name == "RUN" and "pip install" in value]
    assert len(installs) == 1 and re.search(r"pip install [^&]*\s/src(\s|$)", installs[0])
    assert "amlaudit==" not in text  # the build context, not a registry release


def test_the_build_ignore_file_sends_what_the_image_copies() -> None:
    ignore = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().splitlines()
    patterns = [line for line in ignore if line and not line.startswith("#")]
    assert patterns[0] == "**"  # everything is left out, then only what the image copies is let back in
    kept = {line[1:] for line in ignore if line.startswith("!")}
    assert kept == copied_sources(DOCKERFILE.read_text())
    assert "**/__pycache__" in ignore


def test_runtime_environment_suits_a_read_only_root() -> None:
    env = DockerfileParser(fileobj=io.BytesIO(DOCKERFILE.read_bytes())).envs
    assert env["PYTHONDONTWRITEBYTECODE"] == "1" and env["HOME"] == "/tmp"
    steps = instructions(DOCKERFILE.read_text())
    names = [name for name, _ in steps]
    # Bytecode is compiled by pip at install time, before PYTHONDONTWRITEBYTECODE is set.
    assert names.index("ENV") > max(i for i, (name, value) in enumerate(steps) if name == "RUN" and "pip" in value)
