"""`amlaudit tickets sync`, and the sync `amlaudit scan --tickets TARGET` runs after a scan.

    amlaudit tickets sync --to jira|azure-boards|github --findings findings.json
                          [--dry-run] [--max-changes N] [--config FILE] [--report-url URL]
                          [target settings as flags: see --help]

Exit status: 0 the plan was carried out (or, with --dry-run, printed); 2 bad input or a
refusal: an unreadable findings file, bad settings or missing credentials, a plan over
--max-changes (nothing is written), or the service refusing a request (401/403/404, still
rate limited after the bounded waits, unreachable). A refusal midway through the plan is
also exit 2: stdout lists every change made before it and stderr names what was refused;
the next sync picks up where this one stopped (it plans from the tickets as they are then).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, get_args

import click

from amlaudit.auditor.config import RunConfig, load_config
from amlaudit.auditor.tickets.plan import FindingsInputError, PlanOptions
from amlaudit.auditor.tickets.settings import TicketsConfig
from amlaudit.auditor.tickets.sync import (
    DEFAULT_MAX_CHANGES,
    TooManyChanges,
    apply_plan,
    plan_for,
    refuse_if_too_many,
    render_done,
    render_outcome,
    render_plan,
)
from amlaudit.auditor.tickets.target import TargetError, TargetName, TicketTarget

TARGET_NAMES: tuple[str, ...] = get_args(TargetName)


class TicketsRefused(Exception):
    """The sync cannot go on (exit 2); the message is the one line the user sees."""


@dataclasses.dataclass(frozen=True, slots=True)
class SyncRequest:
    to: str
    max_changes: int
    dry_run: bool
    report_url: str | None
    flags: Mapping[str, Any]  # target settings given as flags (None: not given)


# -- building a target from the config and the flags -----------------------------------------------


def build_target(to: str, tickets: TicketsConfig, flags: Mapping[str, Any],
                 environ: Mapping[str, str] | None = None) -> TicketTarget:
    """The target `to`, from its `[tickets.<to>]` table overridden by flags; credentials from the environment."""
    try:
        if to == "github":
            from amlaudit.auditor.tickets.github import GitHubSettings, GitHubTarget

            values = _merged(tickets.github, flags, {"repository": "github_repo", "api_url": "github_api_url"})
            _require(values, {"repository": "--github-repo (or repository in [tickets.github])"})
            return GitHubTarget.from_settings(_settings(GitHubSettings, values), environ)
        if to == "jira":
            from amlaudit.auditor.tickets.jira import JiraSettings, JiraTarget

            values = _merged(tickets.jira, flags, {"site_url": "jira_url", "project": "jira_project",
                                                   "issue_type": "jira_issue_type", "priorities": "priorities"})
            _require(values, {"site_url": "--jira-url (or site_url in [tickets.jira])",
                              "project": "--jira-project (or project in [tickets.jira])"})
            return JiraTarget.from_settings(_settings(JiraSettings, values), environ)
        if to == "azure-boards":
            from amlaudit.auditor.tickets.azure_boards import AzureBoardsSettings, AzureBoardsTarget

            values = _merged(tickets.azure_boards, flags, {
                "organization_url": "azure_devops_org", "project": "azure_devops_project",
                "work_item_type": "work_item_type", "area_path": "area_path", "priorities": "priorities"})
            _require(values, {"organization_url": "--azure-devops-org (or organization_url in [tickets.azure-boards])",
                              "project": "--azure-devops-project (or project in [tickets.azure-boards])"})
            if "priorities" in values:
                try:
                    values["priorities"] = {k: int(v) for k, v in values["priorities"].items()}
                except ValueError:
                    raise TicketsRefused("--priority: Azure Boards priorities are numbers 1-4 (e.g. high=2)") from None
            return AzureBoardsTarget.from_settings(_settings(AzureBoardsSettings, values), environ)
    except TargetError as exc:
        raise TicketsRefused(str(exc)) from None
    raise TicketsRefused(f"--to: unknown target {to!r} (choose from {', '.join(TARGET_NAMES)})")


def _merged(table: Any, flags: Mapping[str, Any], flag_names: Mapping[str, str]) -> dict[str, Any]:
    values = table.model_dump(exclude_none=True) if table is not None else {}
    for setting, flag in flag_names.items():
        if flags.get(flag) not in (None, {}, ()):
            values[setting] = flags[flag]
    return values


def _require(values: Mapping[str, Any], required: Mapping[str, str]) -> None:
    for setting, where in required.items():
        if not values.get(setting):
            raise TicketsRefused(f"missing target setting: {where}")


def _settings(kind: type, values: Mapping[str, Any]) -> Any:
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise TicketsRefused(f"setting {unknown[0]!r} does not apply to this target")
    converted = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return kind(**converted)


# -- the sync ---------------------------------------------------------------------------------------


def read_findings(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise TicketsRefused(f"{path}: no such findings file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TicketsRefused(f"{path}: cannot read findings ({exc})") from None
    except ValueError as exc:
        raise TicketsRefused(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise TicketsRefused(f"{path}: not a findings document (expected a JSON object)")
    return document


def run_sync(target: TicketTarget, document: Mapping[str, Any], request: SyncRequest,
             echo: Callable[[str], None], now: datetime | None = None) -> None:
    """Plan, print the plan, refuse over --max-changes, apply (unless --dry-run). Raises TicketsRefused."""
    try:
        try:
            plan = plan_for(target, document, now or datetime.now(timezone.utc), PlanOptions(request.report_url))
        except FindingsInputError as exc:
            raise TicketsRefused(f"findings: {exc}") from None
        except TargetError as exc:
            raise TicketsRefused(str(exc)) from None
        for line in render_plan(plan, target, dry_run=request.dry_run, max_changes=request.max_changes):
            echo(line)
        try:
            refuse_if_too_many(plan, request.max_changes, target)
        except TooManyChanges as exc:
            raise TicketsRefused(str(exc)) from None
        if request.dry_run:
            return
        outcome = apply_plan(target, plan, on_done=lambda action, created: echo(render_done(action, created)))
        echo(render_outcome(outcome, target))
        if not outcome.complete:
            raise TicketsRefused(f"{outcome.error}; stopped after {len(outcome.done)} of {plan.changes} changes "
                                 "(the next sync picks up from here)")
    finally:
        close = getattr(target, "close_connection", None)
        if callable(close):
            close()


def prepare_scan_sync(to: str, config: RunConfig) -> Callable[[Mapping[str, Any], Callable[[str], None]], None]:
    """For `scan --tickets TO`: the target is built (settings and credentials checked) before the scan,
    so a bad setting stops the run before anything is written; the sync runs on the scan's findings."""
    target = build_target(to, config.tickets, {})
    request = SyncRequest(to, _max_changes(None, config.tickets), False, config.tickets.report_url, {})

    def sync(document: Mapping[str, Any], echo: Callable[[str], None]) -> None:
        run_sync(target, document, request, echo)

    return sync


def _max_changes(flag: int | None, tickets: TicketsConfig) -> int:
    if flag is not None:
        return flag
    return tickets.max_changes if tickets.max_changes is not None else DEFAULT_MAX_CHANGES


def _priorities(values: tuple[str, ...]) -> dict[str, str]:
    mapped: dict[str, str] = {}
    for value in values:
        severity, sep, name = value.partition("=")
        severity = severity.strip().lower()
        if not sep or not name.strip() or severity not in ("critical", "high", "medium", "low", "info"):
            raise TicketsRefused(f"--priority {value!r}: expected SEVERITY=PRIORITY, e.g. high=High")
        mapped[severity] = name.strip()
    return mapped


@click.group()
def tickets() -> None:
    """Keep one ticket per finding in Jira, Azure Boards or GitHub Issues."""


@tickets.command()
@click.option("--to", "to", required=True, type=click.Choice(TARGET_NAMES), help="Where the tickets are.")
@click.option("--findings", "findings_path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="findings.json of a scan.")
@click.option("--dry-run", is_flag=True, help="Print the plan; send only reads.")
@click.option("--max-changes", type=click.IntRange(0), help=f"Refuse the whole plan when it would change more tickets than this [default: {DEFAULT_MAX_CHANGES}].")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="TOML run config with [tickets.*] tables.")
@click.option("--report-url", help="Link to the full report, put in ticket bodies and comments.")
@click.option("--github-repo", help="GitHub: OWNER/NAME.")
@click.option("--github-api-url", help="GitHub Enterprise Server API URL (https://HOST/api/v3).")
@click.option("--jira-url", help="Jira: site URL (https://SITE.atlassian.net or the Data Center base URL).")
@click.option("--jira-project", help="Jira: project key.")
@click.option("--jira-issue-type", help="Jira: issue type for new issues [default: Bug].")
@click.option("--azure-devops-org", help="Azure Boards: organization URL (https://dev.azure.com/ORG).")
@click.option("--azure-devops-project", help="Azure Boards: project.")
@click.option("--work-item-type", help="Azure Boards: work item type for new items [default: Bug].")
@click.option("--area-path", help="Azure Boards: area path for new items.")
@click.option("--priority", "priorities", multiple=True, help="Jira/Azure Boards: SEVERITY=PRIORITY (repeatable), e.g. high=High or high=2.")
def sync(to: str, findings_path: Path, dry_run: bool, max_changes: int | None, config_path: Path | None,
         report_url: str | None, priorities: tuple[str, ...], **flags: Any) -> int:
    """Create, comment on, close and reopen tickets so each failing finding has exactly one."""
    config = load_config(config_path)
    document = read_findings(findings_path)
    if report_url is not None and not report_url.startswith(("https://", "http://")):
        raise TicketsRefused(f"--report-url {report_url!r}: expected an http(s) URL")
    flags["priorities"] = _priorities(priorities)
    target = build_target(to, config.tickets, flags)
    request = SyncRequest(to, _max_changes(max_changes, config.tickets), dry_run,
                          report_url or config.tickets.report_url, flags)
    run_sync(target, document, request, click.echo)
    return 0
