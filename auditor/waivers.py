"""`--waivers FILE`: accepted risks, each for one check, one selector and a limited time.

```toml
[[waiver]]
check = "compute-remote-login"                  # required: a registered check id
resource = "/subscriptions/.../computes/cpu"    # exactly one selector: resource, fingerprint or resource_glob
reason = "jump host pending, CHG-1042"          # required, not empty
owner = "netops@contoso.com"                    # required, not empty
expires = 2027-03-31                            # required: a TOML date (no time); no permanent waivers
```

Selectors: `resource` is an ARM id compared case-insensitively (a trailing `/` is
ignored); `fingerprint` is a finding's fingerprint from findings.json;
`resource_glob` is an fnmatch-style pattern over the ARM id, compared
case-insensitively: `*` matches any run of characters *including* `/`, `?` one
character, `[seq]` / `[!seq]` one character in / not in seq.

Applying them to a run (`apply_waivers`, a plain stage after the checks):

- Only `fail` findings are waived. `error` findings are never waived (what could
  not be verified is never accepted); `pass` and `not_applicable` need no waiver.
- A waived finding keeps its status and gains `waiver` (the entry); it does not
  count toward exit 1 (`Finding.counts_toward_exit`). Several matching waivers:
  the first in file order is the one shown.
- A waiver is valid through its `expires` day in UTC: it waives while
  `expires >= today (UTC)` and is *expired* from the next UTC day on; expired
  waivers waive nothing and are listed with the failing findings they would match.
- A valid waiver that matches no failing finding is *stale* (the finding passes,
  is not applicable or is gone: remove the waiver), unless this run could not
  verify what it names (an `error` finding, its check did not run or crashed, a
  collection error or coverage gap in its reach): then it is *unverified*, kept.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, field_validator, model_validator

from amlaudit.auditor.coverage import Coverage
from amlaudit.auditor.findings import AuditResult, Finding, fingerprint
from amlaudit.auditor.ids import id_key, looks_like_arm_id

Selector = Literal["resource", "fingerprint", "resource_glob"]
SELECTORS: tuple[Selector, ...] = ("resource", "fingerprint", "resource_glob")
_FINGERPRINT = re.compile(r"^[0-9a-f]{32}$")
_GLOB_SPECIALS = re.compile(r"[*?\[]")


class WaiverError(Exception):
    """The waivers file cannot be used; the message is one line naming the file and the entry."""


def utc_today() -> date:
    """The day expiry is judged against: today in UTC (a waiver expiring 2027-03-31 waives through 23:59:59Z)."""
    return datetime.now(timezone.utc).date()


class _Entry(BaseModel):
    """One `[[waiver]]` table, exactly as the file must spell it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    check: StrictStr = Field(min_length=1)
    resource: StrictStr | None = None
    fingerprint: StrictStr | None = None
    resource_glob: StrictStr | None = None
    reason: StrictStr = Field(min_length=1)
    owner: StrictStr = Field(min_length=1)
    expires: date

    @field_validator("expires", mode="before")
    @classmethod
    def _a_toml_date(cls, value: Any) -> date:
        # tomllib gives datetime.date for `2027-03-31`; a string, a datetime (a subclass of date)
        # or a time is not a day and is refused rather than guessed at.
        if type(value) is not date:
            raise ValueError(f"'expires' must be a TOML date such as 2027-03-31, not {_toml_kind(value)}")
        return value

    @field_validator("resource")
    @classmethod
    def _an_arm_id(cls, value: str | None) -> str | None:
        if value is not None and not looks_like_arm_id(value):
            raise ValueError(f"'resource' must be an ARM id starting with /subscriptions/, not {value!r}")
        return value

    @field_validator("fingerprint")
    @classmethod
    def _a_fingerprint(cls, value: str | None) -> str | None:
        if value is not None and not _FINGERPRINT.match(value.lower()):
            raise ValueError(f"'fingerprint' must be a finding fingerprint from findings.json (32 hex digits), not {value!r}")
        return value.lower() if value is not None else None

    @field_validator("resource_glob")
    @classmethod
    def _a_glob(cls, value: str | None) -> str | None:
        if value is not None and not value:
            raise ValueError("'resource_glob' must not be empty")
        return value

    @model_validator(mode="after")
    def _one_selector(self) -> _Entry:
        given = [name for name in SELECTORS if getattr(self, name) is not None]
        if len(given) != 1:
            found = f"found {' and '.join(repr(n) for n in given)}" if given else "none given"
            raise ValueError(f"give exactly one of 'resource', 'fingerprint' or 'resource_glob' ({found})")
        return self


def _toml_kind(value: Any) -> str:
    if isinstance(value, datetime):
        return f"a date-time ({value.isoformat()})"
    if isinstance(value, str):
        return f"a string ({value!r}; write the date without quotes)"
    return f"{type(value).__name__} {value!r}"


@dataclass(frozen=True, slots=True)
class Waiver:
    """A validated entry: `index` is its position in the file, from 1."""

    index: int
    check: str
    selector: Selector
    value: str  # as written (reports show it); matching uses `_key` / `_pattern`
    reason: str
    owner: str
    expires: date
    _key: str  # the id key, the fingerprint, or the glob's regular expression source

    def matches(self, finding: Finding) -> bool:
        if finding.check_id != self.check:
            return False
        if self.selector == "fingerprint":
            return finding.fingerprint == self._key
        if self.selector == "resource":
            return id_key(finding.resource_id) == self._key
        return _compiled(self._key).fullmatch(id_key(finding.resource_id)) is not None

    def expired(self, today: date) -> bool:
        return self.expires < today

    def to_dict(self) -> dict[str, Any]:
        """The entry as findings.json shows it (a finding's `waiver`, the `waivers` section)."""
        return {"entry": self.index, "check": self.check, self.selector: self.value, "reason": self.reason,
                "owner": self.owner, "expires": self.expires.isoformat()}

    def describe(self) -> str:
        return f"waiver {self.index} (check {self.check!r}, {self.selector} {self.value!r})"


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _compiled(source: str) -> re.Pattern[str]:
    pattern = _PATTERNS.get(source)
    if pattern is None:
        pattern = _PATTERNS[source] = re.compile(source)
    return pattern


def _glob_regex(glob: str) -> str:
    # Case-insensitive like every ARM id: both sides are id keys (lower case, no trailing slash).
    return fnmatch.translate(id_key(glob))


@dataclass(frozen=True, slots=True)
class WaiverSet:
    source: str
    waivers: tuple[Waiver, ...]


def _problem(err: Mapping[str, Any]) -> str:  # one of pydantic's ErrorDetails
    field_name = str(err["loc"][0]) if err["loc"] else ""
    kind = err["type"]
    if kind == "missing":
        return f"{field_name!r} is required"
    if kind == "extra_forbidden":
        return f"unknown field {field_name!r} (fields: check, resource, fingerprint, resource_glob, reason, owner, expires)"
    if kind == "string_type":
        return f"{field_name!r} must be a string"
    if kind == "string_too_short":
        return f"{field_name!r} must not be empty"
    if kind == "value_error":
        return str(err["ctx"]["error"]) if "ctx" in err else err["msg"]
    return f"{field_name}: {err['msg']}" if field_name else err["msg"]


def parse_waivers(text: str, source: str, check_ids: Collection[str]) -> WaiverSet:
    """Validate a waivers document; WaiverError with one line naming the first bad entry."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WaiverError(f"{source}: not valid TOML ({exc})") from None
    unknown = [key for key in document if key != "waiver"]
    if unknown:
        raise WaiverError(f"{source}: unknown key {unknown[0]!r} (each waiver is a [[waiver]] table)")
    entries = document.get("waiver", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise WaiverError(f"{source}: 'waiver' must be an array of tables, written [[waiver]]")
    known = {c.lower(): c for c in check_ids}
    waivers = []
    for index, raw in enumerate(entries, start=1):
        check_name = raw.get("check")
        where = f"{source}: waiver {index}" + (f" (check {check_name!r})" if isinstance(check_name, str) else "")
        try:
            entry = _Entry.model_validate(raw)
        except ValidationError as exc:
            raise WaiverError(f"{where}: {_problem(exc.errors()[0])}") from None
        check_id = known.get(entry.check.lower())
        if check_id is None:
            raise WaiverError(f"{where}: unknown check {entry.check!r} (run 'amlaudit checks' for the list)")
        selector = next(name for name in SELECTORS if getattr(entry, name) is not None)
        value: str = getattr(entry, selector)
        key = {"resource": id_key, "fingerprint": str.lower, "resource_glob": _glob_regex}[selector](value)
        waivers.append(Waiver(index, check_id, selector, value, entry.reason, entry.owner, entry.expires, key))
    return WaiverSet(source, tuple(waivers))


def load_waivers(path: str | Path, check_ids: Collection[str]) -> WaiverSet:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WaiverError(f"{p}: no such waivers file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise WaiverError(f"{p}: cannot read waivers ({getattr(exc, 'strerror', None) or exc})") from None
    return parse_waivers(text, str(p), check_ids)


def _unverified(waiver: Waiver, coverage: Coverage, findings: Sequence[Finding]) -> str | None:
    """Why a valid waiver that matched no failing finding may still be needed, or None (it is stale)."""
    reason = coverage.check_unverified(waiver.check)
    if reason is not None:
        return reason
    if waiver.selector == "resource":
        return coverage.unverified(waiver.check, waiver.value, fingerprint(waiver.check, waiver.value))
    if waiver.selector == "fingerprint":
        current = coverage.findings_by_fingerprint.get(waiver._key)
        if current is not None:
            return coverage.unverified(waiver.check, current.resource_id, waiver._key)
        # No finding to trace the fingerprint to a subject: only a complete run can call it gone.
        return None if coverage.complete else "no finding has this fingerprint and this run was incomplete"
    # resource_glob: an unverifiable finding it matches, a collection error or coverage gap at an
    # id it matches or above ids it could match, or a subscription it names that was not audited.
    for finding in findings:
        if finding.status == "error" and waiver.matches(finding):
            return f"cannot verify {finding.resource_id} now: {finding.message}"
    glob = id_key(waiver.value)
    for scope in coverage.unseen_scopes():
        if _compiled(waiver._key).fullmatch(scope) or glob_matches_below(glob, scope):
            return f"this run could not see into {scope or 'any scope'} (collection error or coverage gap)"
    parts = _GLOB_SPECIALS.split(glob, maxsplit=1)[0].split("/")
    if len(parts) > 3 and parts[1] == "subscriptions" and coverage.subscriptions is not None \
            and parts[2] not in coverage.subscriptions:
        return "its subscription was not audited in this run"
    return None


def _glob_tokens(glob: str) -> list[str | re.Pattern[str]]:
    """The glob as fnmatch reads it: "*", "?", a one-character class (a compiled pattern), or a literal."""
    tokens: list[str | re.Pattern[str]] = []
    i = 0
    while i < len(glob):
        char = glob[i]
        if char == "[":
            # As fnmatch: a class runs to the next "]" after at least one member; unclosed "[" is literal.
            j = i + 1
            if j < len(glob) and glob[j] == "!":
                j += 1
            if j < len(glob) and glob[j] == "]":
                j += 1
            j = glob.find("]", j)
            if j != -1:
                tokens.append(re.compile(fnmatch.translate(glob[i:j + 1])))
                i = j + 1
                continue
        tokens.append(char)
        i += 1
    return tokens


def glob_matches_below(glob: str, scope: str) -> bool:
    """True when the glob matches some id below `scope` (`scope` + "/" + anything): an error there hides them.

    Runs the glob as a small automaton over the prefix; whatever states survive can always be
    completed (a literal tail, "?", a class or "*" each match some text).
    """
    tokens = _glob_tokens(glob)

    def closure(states: set[int]) -> set[int]:
        todo, seen = list(states), set(states)
        while todo:
            i = todo.pop()
            if i < len(tokens) and tokens[i] == "*" and i + 1 not in seen:
                seen.add(i + 1)
                todo.append(i + 1)
        return seen

    states = closure({0})
    for char in scope + "/":
        after: set[int] = set()
        for i in states:
            if i >= len(tokens):
                continue
            token = tokens[i]
            if token == "*":
                after.add(i)
            elif token == "?" or (isinstance(token, re.Pattern) and token.fullmatch(char)) or token == char:
                after.add(i + 1)
        states = closure(after)
        if not states:
            return False
    return any(i < len(tokens) for i in states)


def apply_waivers(result: AuditResult, waivers: WaiverSet, today: date) -> AuditResult:
    """This run's result with waived failures annotated and the `waivers` section (see the module doc)."""
    valid: dict[str, list[Waiver]] = {}
    expired: dict[str, list[Waiver]] = {}
    for waiver in waivers.waivers:
        (expired if waiver.expired(today) else valid).setdefault(waiver.check, []).append(waiver)
    matched: dict[int, list[str]] = {w.index: [] for w in waivers.waivers}
    findings: list[Finding] = []
    applied = 0
    for finding in result.findings:
        if finding.status != "fail":  # errors are never waived; passes need no waiver
            findings.append(finding)
            continue
        chosen: Waiver | None = None
        for waiver in valid.get(finding.check_id, ()):
            if waiver.matches(finding):
                matched[waiver.index].append(finding.fingerprint)
                chosen = chosen or waiver
        for waiver in expired.get(finding.check_id, ()):
            if waiver.matches(finding):
                matched[waiver.index].append(finding.fingerprint)
        if chosen is not None:
            applied += 1
            finding = replace(finding, waiver=chosen.to_dict())
        findings.append(finding)

    coverage = Coverage.of_result(result)
    section: dict[str, Any] = {"file": waivers.source, "evaluated_on": today.isoformat(), "entries": len(waivers.waivers),
                               "applied": applied, "active": [], "expired": [], "stale": [], "unverified": []}
    for waiver in waivers.waivers:
        entry = waiver.to_dict()
        if waiver.expired(today):
            section["expired"].append(entry | {"matched": matched[waiver.index]})
        elif matched[waiver.index]:
            section["active"].append(entry | {"matched": matched[waiver.index]})
        elif (reason := _unverified(waiver, coverage, result.findings)) is not None:
            section["unverified"].append(entry | {"unverified_reason": reason})
        else:
            section["stale"].append(entry)
    return replace(result, findings=findings, waivers=section)


def console_lines(result: AuditResult) -> list[str]:
    """What the scan summary says about waivers (nothing without a waivers file)."""
    section = result.waivers
    if section is None:
        return []
    lines = [f"waivers {section['file']}: {section['applied']} failing finding(s) accepted by "
             f"{len(section['active'])} waiver(s); {len(section['expired'])} expired, {len(section['stale'])} stale, "
             f"{len(section['unverified'])} unverified (judged on {section['evaluated_on']} UTC)."]
    for entry in section["expired"]:
        lines.append(f"  expired: {_entry_text(entry)} expired {entry['expires']}; "
                     f"{len(entry['matched'])} failing finding(s) no longer waived")
    for entry in section["stale"]:
        lines.append(f"  stale: {_entry_text(entry)} matches no failing finding; remove it")
    for entry in section["unverified"]:
        lines.append(f"  unverified: {_entry_text(entry)}: {entry['unverified_reason']}")
    return lines


def _entry_text(entry: dict[str, Any]) -> str:
    selector = next(name for name in SELECTORS if name in entry)
    return f"waiver {entry['entry']} (check {entry['check']!r}, {selector} {entry[selector]!r})"


def waiver_note(waiver: Mapping[str, Any]) -> str:
    """How every report shows a waived finding: "accepted until 2027-03-31 — reason, owner"."""
    return f"accepted until {waiver.get('expires')} \u2014 {waiver.get('reason')}, {waiver.get('owner')}"
