"""Every `amlaudit …` command line in the templates under deploy/ and in the README's nightly-job
section names a command, options, choices and report formats that the installed command line has.

The templates use options that other parts of issue 8 add (`--waivers`, `--baseline`, `--history`,
`--tickets`, the `diff`, `history` and `tickets` commands, the sarif/junit/csv/xlsx/ocsf/markdown
formats): on a branch without them, the lines using them fail here by design, naming what is missing.
"""

from __future__ import annotations

import click
import pytest

from amlaudit.auditor import logs
from amlaudit.auditor.cli import cli
from amlaudit.auditor.registry import reporter_entry_points
from tests.deploy_templates import CommandLine, all_command_lines, amlaudit_commands

COMMAND_LINES = all_command_lines()


def problems_of(argv: tuple[str, ...], root: click.Group, formats: set[str]) -> list[str]:
    """What in `argv` (`amlaudit` first) the click command tree does not accept; [] if all of it."""
    problems: list[str] = []
    command: click.Command = root
    words = list(argv[1:])
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if word.startswith("-") and word != "-":
            name, has_value, value = word.partition("=")
            param = _option(command, name)
            if param is None:
                problems.append(f"{_path(command)}: no option {name}")
                # Unknown: assume it takes the next word as its value unless that is an option.
                if not has_value and index < len(words) and not words[index].startswith("-"):
                    index += 1
                continue
            if param.is_flag or param.count:
                continue
            if not has_value:
                if index >= len(words):
                    problems.append(f"{_path(command)}: {name} needs a value")
                    break
                value = words[index]
                index += 1
            problems.extend(_value_problems(command, param, name, value, formats))
        elif isinstance(command, click.Group):
            sub = command.commands.get(word)
            if sub is None:
                problems.append(f"{_path(command)}: no command {word!r}")
                break
            command = sub
        # else: a positional argument (diff's OLD NEW, explain's CHECK_ID)
    if isinstance(command, click.Group) and not problems:
        problems.append(f"{_path(command)}: no command given")
    return problems


def _option(command: click.Command, name: str) -> click.Option | None:
    for param in command.params:
        if isinstance(param, click.Option) and name in (*param.opts, *param.secondary_opts):
            return param
    return None


def _path(command: click.Command) -> str:
    return "amlaudit" if command.name in (None, "cli") else f"amlaudit {command.name}"


def _value_problems(command: click.Command, param: click.Option, name: str, value: str, formats: set[str]) -> list[str]:
    if "$" in value:  # filled in by the shell: cannot be checked here
        return []
    if isinstance(param.type, click.Choice) and value not in param.type.choices:
        return [f"{_path(command)}: {name} {value!r} is not one of {sorted(map(str, param.type.choices))}"]
    if name == "--format" and command.name == "scan":
        return [f"amlaudit scan: --format {fmt!r} is not a registered report format (have {sorted(formats)})"
                for fmt in value.split(",") if fmt.strip() and fmt.strip() not in formats]
    return []


@pytest.fixture(scope="module")
def command_tree() -> click.Group:
    logs.install_options(cli)  # the global --quiet/--log-format, as main() installs them
    return cli


def test_the_templates_and_the_readme_hold_the_commands_of_a_nightly_job() -> None:
    by_source: dict[str, set[str]] = {}
    for line in COMMAND_LINES:
        subcommand = next((w for w in line.argv[1:] if not w.startswith("-") and w not in ("json", "text")), "")
        by_source.setdefault(line.where, set()).add(subcommand)
    assert set(by_source) == {"deploy/github-actions/amlaudit-nightly.yml", "deploy/azure-pipelines/amlaudit-nightly.yml",
                              "deploy/kubernetes/amlaudit-cronjob.yaml", "README.md"}
    assert all("scan" in found for found in by_source.values()), by_source
    assert {"scan", "collect", "tickets", "diff", "history"} <= by_source["README.md"]


@pytest.mark.parametrize("line", COMMAND_LINES, ids=[f"{c.where}:{' '.join(c.argv[:4])}" for c in COMMAND_LINES])
def test_command_line_exists_on_the_real_cli(line: CommandLine, command_tree: click.Group) -> None:
    problems = problems_of(line.argv, command_tree, set(reporter_entry_points()))
    assert not problems, f"{line.where}: {line.text}\n" + "\n".join(problems)


# -- the checker itself -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("argv", "expected"), [
    ("amlaudit scan --demo --out o --format json,html --quiet", []),
    ("amlaudit --log-format json scan --fail-on high -q", []),
    ("amlaudit scan --log-format=json --cloud AzureChinaCloud", []),
    ("amlaudit explain compute-batch-inbound", []),
    ("amlaudit scan --no-such-option x --demo", ["amlaudit scan: no option --no-such-option"]),
    ("amlaudit scan --fail-on severe", ["amlaudit scan: --fail-on 'severe' is not one of"]),
    ("amlaudit scan --format json,pdf", ["amlaudit scan: --format 'pdf' is not a registered report format"]),
    ("amlaudit --log-format xml checks", ["amlaudit: --log-format 'xml' is not one of"]),
    ("amlaudit frobnicate --x", ["amlaudit: no command 'frobnicate'"]),
    ("amlaudit scan --out", ["amlaudit scan: --out needs a value"]),
    ("amlaudit", ["amlaudit: no command given"]),
])
def test_the_checker_finds_what_does_not_exist(argv: str, expected: list[str], command_tree: click.Group) -> None:
    problems = problems_of(tuple(argv.split()), command_tree, {"json", "html"})
    assert len(problems) == len(expected)
    for problem, start in zip(problems, expected):
        assert problem.startswith(start), problem


def test_command_extraction_follows_the_shell() -> None:
    script = """
    set -u
    # amlaudit scan --in-a-comment
    status=0
    amlaudit scan \\
      --out "$out dir" \\
      ${baseline:+--baseline "$baseline"} || status=$?
    echo amlaudit scan --not-a-command; amlaudit checks --json && amlaudit explain x | cat
    python -m pip install "amlaudit==0.1.0"
    """
    argvs = [c.argv for c in amlaudit_commands(script, "test")]
    assert argvs == [("amlaudit", "scan", "--out", "$out dir", "--baseline", "$baseline"),
                     ("amlaudit", "checks", "--json"), ("amlaudit", "explain", "x")]
