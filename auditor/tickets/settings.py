"""The `[tickets]` tables of the run config (`--config FILE`), validated; flags override them.

```toml
[tickets]
max_changes = 50                        # refuse a plan that would change more tickets than this
report_url = "https://reports.contoso.com/amlaudit/latest/report.html"

[tickets.github]
repository = "contoso/infra"            # OWNER/NAME
api_url = "https://ghe.contoso.com/api/v3"   # GitHub Enterprise Server; default api.github.com
labels = ["security"]                   # extra labels on new issues

[tickets.jira]
site_url = "https://contoso.atlassian.net"
project = "SEC"
issue_type = "Bug"
priorities = { critical = "Highest", high = "High", medium = "Medium", low = "Low", info = "Lowest" }

[tickets.azure-boards]
organization_url = "https://dev.azure.com/contoso"
project = "Platform"
work_item_type = "Bug"
area_path = "Platform\\Security"
priorities = { critical = 1, high = 2, medium = 3, low = 4 }
```

Credentials never go here: they come from the environment only (GITHUB_TOKEN; JIRA_EMAIL +
JIRA_API_TOKEN or JIRA_PAT; AZURE_DEVOPS_EXT_PAT or an Entra sign-in).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["critical", "high", "medium", "low", "info"]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Waits(_Table):
    timeout: float | None = Field(default=None, gt=0, le=600)
    max_retries: int | None = Field(default=None, ge=0, le=20)
    max_wait: float | None = Field(default=None, ge=0, le=3600)


class GitHubTable(_Waits):
    repository: str | None = Field(default=None, pattern=r"^[^/\s]+/[^/\s]+$")
    api_url: str | None = Field(default=None, pattern=r"^https?://")
    api_version: str | None = None
    labels: list[str] | None = None
    page_size: int | None = Field(default=None, ge=1, le=100)
    max_total_wait: float | None = Field(default=None, ge=0, le=7200)


class JiraTable(_Waits):
    site_url: str | None = Field(default=None, pattern=r"^https?://")
    project: str | None = None
    issue_type: str | None = None
    priorities: dict[Severity, str] | None = None
    labels: list[str] | None = None
    deployment: Literal["cloud", "datacenter"] | None = None
    close_transition: str | None = None
    reopen_transition: str | None = None
    page_size: int | None = Field(default=None, ge=1, le=1000)


class AzureBoardsTable(_Waits):
    organization_url: str | None = Field(default=None, pattern=r"^https?://")
    project: str | None = None
    work_item_type: str | None = None
    area_path: str | None = None
    iteration_path: str | None = None
    description_field: str | None = None
    priorities: dict[Severity, int] | None = None
    closed_state: str | None = None
    reopen_state: str | None = None


class TicketsConfig(_Table):
    max_changes: int | None = Field(default=None, ge=0)
    report_url: str | None = Field(default=None, pattern=r"^https?://")
    github: GitHubTable | None = None
    jira: JiraTable | None = None
    azure_boards: AzureBoardsTable | None = Field(default=None, alias="azure-boards")
