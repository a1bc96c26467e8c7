"""The `amlaudit` command: composes collect -> snapshot -> graph -> checks -> reports.

Exit status (contracts.md): 0 no failing finding at or above --fail-on; 1 failing
findings; 2 bad invocation or unreadable input (one line on stderr, nothing
written); 3 no failures but the audit is incomplete.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.table import Table

from amlaudit.auditor import __version__, logs, waivers
from amlaudit.auditor import baseline as baselines
from amlaudit.auditor.check import SEVERITIES, Check, Settings
from amlaudit.auditor.config import ConfigError, RunConfig, load_config
from amlaudit.auditor.diff import diff_document, diff_findings, print_diff
from amlaudit.auditor.findings import AuditResult
from amlaudit.auditor.findings_file import FindingsFileError, read_findings_file
from amlaudit.auditor.graph import build_estate
from amlaudit.auditor.history.commands import history as history_command
from amlaudit.auditor.history.commands import history_option, open_for_scan, recording, scan_facts
from amlaudit.auditor.history.errors import HistoryError
from amlaudit.auditor.pipeline import UnknownFormatError, render_stream, write_reports
from amlaudit.auditor.registry import RegistryError, load_checks, load_reporters, reporter_entry_points
from amlaudit.auditor.render_workers import RenderSettingError
from amlaudit.auditor.runner import cyclic_gc_paused, run_checks
from amlaudit.auditor.scope import scope_findings
from amlaudit.auditor.snapshot import Snapshot, SnapshotError, load_snapshot, read_snapshot_bytes, write_snapshot
from amlaudit.auditor.tickets.cli import TARGET_NAMES, TicketsRefused, prepare_scan_sync, tickets

EXIT_OK, EXIT_FAILURES, EXIT_BAD_INPUT, EXIT_INCOMPLETE = 0, 1, 2, 3
DEMO_RESOURCE = "demo.json.gz"


class BadInput(Exception):
    """Anything that makes the run exit 2: the message is the one line the user sees."""


def _fail(message: str) -> NoReturn:
    raise BadInput(message)


def _split_formats(values: Sequence[str]) -> list[str]:
    formats: list[str] = []
    for value in values:
        for name in value.split(","):
            name = name.strip().lower()
            if name and name not in formats:
                formats.append(name)
    return formats


def _load_demo() -> Snapshot:
    try:
        data = resources.files("amlaudit.fixtures").joinpath(DEMO_RESOURCE).read_bytes()
    except (FileNotFoundError, ModuleNotFoundError):
        _fail("the bundled demo estate is missing from this installation")
    return read_snapshot_bytes(data, "demo estate")


def _collect(config: RunConfig, subscriptions: tuple[str, ...], workspaces: tuple[str, ...],
             arm_endpoint: str | None, cloud: str | None, concurrency: int | None) -> dict[str, Any]:
    # Imported here: the Azure SDKs are only needed for live collection.
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError

    from amlaudit.auditor.collect import CollectError, CollectOptions, collect

    for ws in workspaces:
        if ws.count("/") != 1 or not all(ws.split("/")):
            _fail(f"--workspace {ws!r}: expected RESOURCE_GROUP/NAME")
    options = CollectOptions(
        progress=logs.progress_bar(),
        subscriptions=tuple(subscriptions) or tuple(config.subscriptions or ()),
        workspaces=tuple(workspaces) or tuple(config.workspaces or ()),
        arm_endpoint=arm_endpoint or config.arm_endpoint,
        cloud=cloud or config.cloud or "AzureCloud",
        concurrency=concurrency or config.concurrency or 8,
        **{key: value for key in ("connect_timeout", "read_timeout")
           if (value := getattr(config, key)) is not None},
    )
    logs.collection_started(options.subscriptions, options.workspaces, options.arm_endpoint, options.cloud, options.concurrency)
    started = time.monotonic()
    try:
        document = collect(options)
        logs.collection_done(document, time.monotonic() - started)
        return document
    except (ValueError, OSError) as exc:
        _fail(f"cannot collect: {exc}")
    except (CollectError, ClientAuthenticationError, ServiceRequestError) as exc:
        # No token, or Resource Manager unreachable: no audit happened. (The collector turns these
        # into CollectError; the SDK types are caught too in case one escapes it.)
        _fail(f"cannot collect: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")


def _print_summary(console: Console, result: AuditResult, written: list[Path], exit_status: int) -> None:
    table = Table(title="amlaudit findings", show_lines=False)
    table.add_column("check")
    table.add_column("severity")
    for status in ("fail", "error", "pass", "not_applicable"):
        table.add_column(status, justify="right")
    for check in result.checks:
        counts = {s: 0 for s in ("fail", "error", "pass", "not_applicable")}
        for finding in result.findings:
            if finding.check_id == check.id:
                counts[finding.status] += 1
        table.add_row(check.id, check.severity, *(str(counts[s]) if counts[s] else "" for s in counts))
    console.print(table)
    s = result.summary
    console.print(
        f"{s['fail']} failing, {s['error']} could not be verified, {s['pass']} passing, "
        f"{s['not_applicable']} not applicable; {len(result.errors)} collection error(s)."
    )
    for line in waivers.console_lines(result) + baselines.console_lines(result):
        console.print(line, markup=False, highlight=False)
    for path in written:
        console.print(f"wrote {path}")
    if result.history is not None and result.history.current_run is not None:
        console.print(f"recorded as run #{result.history.current_run.run_id} in the history ({result.history.total_runs} runs)")
    meaning = {0: "clean", 1: "failures found", 3: "incomplete: some checks could not be verified"}[exit_status]
    console.print(f"exit {exit_status}: {meaning}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="amlaudit")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Audit Azure Machine Learning estates against 'Securely run experiments and inference
    inside an Azure virtual network'."""
    logs.run_started(ctx.invoked_subcommand, __version__)


@cli.command()
@click.option("--snapshot", "snapshot_path", type=click.Path(dir_okay=True, path_type=Path), help="Audit a snapshot file (.json or .json.gz) instead of collecting.")
@click.option("--demo", is_flag=True, help="Audit the bundled sample estate.")
@click.option("--subscription", "subscriptions", multiple=True, help="Subscription to collect (repeatable; default: every subscription the identity lists).")
@click.option("--workspace", "workspaces", multiple=True, help="Only these workspaces, as RESOURCE_GROUP/NAME (repeatable).")
@click.option("--save-snapshot", type=click.Path(dir_okay=False, path_type=Path), help="Keep the collected snapshot here (.json or .json.gz).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Directory for findings.json and the other reports [default: amlaudit-out].")
@click.option("--format", "formats", multiple=True, help="Report formats, comma-separated or repeated [default: json,html].")
@click.option("--arm-endpoint", envvar="AMLAUDIT_ARM_ENDPOINT", help="Resource Manager endpoint (sovereign clouds, stand-ins).")
@click.option("--cloud", type=click.Choice(["AzureCloud", "AzureChinaCloud", "AzureUSGovernment"]), help="Azure cloud for live collection.")
@click.option("--concurrency", type=click.IntRange(1, 64), help="Concurrent Resource Manager calls during collection.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="TOML file with run defaults.")
@click.option("--fail-on", type=click.Choice(SEVERITIES, case_sensitive=False), help="Lowest severity that makes failures exit 1 [default: low].")
@click.option("--planned-new-clusters", type=click.IntRange(0), help="compute-network-quota: new AmlCompute clusters planned [default: 1].")
@click.option("--waivers", "waivers_path", type=click.Path(dir_okay=False, path_type=Path), help="TOML file of accepted risks: waived failures keep their status and do not count toward exit 1; expired waivers stop waiving (see docs/waivers-and-baselines.md).")
@click.option("--baseline", "baseline_path", type=click.Path(dir_okay=False, path_type=Path), help="An earlier findings.json: each failing finding is marked new (not failing in the baseline) or persisting (failing in both, by fingerprint); only new failures count toward exit 1; earlier failures this run could not verify are 'unverified', never resolved.")
@click.option("--quiet", "-q", is_flag=True, callback=logs.on_quiet, help="Print nothing but errors (no summary on stdout).")
@history_option
@click.option("--tickets", "tickets_to", type=click.Choice(TARGET_NAMES), help="Then sync tickets there (settings: [tickets.*] in --config; see 'amlaudit tickets sync').")
def scan(snapshot_path: Path | None, demo: bool, subscriptions: tuple[str, ...], workspaces: tuple[str, ...],
         save_snapshot: Path | None, out_dir: Path | None, formats: tuple[str, ...], arm_endpoint: str | None,
         cloud: str | None, concurrency: int | None, config_path: Path | None, fail_on: str | None,
         planned_new_clusters: int | None, waivers_path: Path | None, baseline_path: Path | None, quiet: bool,
         history_url: str | None, tickets_to: str | None) -> int:
    """Audit an estate and write findings.json plus the other reports.

    \b
    Exit status: 1 failing findings at or above --fail-on that are neither waived
    nor (with --baseline) persisting from the baseline; else 3 if anything could not
    be verified (error findings, collection errors, baseline failures this run could
    not re-verify); else 0. 2: bad input (one line on stderr, nothing written).
    """
    started_at = datetime.now(timezone.utc)
    config = load_config(config_path)
    logs.apply_config(config.quiet, config.log_format)
    # Before the scan, so bad ticket settings or missing credentials stop the run with nothing written.
    ticket_sync = prepare_scan_sync(tickets_to, config) if tickets_to else None
    if snapshot_path is not None and demo:
        _fail("--snapshot and --demo are exclusive")
    offline = snapshot_path is not None or demo
    if offline and (subscriptions or workspaces):
        _fail("--subscription/--workspace select what to collect; they do not apply to --snapshot or --demo")
    fail_on = (fail_on or config.fail_on or "low").lower()
    format_names = _split_formats(formats) or config.format or ["json", "html"]
    available = reporter_entry_points()
    unknown = [f for f in format_names if f not in available]
    if unknown:
        _fail(f"--format: unknown format {unknown[0]!r} (available: {', '.join(sorted(available))})")
    reporters = load_reporters(["json", *format_names])
    checks = load_checks()
    settings = Settings(
        planned_new_clusters=planned_new_clusters if planned_new_clusters is not None else (config.planned_new_clusters if config.planned_new_clusters is not None else 1),
        check_settings=config.checks,
    )
    out = out_dir or Path(config.out or "amlaudit-out")
    # Read before the audit: a bad waivers or baseline file stops the run before anything is written.
    waivers_path = waivers_path or (Path(config.waivers) if config.waivers else None)
    waiver_set = waivers.load_waivers(waivers_path, [c.id for c in checks]) if waivers_path else None
    baseline = read_findings_file(baseline_path) if baseline_path is not None else None
    history = open_for_scan(history_url or config.history)  # before collecting: a bad database stops the run now

    if snapshot_path is not None:
        snapshot = load_snapshot(snapshot_path)
    elif demo:
        snapshot = _load_demo()
    else:
        document = _collect(config, subscriptions, workspaces, arm_endpoint, cloud, concurrency)
        from amlaudit.auditor.snapshot import parse_snapshot

        snapshot = parse_snapshot(document, "live collection")

    # One pause from the graph to the written reports: a one-shot audit leaves almost no cyclic
    # garbage, and each time the collector is restored in between it walks the whole heap of
    # graph, findings and rendered bytes (≈ 1 s at 1,000 workspaces; benchmarks/README.md).
    with cyclic_gc_paused():  # the collector's passes cost a third of the CPU and find ~nothing
        estate = build_estate(snapshot)
        result = scope_findings(run_checks(estate, checks, settings), estate)  # --workspace: what the named ones use
        del estate  # rendering needs only the result; the graph and its flow caches go now
        logs.checks_done(len(checks), result.summary, len(result.errors))
        if waiver_set is not None:
            result = waivers.apply_waivers(result, waiver_set, waivers.utc_today())
        if baseline is not None:
            result = baselines.apply_baseline(result, baseline)
        status = result.exit_status(fail_on)
        facts = scan_facts(history, started_at, [s.subscriptionId for s in snapshot.subscriptions], fail_on, status)
        # Recorded before rendering (the report charts the history, this run included) and committed
        # only once the reports are written: a run stopped by exit 2 leaves no trace in the history.
        with recording(history, result, facts) as result:
            # Each file is staged as it renders; all are renamed into place once every one is.
            written = write_reports(render_stream(result, format_names, reporters), out)
            if save_snapshot is not None:
                # After the reports: a run that stops with exit 2 (an --out that cannot be written) leaves nothing behind.
                written.append(write_snapshot(snapshot.raw, save_snapshot))
    logs.files_written(written)
    if not logs.is_quiet():
        _print_summary(Console(), result, written, status)
    if ticket_sync is not None:  # a refusal here exits 2 after the reports were written (the message says so)
        ticket_sync(result.to_document(), click.echo)
    return status


@cli.command()
@click.option("--subscription", "subscriptions", multiple=True, help="Subscription to collect (repeatable; default: all listable).")
@click.option("--workspace", "workspaces", multiple=True, help="Only these workspaces, as RESOURCE_GROUP/NAME.")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Snapshot file to write (.json or .json.gz).")
@click.option("--arm-endpoint", envvar="AMLAUDIT_ARM_ENDPOINT", help="Resource Manager endpoint.")
@click.option("--cloud", type=click.Choice(["AzureCloud", "AzureChinaCloud", "AzureUSGovernment"]))
@click.option("--concurrency", type=click.IntRange(1, 64))
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path))
def collect(subscriptions: tuple[str, ...], workspaces: tuple[str, ...], out_file: Path, arm_endpoint: str | None,
            cloud: str | None, concurrency: int | None, config_path: Path | None) -> int:
    """Collect a snapshot from Azure without auditing it."""
    config = load_config(config_path)
    logs.apply_config(config.quiet, config.log_format)
    document = _collect(config, subscriptions, workspaces, arm_endpoint, cloud, concurrency)
    write_snapshot(document, out_file)
    logs.files_written([out_file])
    errors = document.get("errors") or []
    click.echo(f"wrote {out_file}: {len(document.get('resources') or [])} resources, {len(errors)} collection error(s)")
    return EXIT_INCOMPLETE if errors else EXIT_OK


@cli.command()
@click.argument("old", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one amlaudit.diff/v1 JSON object instead of the table.")
@click.option("--fail-on", type=click.Choice(SEVERITIES, case_sensitive=False), default="low", show_default=True, help="Lowest severity of a new failure that makes the diff exit 1.")
def diff(old: Path, new: Path, as_json: bool, fail_on: str) -> int:
    """Compare two findings.json files by fingerprint: new, persisting, resolved, unverified and changed findings.

    \b
    new: failing in NEW, not failing in OLD; persisting: failing in both;
    resolved: failing in OLD, verified not failing in NEW; changed: in both,
    status or evidence differs. "Failing" is status fail. Details and the
    --json shape: docs/waivers-and-baselines.md.

    \b
    A failure of OLD that NEW could not verify (error finding, check not run or
    crashed, collection error, coverage gap, subscription or workspace not audited)
    is "unverified", never "resolved". Exit 1 if NEW has a failure at or above
    --fail-on that was not failing in OLD and is not waived in NEW; else 0; 2 on bad input.
    """
    result = diff_findings(read_findings_file(old), read_findings_file(new))
    fail_on = fail_on.lower()
    if as_json:
        click.echo(json.dumps(diff_document(result, fail_on), indent=2))
    else:
        console = Console()
        print_diff(result, fail_on, console if console.is_terminal else Console(width=200))
    return result.exit_status(fail_on)


@cli.command(name="checks")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable catalog.")
def list_checks(as_json: bool) -> int:
    """List the checks this installation runs."""
    checks = load_checks()
    if as_json:
        click.echo(json.dumps([_check_row(c) for c in checks], indent=2))
        return EXIT_OK
    table = Table(title=f"{len(checks)} checks")
    for column in ("id", "severity", "subject", "title"):
        table.add_column(column)
    for c in checks:
        table.add_row(c.id, c.severity, c.subject, c.title)
    Console(width=200).print(table)
    return EXIT_OK


def _check_row(c: Check) -> dict[str, str]:
    return {"id": c.id, "title": c.title, "severity": c.severity, "subject": c.subject, "applies": c.applies,
            "passes": c.passes, "source": c.source, "rationale": c.rationale, "remediation": c.remediation,
            "reference": c.reference_text}


@cli.command()
@click.argument("check_id")
def explain(check_id: str) -> int:
    """Show what a check verifies, why, and how to fix a failure."""
    checks = {c.id: c for c in load_checks()}
    found = checks.get(check_id.strip().lower())
    if found is None:
        _fail(f"unknown check {check_id!r} (run 'amlaudit checks' for the list)")
    row = _check_row(found)
    click.echo(f"{found.id}  [{found.severity}]  {found.title}\n")
    for label, key in (("Subject", "subject"), ("Applies when", "applies"), ("Passes when", "passes"),
                       ("Source", "source"), ("Why", "rationale"), ("Remediation", "remediation"), ("Reference", "reference")):
        click.echo(f"{label}: {row[key]}")
    return EXIT_OK


cli.add_command(history_command)
cli.add_command(tickets)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: every bad-input path ends as one line on stderr and exit 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    # The Azure SDKs log multi-line warnings (e.g. every credential DefaultAzureCredential tried);
    # without a handler they reach stderr through logging's last resort. What failed is reported
    # once, as the collection error or the one-line exit-2 message.
    azure_logger = logging.getLogger("azure")
    if not azure_logger.handlers:
        azure_logger.addHandler(logging.NullHandler())
    logs.install_options(cli)  # --quiet and --log-format on the group and every command (see auditor/logs.py)
    logs.begin()
    try:
        status = cli.main(args=args, prog_name="amlaudit", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else "", err=True)
        status = EXIT_BAD_INPUT
    except click.UsageError as exc:
        status = _error(exc.format_message(), EXIT_BAD_INPUT)
    except (click.exceptions.Abort, KeyboardInterrupt):
        status = _error("interrupted", 130)
    except (BadInput, SnapshotError, ConfigError, RegistryError, UnknownFormatError, waivers.WaiverError,
            FindingsFileError, HistoryError, TicketsRefused, RenderSettingError) as exc:
        status = _error(str(exc), EXIT_BAD_INPUT)
    except OSError as exc:  # an unwritable --out, a full disk
        status = _error(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), EXIT_BAD_INPUT)
    status = status if isinstance(status, int) else EXIT_OK  # --help / --version return None
    logs.run_finished(status)
    logs.end()
    return status


def _error(message: str, status: int) -> int:
    """The one line on stderr (text or a JSON event, secrets redacted) for a run that stops."""
    logs.error_line(message, status)
    return status


def run() -> NoReturn:
    sys.exit(main())


if __name__ == "__main__":
    run()
