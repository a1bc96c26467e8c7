"""What a run says besides its reports: `--quiet`, `--log-format text|json`, and the one error line.

- `--log-format text` (the default): people read stdout (the summary table); stderr carries
  nothing but the one line of an exit-2 error, `amlaudit: error: ...`, as before.
- `--log-format json`: stderr carries one JSON object per line for log collectors, each
  `{"timestamp", "level", "event", "fields"}`: run started, collection started / progress /
  error / done, checks done, file written, run finished (with the exit status) and the error
  line itself. stdout is unchanged.
- `--quiet`: nothing on stdout, and on stderr only errors (in either format).

Both options are global: accepted before the command (`amlaudit --quiet scan`) and after it
(`amlaudit scan --quiet`) for every command, including ones added later, because
`install_options` adds them to each command the group holds when `main()` runs. The run config
may set them too (`quiet = true`, `log_format = "json"`); a flag wins over the config.

Events go through the standard library's `logging` under the `amlaudit` logger, so any module
(e.g. the collector's scheduler) logs progress with a plain `logging.getLogger(__name__)`.
python-json-logger renders the JSON lines: it is the maintained formatter for stdlib logging,
so records from every module share one mechanism (structlog would add a second logging API
beside the one the collector already uses). The Azure SDK's loggers are not under `amlaudit`
and stay off (see `cli.main`).

No secret reaches these lines: events carry counts, statuses, paths and ids, never the command
line or the environment, and every message and field passes through `redact()` on the way out
(URL passwords, query-string secrets, bearer tokens, JWTs, GitHub tokens, and the value of any
environment variable whose name says it is a secret).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click
from pythonjsonlogger.json import JsonFormatter

LOGGER_NAME = "amlaudit"
LOG_FORMATS = ("text", "json")
_log = logging.getLogger(f"{LOGGER_NAME}.run")

EXIT_MEANINGS = {0: "clean", 1: "failures found", 2: "bad invocation or unreadable input",
                 3: "incomplete: some checks could not be verified", 130: "interrupted"}


# -- redaction ------------------------------------------------------------------------------------------

REDACTED = "***"
# scheme://user:password@host -> scheme://user:***@host (database URLs, proxies, endpoints)
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s/@:]*):[^\s/@]*@")
# ?password=... &sig=... (SAS tokens, libpq URLs, OAuth redirects)
_QUERY_SECRET = re.compile(
    r"(?i)([?&;](?:password|passwd|pwd|pass|secret|client_secret|token|access_token|refresh_token|"
    r"id_token|code|sig|signature|key|apikey|api_key|sharedaccesssignature)=)[^&\s;'\"]+")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{8,}")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*")
_GITHUB_TOKEN = re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b")
# Environment variables whose value is a secret, by name (…_TOKEN, …_SECRET, …_PASSWORD, …_KEY, PATs,
# connection strings). Values shorter than this are not scrubbed: they would match ordinary words.
_SECRET_ENV_NAME = re.compile(r"(?i)(TOKEN|SECRET|PASSWORD|PASSWD|_PWD$|_KEY$|APIKEY|API_KEY|_PAT$|^PAT$|"
                              r"CONNECTION_?STRING|CREDENTIAL)")
_NOT_SECRET_ENV = {"AZURE_TOKEN_CREDENTIALS", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST"}
_MIN_SECRET_LENGTH = 8


def _secret_env_values(environ: Mapping[str, str]) -> list[str]:
    values = {value for name, value in environ.items()
              if name not in _NOT_SECRET_ENV and _SECRET_ENV_NAME.search(name) and len(value) >= _MIN_SECRET_LENGTH}
    return sorted(values, key=len, reverse=True)  # longest first: a secret containing another is scrubbed whole


def redact(value: Any, secrets: Iterable[str] | None = None) -> Any:
    """`value` (a string, or lists/dicts of them) with secrets replaced by `***`; other types unchanged."""
    if isinstance(value, str):
        for secret in _secret_env_values(os.environ) if secrets is None else secrets:
            value = value.replace(secret, REDACTED)
        value = _URL_PASSWORD.sub(rf"\1:{REDACTED}@", value)
        value = _QUERY_SECRET.sub(rf"\1{REDACTED}", value)
        value = _BEARER.sub(rf"\1 {REDACTED}", value)
        value = _JWT.sub(REDACTED, value)
        return _GITHUB_TOKEN.sub(REDACTED, value)
    if isinstance(value, Mapping):
        return {key: redact(item, secrets) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(item, secrets) for item in value]
    if isinstance(value, Path):
        return redact(str(value), secrets)
    return value


class _Redact(logging.Filter):
    """Scrubs each record's message and fields before any formatter sees it."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets = _secret_env_values(os.environ)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage(), self._secrets)
        record.args = None
        if isinstance(getattr(record, "fields", None), Mapping):
            record.fields = redact(record.fields, self._secrets)
        return True


# -- formatters -----------------------------------------------------------------------------------------

class _EventFormatter(JsonFormatter):
    """One JSON object per record: timestamp (UTC, ISO 8601), level, event, fields."""

    def __init__(self) -> None:
        super().__init__(["levelname", "message"], timestamp=True, json_ensure_ascii=False)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        moment: datetime = log_data["timestamp"]
        fields = log_data.get("fields")
        return {
            "timestamp": moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "level": str(log_data["levelname"]).lower(),
            "event": log_data["message"],
            "fields": dict(fields) if isinstance(fields, Mapping) else {},
        }


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"amlaudit: {record.levelname.lower()}: {record.getMessage()}"


# -- the run's settings ---------------------------------------------------------------------------------

@dataclass
class _Settings:
    log_format: str = "text"
    quiet: bool = False
    format_from_flag: bool = False
    quiet_from_flag: bool = False
    handler: logging.Handler | None = None
    muted_stdout: contextlib.ExitStack | None = None
    started: dict[str, Any] | None = None  # the "run started" fields, kept for a later switch to json
    started_in_json: bool = False
    started_at: float | None = None  # time.monotonic() at "run started"
    saved_logger: tuple[int, bool] = (logging.NOTSET, True)


_settings = _Settings()


def begin() -> None:
    """Start a run with the defaults (text, not quiet); `main()` calls this first."""
    end()
    logger = logging.getLogger(LOGGER_NAME)
    _settings.saved_logger = (logger.level, logger.propagate)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # the run's handler is the only one; nothing doubles through the root logger
    _apply()


def end() -> None:
    """Undo everything `begin()` and the options set up (handler, muted stdout); idempotent."""
    global _settings
    logger = logging.getLogger(LOGGER_NAME)
    if _settings.handler is not None:
        logger.removeHandler(_settings.handler)
        logger.setLevel(_settings.saved_logger[0])
        logger.propagate = _settings.saved_logger[1]
    if _settings.muted_stdout is not None:
        _settings.muted_stdout.close()
    _settings = _Settings()


def set_quiet(quiet: bool, *, from_flag: bool = True) -> None:
    if from_flag:
        _settings.quiet_from_flag = _settings.quiet_from_flag or quiet
        _settings.quiet = _settings.quiet or quiet
    elif not _settings.quiet_from_flag:
        _settings.quiet = quiet
    _apply()


def set_log_format(log_format: str, *, from_flag: bool = True) -> None:
    if log_format not in LOG_FORMATS:
        raise click.BadParameter(f"{log_format!r} is not one of {', '.join(LOG_FORMATS)}", param_hint="--log-format")
    if from_flag:
        _settings.log_format, _settings.format_from_flag = log_format, True
    elif not _settings.format_from_flag:
        _settings.log_format = log_format
    _apply()


def apply_config(quiet: bool | None, log_format: str | None) -> None:
    """Settings from the run config; flags given on the command line win."""
    if quiet is not None:
        set_quiet(quiet, from_flag=False)
    if log_format is not None:
        set_log_format(log_format, from_flag=False)


def is_quiet() -> bool:
    return _settings.quiet


def progress_bar() -> bool | None:
    """The collector's progress bar: never when quiet or logging JSON (it would interleave with the
    lines); otherwise None, i.e. only when stderr is a terminal."""
    return False if _settings.quiet or _settings.log_format == "json" else None


def _apply() -> None:
    logger = logging.getLogger(LOGGER_NAME)
    if _settings.handler is not None:
        logger.removeHandler(_settings.handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_Redact())
    if _settings.log_format == "json":
        handler.setFormatter(_EventFormatter())
        handler.setLevel(logging.ERROR if _settings.quiet else logging.INFO)
    else:
        # Text: the one error line only; people read the summary on stdout.
        handler.setFormatter(_TextFormatter())
        handler.setLevel(logging.ERROR)
    logger.addHandler(handler)
    _settings.handler = handler
    if _settings.quiet and _settings.muted_stdout is None:
        # Every command honours --quiet, including ones that print with click.echo or rich on their own.
        stack = contextlib.ExitStack()
        stack.enter_context(contextlib.redirect_stdout(stack.enter_context(open(os.devnull, "w", encoding="utf-8"))))
        _settings.muted_stdout = stack
    if _settings.log_format == "json" and _settings.started is not None and not _settings.started_in_json:
        _settings.started_in_json = True
        _log.info("run started", extra={"fields": _settings.started})


# -- options on every command ---------------------------------------------------------------------------

def on_quiet(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    """Callback of every `--quiet` flag (also of commands that declare their own, such as scan)."""
    if value:
        set_quiet(True)
    return value


def _on_log_format(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        set_log_format(value)
    return value


def quiet_option(**kwargs: Any) -> click.Option:
    return click.Option(["--quiet", "-q"], is_flag=True, callback=on_quiet,
                        help="Print nothing but errors (nothing on stdout; on stderr only errors).", **kwargs)


def log_format_option(**kwargs: Any) -> click.Option:
    return click.Option(["--log-format"], type=click.Choice(LOG_FORMATS), default=None, callback=_on_log_format,
                        help="stderr as text (default: errors only) or json (one event object per line).", **kwargs)


def install_options(group: click.Group) -> None:
    """Give the group and every command under it `--quiet` and `--log-format` (idempotent)."""
    for command in [group, *_commands_under(group)]:
        names = {name for param in command.params for name in getattr(param, "opts", [])}
        if "--quiet" not in names:
            command.params.append(quiet_option(expose_value=False))
        if "--log-format" not in names:
            command.params.append(log_format_option(expose_value=False))


def _commands_under(group: click.Group) -> list[click.Command]:
    found: list[click.Command] = []
    for command in group.commands.values():
        found.append(command)
        if isinstance(command, click.Group):
            found.extend(_commands_under(command))
    return found


# -- events ---------------------------------------------------------------------------------------------

def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    _log.log(level, name, extra={"fields": fields})


def run_started(command: str | None, version: str) -> None:
    _settings.started_at = time.monotonic()
    _settings.started = {"command": command, "version": version, "pid": os.getpid()}
    if _settings.log_format == "json":
        _settings.started_in_json = True
        event("run started", **_settings.started)


def collection_started(subscriptions: Iterable[str], workspaces: Iterable[str], arm_endpoint: str | None,
                       cloud: str, concurrency: int) -> None:
    # No subscriptions: every subscription the identity can list.
    event("collection started", subscriptions=list(subscriptions), workspaces=list(workspaces),
          arm_endpoint=arm_endpoint, cloud=cloud, concurrency=concurrency)


def collection_done(document: Mapping[str, Any], seconds: float) -> None:
    errors = document.get("errors") or []
    for error in errors:
        if isinstance(error, Mapping):
            event("collection error", logging.WARNING, **{key: error.get(key) for key in
                                                        ("scope", "operation", "status", "code", "message")})
    event("collection done", resources=len(document.get("resources") or []), errors=len(errors),
          seconds=round(seconds, 3))


def checks_done(checks: int, summary: Mapping[str, int], errors: int) -> None:
    event("checks done", checks=checks, findings=sum(summary.values()), collection_errors=errors, **summary)


def files_written(paths: Iterable[Path]) -> None:
    for path in paths:
        try:
            size: int | None = path.stat().st_size
        except OSError:
            size = None
        event("file written", path=str(path), bytes=size)


def error_line(message: str, exit_status: int) -> None:
    """The one line an exit-2 (or interrupted) run ends with, in the run's format."""
    if _settings.handler is None:
        begin()
    event(message if _settings.log_format == "text" else "error", logging.ERROR,
          **({} if _settings.log_format == "text" else {"message": message, "exit_status": exit_status}))


def run_finished(exit_status: int) -> None:
    level = logging.WARNING if exit_status in (1, 3) else logging.INFO
    seconds = None if _settings.started_at is None else round(time.monotonic() - _settings.started_at, 3)
    event("run finished", level, exit_status=exit_status, meaning=EXIT_MEANINGS.get(exit_status, "unknown"),
          seconds=seconds)
