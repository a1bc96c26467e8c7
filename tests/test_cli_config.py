"""--config values reach the stages they configure; flags win over the file."""

from pathlib import Path

import pytest

import auditor.collect
from auditor.cli import main


def test_config_timeouts_and_concurrency_reach_the_collector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def fake_collect(options, credential=None):  # stands in for the network, not for the SDK
        seen["options"] = options
        raise ValueError("stop here")

    monkeypatch.setattr(auditor.collect, "collect", fake_collect)
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
