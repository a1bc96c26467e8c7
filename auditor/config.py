"""`--config FILE`: run defaults in TOML, validated; command-line flags override them.

```toml
fail_on = "high"              # exit 1 only for failures at or above this severity
format = ["json", "html"]     # report formats written to --out
out = "amlaudit-out"
planned_new_clusters = 2      # compute-network-quota
concurrency = 8               # live collection: concurrent Resource Manager calls
connect_timeout = 10          # seconds to connect to Resource Manager (no connection: the run stops, exit 2)
read_timeout = 60             # seconds to wait for an answer (no answer: that read becomes a collection error)
subscriptions = ["..."]
workspaces = ["rg/name"]
arm_endpoint = "https://management.azure.com"
waivers = "waivers.toml"      # accepted risks (docs/waivers-and-baselines.md); relative to this file's folder
history = "audits.db"         # record each run: a file path (SQLite) or postgresql://USER@HOST/DB
quiet = true                  # print nothing but errors (as --quiet)
log_format = "json"           # stderr as one JSON event per line (as --log-format)

[checks.my-custom-check]      # settings for third-party checks
threshold = 3

[tickets.github]              # `amlaudit tickets sync` / `scan --tickets`: see auditor/tickets/settings.py
repository = "contoso/infra"
```
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from amlaudit.auditor.tickets.settings import TicketsConfig


class ConfigError(Exception):
    """The config file cannot be used; one line naming the problem."""


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fail_on: Literal["info", "low", "medium", "high", "critical"] | None = None
    format: list[str] | None = None
    out: str | None = None
    planned_new_clusters: int | None = Field(default=None, ge=0)
    concurrency: int | None = Field(default=None, ge=1, le=64)
    connect_timeout: float | None = Field(default=None, gt=0, le=600)
    read_timeout: float | None = Field(default=None, gt=0, le=3600)
    subscriptions: list[str] | None = None
    workspaces: list[str] | None = None
    arm_endpoint: str | None = None
    cloud: str | None = None
    waivers: str | None = None
    history: str | None = None
    quiet: bool | None = None
    log_format: Literal["text", "json"] | None = None
    checks: dict[str, dict[str, Any]] = Field(default_factory=dict)
    tickets: TicketsConfig = Field(default_factory=TicketsConfig)


def load_config(path: str | Path | None) -> RunConfig:
    if path is None:
        return RunConfig()
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read config ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from None
    try:
        config = RunConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "document"
        raise ConfigError(f"{p}: {where}: {err['msg']}") from None
    if config.waivers is not None:
        # An input kept beside the config (in the same repository), so found from there.
        config.waivers = str(p.parent / Path(config.waivers).expanduser())
    return config
