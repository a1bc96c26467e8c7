"""What waivers, a baseline and `diff` add to a large scan: `python -m benchmarks.bench_annotations [N]`.

Audits a generated estate of N workspaces (benchmarks/estate_gen.py, default 1,000,
about 25,000 findings) once, then times each stage after the checks on its result:
reading a findings.json back, `apply_waivers` with 300 waivers (100 per selector),
`apply_baseline` against the previous run's file, and `diff_findings`. Medians of
three runs, wall clock, printed as a table.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import orjson

from amlaudit.auditor.baseline import apply_baseline
from amlaudit.auditor.diff import diff_findings
from amlaudit.auditor.findings_file import parse_findings_document
from amlaudit.auditor.pipeline import audit_snapshot
from amlaudit.auditor.registry import load_checks
from amlaudit.auditor.snapshot import decode_json_bytes, parse_snapshot
from amlaudit.auditor.waivers import apply_waivers, parse_waivers
from benchmarks.estate_gen import generate


def _median_seconds(action: Callable[[], Any], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _waivers_text(findings: list[Any]) -> str:
    failing = [f for f in findings if f.status == "fail"] or findings
    entries = []
    for i in range(300):
        f = failing[i % len(failing)]
        selector = (f'resource = "{f.resource_id}"', f'fingerprint = "{f.fingerprint}"',
                    f'resource_glob = "{f.resource_id.rsplit("/", 2)[0]}/*"')[i % 3]
        entries.append(f'[[waiver]]\ncheck = "{f.check_id}"\n{selector}\nreason = "r{i}"\nowner = "o"\nexpires = 2099-01-01\n')
    return "\n".join(entries)


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 1000
    result = audit_snapshot(parse_snapshot(generate(n, 0), f"generated {n}"))
    data = orjson.dumps(result.to_document())
    previous = parse_findings_document(orjson.loads(data), "previous.json")
    waivers = parse_waivers(_waivers_text(result.findings), "waivers.toml", [c.id for c in load_checks()])
    rows = [
        # decode_json_bytes is the path --baseline and diff take (large files decoded with the cyclic GC paused).
        ("read a findings.json back (decode + validate)", _median_seconds(lambda: parse_findings_document(decode_json_bytes(data, "f"), "f"))),
        ("apply_waivers, 300 waivers", _median_seconds(lambda: apply_waivers(result, waivers, date(2026, 12, 3)))),
        ("apply_baseline", _median_seconds(lambda: apply_baseline(result, previous))),
        ("diff_findings", _median_seconds(lambda: diff_findings(previous, previous))),
    ]
    print(f"{n} workspaces, {len(result.findings):,} findings ({result.summary['fail']:,} failing), {len(data) / 1e6:.1f} MB findings.json")
    for name, seconds in rows:
        print(f"{name:<48} {seconds:7.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
