"""What the machine formats add to a scan: every format together on a generated estate.

The tracker's target (issue 8): rendering sarif, junit, csv, xlsx, ocsf and markdown
together on the 1,000-workspace estate adds no more than 50 % to the scan's time.
"The scan" is `amlaudit scan --snapshot FILE` with its default formats (json, html).

For the estate (benchmarks/estate_gen.py, generated once), each repetition runs, each in a
fresh interpreter (bench_scan's workers):
  * the pipeline phase by phase with every format, each reporter's `render` timed
    (wall and CPU); the scan's own phases are the ones `amlaudit scan` runs by default;
  * `amlaudit scan` end to end with the default formats, and with every format.
Medians over the repetitions are reported, CPU beside wall: the machine may be shared.

    python -m benchmarks.bench_formats                    # N = 1000, 3 repetitions
    python -m benchmarks.bench_formats --size 100 --repeat 1

Results: a table on stdout and benchmarks/out/formats.json.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from benchmarks.bench_scan import OUT_DIR, _environment, _run_worker, run_end_to_end

SCAN_FORMATS = ["json", "html"]
MACHINE_FORMATS = ["sarif", "junit", "csv", "xlsx", "ocsf", "markdown"]
TARGET_ADDED = 0.50  # all machine formats add at most 50 % to the scan's time
CLOCKS = ("wall", "cpu")


def _median(values: list[float]) -> float:
    return statistics.median(values)


def measure(n: int, seed: int, repeat: int, work: Path) -> dict[str, Any]:
    from benchmarks.estate_gen import generate

    path = work / f"estate-{n}.json"
    path.write_bytes(orjson.dumps(generate(n, seed)))
    gc.collect()
    print(f"N={n}: {path.stat().st_size / 1e6:.1f} MB snapshot; {repeat} repetition(s)", file=sys.stderr)
    runs = []
    for rep in range(repeat):
        phases = _run_worker(["phases", str(path), str(work / "out-phases"), ",".join(SCAN_FORMATS + MACHINE_FORMATS)])
        run = {
            "phases": phases,
            "scan_e2e": run_end_to_end(path, work / "out-scan", SCAN_FORMATS),
            "all_e2e": run_end_to_end(path, work / "out-all", SCAN_FORMATS + MACHINE_FORMATS),
        }
        timings = phases["phases"]
        # The scan's phases: all but the machine formats' renders and the plug-in loading (which here
        # also imports the formats' libraries: the end-to-end comparison counts that).
        not_scan = {"load_plugins", *(f"render_{f}" for f in MACHINE_FORMATS)}
        run["scan_in_process"] = {c: sum(p[c] for name, p in timings.items() if name not in not_scan) for c in CLOCKS}
        run["formats_in_process"] = {c: sum(timings[f"render_{f}"][c] for f in MACHINE_FORMATS) for c in CLOCKS}
        runs.append(run)
        print(f"  rep {rep + 1}: scan {run['scan_in_process']['cpu']:.2f} s CPU in-process, formats "
              f"{run['formats_in_process']['cpu']:.2f} s; end to end {run['scan_e2e']['cpu']:.2f} -> "
              f"{run['all_e2e']['cpu']:.2f} s CPU", file=sys.stderr)
    first = runs[0]["phases"]
    result: dict[str, Any] = {
        "n_workspaces": n,
        "findings": first["findings"],
        "summary": first["summary"],
        "report_bytes": first["report_bytes"],
        "repetitions": repeat,
        "render": {f: {c: _median([r["phases"]["phases"][f"render_{f}"][c] for r in runs]) for c in CLOCKS}
                   for f in SCAN_FORMATS + MACHINE_FORMATS},
    }
    for key in ("scan_in_process", "formats_in_process"):
        result[key] = {c: _median([r[key][c] for r in runs]) for c in CLOCKS}
    for key in ("scan_e2e", "all_e2e"):
        result[key] = {c: _median([r[key][c] for r in runs]) for c in CLOCKS}
        result[f"{key}_peak_rss_mb"] = max(r[key]["peak_rss_mb"] for r in runs)
    added_in_process = result["formats_in_process"]["cpu"] / result["scan_in_process"]["cpu"]
    added_e2e = result["all_e2e"]["cpu"] / result["scan_e2e"]["cpu"] - 1
    result["verdict"] = {"added_in_process_cpu": added_in_process, "added_end_to_end_cpu": added_e2e,
                         "added_end_to_end_wall": result["all_e2e"]["wall"] / result["scan_e2e"]["wall"] - 1,
                         "target": TARGET_ADDED, "met": max(added_in_process, added_e2e) <= TARGET_ADDED}
    result["runs"] = runs
    return result


def print_table(result: dict[str, Any]) -> None:
    def pair(clocks: dict[str, float]) -> str:
        return f"{clocks['wall']:.2f} / {clocks['cpu']:.2f}"

    print(f"N = {result['n_workspaces']} workspaces, {result['findings']} findings; seconds, wall / CPU (median)")
    for name, clocks in result["render"].items():
        size = next((v for k, v in result["report_bytes"].items() if _format_of(k) == name), 0)
        print(f"  render {name:<9} {pair(clocks):>14}   {size / 1e6:7.1f} MB")
    print(f"  scan, in-process (default formats)        {pair(result['scan_in_process'])}")
    print(f"  machine formats together, in-process      {pair(result['formats_in_process'])}")
    print(f"  amlaudit scan end to end, json,html       {pair(result['scan_e2e'])}  "
          f"(peak {result['scan_e2e_peak_rss_mb']:.0f} MB)")
    print(f"  amlaudit scan end to end, every format    {pair(result['all_e2e'])}  "
          f"(peak {result['all_e2e_peak_rss_mb']:.0f} MB)")
    verdict = result["verdict"]
    print(f"added by the formats: {verdict['added_in_process_cpu']:.0%} in-process CPU, "
          f"{verdict['added_end_to_end_cpu']:.0%} end-to-end CPU ({verdict['added_end_to_end_wall']:.0%} wall); "
          f"target <= {TARGET_ADDED:.0%}: {'met' if verdict['met'] else 'MISSED'}")


_FILES = {"findings.json": "json", "report.html": "html", "findings.sarif": "sarif", "junit.xml": "junit",
          "findings.csv": "csv", "findings.xlsx": "xlsx", "findings.ocsf.json": "ocsf", "summary.md": "markdown"}


def _format_of(filename: str) -> str | None:
    return _FILES.get(filename)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_formats", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1000, help="workspaces in the generated estate [1000]")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions; medians are reported [3]")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT_DIR / "formats.json", help="results file [benchmarks/out/formats.json]")
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    environment = _environment()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="amlaudit-bench-formats-") as tmp:
        result = measure(args.size, args.seed, args.repeat, Path(tmp))
    environment["load_average_after"] = os.getloadavg()
    environment["duration_s"] = time.perf_counter() - started
    print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps({"benchmark": "formats", "seed": args.seed, "environment": environment, **result},
                                      option=orjson.OPT_INDENT_2) + b"\n")
    print(f"wrote {args.out}")
    return 1 if args.check and not result["verdict"]["met"] else 0


if __name__ == "__main__":
    sys.exit(main())
