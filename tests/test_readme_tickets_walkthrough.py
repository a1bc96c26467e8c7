"""The README's tickets walk-through, run as written: scan, dry run, sync (twice) and a waiver,
against the three stand-ins, each started by the walk-through itself.

The block is taken from the README (between "python -m tests.github_standin" and its closing
fence) so the README cannot drift from what works. Only the ports (free ones, so parallel
runs and busy machines do not collide) and the working directory are changed. The test
then reads the output: every target created the 26 tickets of the demo's failures, a
second sync made no change, and the waiver marked the three waived tickets accepted.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README_PORTS = ("8085", "8081", "8082")  # GitHub, Jira, Azure Boards stand-ins


def walkthrough_script() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index("python -m tests.github_standin --port 8085 &")
    end = readme.index("```", start)
    return readme[start:end]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.skipif(shutil.which("bash") is None, reason="the walk-through is a bash script")
def test_readme_tickets_walkthrough_runs_as_written(tmp_path: Path) -> None:
    script = walkthrough_script()
    for port in README_PORTS:
        assert f"--port {port}" in script and f"127.0.0.1:{port}" in script
        script = script.replace(port, str(free_port()))
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(REPO)}
    for name in ("GITHUB_TOKEN", "JIRA_EMAIL", "JIRA_API_TOKEN", "JIRA_PAT", "AZURE_DEVOPS_EXT_PAT"):
        env.pop(name, None)
    # The stand-ins run in the background of the script and hold its output pipe open: the script
    # ends them when it ends (and its process group is ended after, whatever happened).
    wrapper = f"set -u\ntrap 'kill $(jobs -p) 2>/dev/null' EXIT\ncd {shlex.quote(str(tmp_path))}\n"
    # The stand-ins need a moment to listen before the first sync: wait for their ports.
    script = script.replace("export GITHUB_TOKEN", _wait_for_ports(script) + "export GITHUB_TOKEN", 1)
    process = subprocess.Popen(["bash", "-c", wrapper + script], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=240)
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    assert process.returncode == 0, output[-4000:]
    done = re.findall(r"^(GitHub|Jira|Azure Boards) .*: done, (\d+) changes made$", output, re.M)
    assert done == [("GitHub", "26"), ("GitHub", "0"), ("Jira", "26"), ("Jira", "0"),
                    ("Azure Boards", "26"), ("Azure Boards", "0"), ("Jira", "3")], output[-4000:]
    assert "(dry run: only reads were sent)" in output
    assert len(re.findall(r"^marked accepted SEC-\d+ ", output, re.M)) == 3


def _wait_for_ports(script: str) -> str:
    ports = re.findall(r"--port (\d+) &", script)
    checks = " && ".join(f"(exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null" for port in ports)
    return f"for i in $(seq 200); do {checks} && break; sleep 0.1; done\n"
