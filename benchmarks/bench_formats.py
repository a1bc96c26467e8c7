"""What the machine formats add to a scan: every format together on a generated estate.

The tracker's target (issue 8): rendering sarif, junit, csv, xlsx, ocsf and markdown
together on the 1,000-workspace estate adds no more than 50 % to the scan's time.
"The scan" is `amlaudit scan --snapshot FILE` with its default formats (json, html).

For the estate (benchmarks/estate_gen.py, generated once), each repetition runs, each in a
fresh interpreter:
  * the pipeline phase by phase with every format, each reporter's `render` timed one
    after the other in this process (wall and CPU: what each format costs); the scan's
    own phases are the ones `amlaudit scan` runs by default (bench_scan's worker);
  * the renders as `amlaudit scan` makes them (`render_reports`, the costliest formats in
    a worker process when a core is spare, auditor/render_workers.py): the default formats,
    then every format, wall and CPU, the worker's CPU included;
  * `amlaudit scan` end to end with the default formats, with every format, and with
    every format rendered serially (AMLAUDIT_RENDER_WORKERS=0); CPU includes the worker.
Medians over the repetitions are reported, CPU beside wall: the machine may be shared, and
a worker only shortens the wall time when the second core is free.

    python -m benchmarks.bench_formats                    # N = 1000, 3 repetitions
    python -m benchmarks.bench_formats --size 100 --repeat 1

Results: a table on stdout and benchmarks/out/formats.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import orjson

from benchmarks.bench_scan import OUT_DIR, REPO_ROOT, _environment, _run_worker, run_end_to_end

T = TypeVar("T")

SCAN_FORMATS = ["json", "html"]
MACHINE_FORMATS = ["sarif", "junit", "csv", "xlsx", "ocsf", "markdown"]
TARGET_ADDED = 0.50  # all machine formats add at most 50 % to the scan's time
CLOCKS = ("wall", "cpu")


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _clocks(action: Callable[[], T]) -> tuple[T, dict[str, float]]:
    """Wall and CPU time of `action`, the CPU of the child processes it waited for included."""
    wall, before = time.perf_counter(), os.times()
    value = action()
    after = os.times()
    own = (after.user - before.user) + (after.system - before.system)
    children = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return value, {"wall": time.perf_counter() - wall, "cpu": own + children, "cpu_children": children}


def worker_renders(path: Path) -> dict[str, Any]:
    """After the audit: the default formats, then every format, rendered as `amlaudit scan` renders them."""
    from amlaudit.auditor.pipeline import audit_snapshot, render_reports
    from amlaudit.auditor.registry import load_reporters
    from amlaudit.auditor.render_workers import worker_count
    from amlaudit.auditor.runner import cyclic_gc_paused
    from amlaudit.auditor.snapshot import load_snapshot

    every = SCAN_FORMATS + MACHINE_FORMATS
    reporters = load_reporters(every)  # imported up front, as the CLI does: imports are not timed here
    with cyclic_gc_paused():
        result = audit_snapshot(load_snapshot(path))
        apart = sum(1 for name in every if getattr(reporters[name], "render_apart", False))
        workers = worker_count(apart)
        _, scan = _clocks(lambda: render_reports(result, SCAN_FORMATS, reporters))
        _, every_format = _clocks(lambda: render_reports(result, every, reporters))
    return {"workers": workers, "scan_formats": scan, "every_format": every_format}


@contextmanager
def _environment_variable(name: str, value: str) -> Iterator[None]:
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            del os.environ[name]
        else:
            os.environ[name] = previous


def _run_renders_worker(path: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench_formats", "--worker", str(path)], cwd=REPO_ROOT,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"renders worker failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


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
            "renders": _run_renders_worker(path),
            "scan_e2e": run_end_to_end(path, work / "out-scan", SCAN_FORMATS),
            "all_e2e": run_end_to_end(path, work / "out-all", SCAN_FORMATS + MACHINE_FORMATS),
        }
        with _environment_variable("AMLAUDIT_RENDER_WORKERS", "0"):
            run["all_serial_e2e"] = run_end_to_end(path, work / "out-serial", SCAN_FORMATS + MACHINE_FORMATS)
        timings = phases["phases"]
        # The scan's phases: all but the machine formats' renders and the plug-in loading (which here
        # also imports the formats' libraries: the end-to-end comparison counts that).
        not_scan = {"load_plugins", *(f"render_{f}" for f in MACHINE_FORMATS)}
        run["scan_in_process"] = {c: sum(p[c] for name, p in timings.items() if name not in not_scan) for c in CLOCKS}
        run["formats_in_process"] = {c: sum(timings[f"render_{f}"][c] for f in MACHINE_FORMATS) for c in CLOCKS}
        renders = run["renders"]
        run["formats_as_rendered"] = {c: renders["every_format"][c] - renders["scan_formats"][c] for c in CLOCKS}
        runs.append(run)
        print(f"  rep {rep + 1}: scan {run['scan_in_process']['cpu']:.2f} s CPU in-process, formats "
              f"{run['formats_in_process']['cpu']:.2f} s one by one, {run['formats_as_rendered']['wall']:.2f} s wall "
              f"as rendered ({renders['workers']} worker); end to end {run['scan_e2e']['cpu']:.2f} -> "
              f"{run['all_e2e']['cpu']:.2f} s CPU, {run['scan_e2e']['wall']:.2f} -> {run['all_e2e']['wall']:.2f} s wall "
              f"(load {os.getloadavg()[0]:.1f})", file=sys.stderr)
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
    result["render_workers"] = runs[0]["renders"]["workers"]
    for key in ("scan_in_process", "formats_in_process", "formats_as_rendered"):
        result[key] = {c: _median([r[key][c] for r in runs]) for c in CLOCKS}
    for key in ("scan_e2e", "all_e2e", "all_serial_e2e"):
        result[key] = {c: _median([r[key][c] for r in runs]) for c in CLOCKS}
        result[f"{key}_peak_rss_mb"] = max(r[key]["peak_rss_mb"] for r in runs)
    scan = result["scan_in_process"]
    verdict = {
        "added_in_process_cpu": result["formats_in_process"]["cpu"] / scan["cpu"],
        "added_in_process_wall": result["formats_as_rendered"]["wall"] / scan["wall"],
        "added_end_to_end_cpu": result["all_e2e"]["cpu"] / result["scan_e2e"]["cpu"] - 1,
        "added_end_to_end_wall": result["all_e2e"]["wall"] / result["scan_e2e"]["wall"] - 1,
        "added_end_to_end_serial_cpu": result["all_serial_e2e"]["cpu"] / result["scan_e2e"]["cpu"] - 1,
        "added_end_to_end_serial_wall": result["all_serial_e2e"]["wall"] / result["scan_e2e"]["wall"] - 1,
        "target": TARGET_ADDED,
    }
    # Each repetition's own ratios: its two end-to-end runs ran back to back (the in-process
    # phases in one process), so a slow stretch of the VM moves both sides of a pair; the
    # ratio of the medians can pair a fast scan with a slow one.
    verdict["added_end_to_end_wall_per_repetition"] = _median(
        [r["all_e2e"]["wall"] / r["scan_e2e"]["wall"] - 1 for r in runs])
    verdict["added_in_process_wall_per_repetition"] = _median(
        [r["formats_as_rendered"]["wall"] / r["scan_in_process"]["wall"] for r in runs])
    verdict["added_end_to_end_cpu_per_repetition"] = _median(
        [r["all_e2e"]["cpu"] / r["scan_e2e"]["cpu"] - 1 for r in runs])
    # The target is on the scan's time: how long `amlaudit scan` takes (wall), judged on each
    # repetition's pair. The work (CPU), which a worker moves to another core but does not
    # remove, is judged beside it and reported: on one usable core it is what a run takes.
    verdict["met_wall"] = max(verdict["added_in_process_wall_per_repetition"],
                              verdict["added_end_to_end_wall_per_repetition"]) <= TARGET_ADDED
    verdict["met_cpu"] = max(verdict["added_in_process_cpu"], verdict["added_end_to_end_cpu"]) <= TARGET_ADDED
    verdict["met"] = verdict["met_wall"]
    result["verdict"] = verdict
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
    print(f"  machine formats one by one, in-process    {pair(result['formats_in_process'])}")
    print(f"  machine formats as rendered ({result['render_workers']} worker)    {pair(result['formats_as_rendered'])}")
    print(f"  amlaudit scan end to end, json,html       {pair(result['scan_e2e'])}  "
          f"(peak {result['scan_e2e_peak_rss_mb']:.0f} MB)")
    print(f"  amlaudit scan end to end, every format    {pair(result['all_e2e'])}  "
          f"(peak {result['all_e2e_peak_rss_mb']:.0f} MB)")
    print(f"    the same, rendered serially             {pair(result['all_serial_e2e'])}  "
          f"(peak {result['all_serial_e2e_peak_rss_mb']:.0f} MB)")
    verdict = result["verdict"]
    print(f"added by the formats, CPU: {verdict['added_in_process_cpu']:.0%} in-process, "
          f"{verdict['added_end_to_end_cpu']:.0%} end to end ({verdict['added_end_to_end_serial_cpu']:.0%} serially); "
          f"the work, judged beside the target (<= {TARGET_ADDED:.0%}): {'within' if verdict['met_cpu'] else 'over'}")
    print(f"added by the formats, wall: {verdict['added_in_process_wall']:.0%} in-process, "
          f"{verdict['added_end_to_end_wall']:.0%} end to end ({verdict['added_end_to_end_serial_wall']:.0%} serially), "
          f"ratios of the medians")
    print(f"added by the formats, wall, median of each repetition's own ratio: "
          f"{verdict['added_in_process_wall_per_repetition']:.0%} in-process, "
          f"{verdict['added_end_to_end_wall_per_repetition']:.0%} end to end; "
          f"target <= {TARGET_ADDED:.0%}: {'met' if verdict['met_wall'] else 'MISSED'}")


_FILES = {"findings.json": "json", "report.html": "html", "findings.sarif": "sarif", "junit.xml": "junit",
          "findings.csv": "csv", "findings.xlsx": "xlsx", "findings.ocsf.json": "ocsf", "summary.md": "markdown"}


def _format_of(filename: str) -> str | None:
    return _FILES.get(filename)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"]:
        print(json.dumps(worker_renders(Path(argv[1]))))
        return 0
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_formats", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1000, help="workspaces in the generated estate [1000]")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions; medians are reported [3]")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT_DIR / "formats.json", help="results file [benchmarks/out/formats.json]")
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
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
