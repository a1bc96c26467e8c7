"""--config values reach the stages they configure; flags win over the file."""

from pathlib import Path

import pytest

import amlaudit.auditor.collect
from amlaudit.auditor.cli import main


def test_config_timeouts_and_concurrency_reach_the_collector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def fake_collect(options, credential=None):  # stands in for the network, not for the SDK
        seen["options"] = options
        raise ValueError("stop here")

    monkeypatch.setattr(amlaudit.auditor.collect, "collect", fake_collect)
    config = tmp_path / "run.toml"
    config.write_text('concurrency = 3\nconnect_timeout = 2.5\nread_timeout = 30\nsubscriptions = ["sub-a"]\n')
    status = main(["collect", "--config", str(config), "--concurrency", "5", "--out", str(tmp_path / "s.json")])
    assert status == 2  # the stand-in collector refused; nothing written
    options = seen["options"]
    assert (options.concurrency, options.connect_timeout, options.read_timeout) == (5, 2.5, 30.0)
    assert options.subscriptions == ("sub-a",)
    assert not (tmp_path / "s.json").exists()


@pytest.mark.parametrize("line", ["read_timeout = 0", "connect_timeout = -1", "no_such_key = 1", "fail_on = 'severe'"])
def test_bad_config_values_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str) -> None:
    config = tmp_path / "run.toml"
    config.write_text(line + "\n")
    assert main(["scan", "--demo", "--config", str(config), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run.toml" in err
    assert not (tmp_path / "out").exists()


def test_no_identity_is_exit_2_with_one_line_and_nothing_written(tmp_path: Path) -> None:
    """DefaultAzureCredential narrowed to the CLI credential, with no `az` on PATH: no token,
    so no audit. The SDK's multi-line warnings must not reach stderr beside our one line."""
    import os
    import subprocess
    import sys

    env = {"PATH": os.path.dirname(sys.executable), "HOME": str(tmp_path), "AZURE_TOKEN_CREDENTIALS": "AzureCliCredential"}
    run = subprocess.run(
        [sys.executable, "-m", "amlaudit.auditor.cli", "scan", "--subscription", "00000000-0000-0000-0000-000000000000",
         "--arm-endpoint", "https://127.0.0.1:9", "--out", str(tmp_path / "out")],
        env=env, capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[1],
    )
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("amlaudit: error: cannot collect: cannot get a token")
    assert not (tmp_path / "out").exists()
