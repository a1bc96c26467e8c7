"""Scan performance on generated estates: does `amlaudit scan --snapshot` stay linear and cheap?

The tracker's targets: scan time grows linearly, t(2N)/t(N) <= 2.3 at N = 500 (issue 3);
at N = 1,000 the whole scan takes at most 2.5x the time `json.load` needs to parse the
same file, and its peak memory stays under 1 GB (issue 7; issue 3 asked 5x and 3 GB).
The ratio to `json.load` is given two ways: the ratio of the medians, and the median of
each repetition's own ratio (its scan and its `json.load` run minutes apart at most, so a
machine whose speed drifts during the benchmark moves both). "The whole scan" is what
`amlaudit scan --snapshot FILE --out DIR` does: load and validate the snapshot, build
the graph, run every registered check, render findings.json and report.html, write them.

For each size N the estate is generated once (benchmarks/estate_gen.py) and written as
compact JSON. Each repetition then runs, each in a fresh interpreter so no run warms
another's heap:
  * `json.load` of the file (the baseline the tracker names);
  * the pipeline's phases in-process, timed one by one (wall and CPU time);
  * one end-to-end `amlaudit scan` subprocess (wall, CPU and peak RSS from wait4).
Medians over the repetitions are reported. The machine may be shared, so CPU times
are recorded beside wall times and the load average is kept with the results.

    python -m benchmarks.bench_scan                          # sizes 250,500,1000, 3 repetitions
    python -m benchmarks.bench_scan --sizes 100 --repeat 1   # quick look
    python -m benchmarks.bench_scan --profile                # also cProfile the largest size

Results: a table on stdout and benchmarks/out/scan.json (and scan-profile.txt with --profile).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import orjson

OUT_DIR = Path(__file__).resolve().parent / "out"
REPO_ROOT = Path(__file__).resolve().parent.parent
TARGET_SCALING = 2.3  # t(2N)/t(N) at N = 500
TARGET_JSON_LOAD_RATIO = 2.5  # whole scan / json.load at N = 1,000 (issue 7; issue 3: 5)
TARGET_PEAK_RSS_MB = 1024  # issue 7: under 1 GB (issue 3: 3 GB)
T = TypeVar("T")


# -- workers (run in a fresh interpreter; print one JSON object on stdout) ------------------


def _timed(phases: dict[str, dict[str, float]], name: str, action: Callable[[], T]) -> T:
    wall, cpu = time.perf_counter(), time.process_time()
    value = action()
    phases[name] = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
    return value


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def worker_json_load(path: Path, collector: str) -> dict[str, Any]:
    """The baseline: the standard library parsing the file, as a plain script would."""
    if collector == "off":
        gc.disable()
    phases: dict[str, dict[str, float]] = {}
    with path.open(encoding="utf-8") as fh:
        _timed(phases, "json_load", lambda: json.load(fh))
    return {**phases["json_load"], "peak_rss_mb": _peak_rss_mb()}


def worker_phases(path: Path, out_dir: Path, formats: list[str], profile_to: Path | None) -> dict[str, Any]:
    """The pipeline `amlaudit scan --snapshot` runs, phase by phase, with the CLI's functions."""
    from amlaudit.auditor.check import Settings
    from amlaudit.auditor.graph import build_estate
    from amlaudit.auditor.pipeline import write_reports
    from amlaudit.auditor.registry import load_checks, load_reporters
    from amlaudit.auditor.runner import cyclic_gc_paused, run_check, run_checks
    from amlaudit.auditor.snapshot import load_snapshot

    profiler = None
    if profile_to is not None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    phases: dict[str, dict[str, float]] = {}
    checks = _timed(phases, "load_plugins", lambda: (load_checks(), load_reporters(["json", *formats])))
    check_list, reporters = checks
    snapshot = _timed(phases, "load_snapshot", lambda: load_snapshot(path))
    rendered: dict[str, bytes] = {}
    paused = cyclic_gc_paused()  # as `amlaudit scan` runs the audit
    paused.__enter__()
    try:
        estate = _timed(phases, "build_estate", lambda: build_estate(snapshot))
        result = _timed(phases, "run_checks", lambda: run_checks(estate, check_list, Settings()))
        for name in dict.fromkeys(["json", *formats]):  # what render_reports does, one reporter at a time
            reporter = reporters[name]()
            rendered[reporter.filename] = _timed(phases, f"render_{name}", lambda reporter=reporter: reporter.render(result))
    finally:
        # Restoring the collector costs one pass over what the audit built: a phase of its own.
        _timed(phases, "gc_restore", lambda: paused.__exit__(None, None, None))
    _timed(phases, "write_reports", lambda: write_reports(rendered, out_dir))
    report: dict[str, Any] = {
        "phases": phases,
        "peak_rss_mb": _peak_rss_mb(),
        "resources": len(snapshot.resources),
        "findings": len(result.findings),
        "summary": result.summary,
        "checks": [c.id for c in check_list],
        "report_bytes": {k: len(v) for k, v in rendered.items()},
    }
    if profiler is not None and profile_to is not None:
        profiler.disable()
        # Outside the profile, on a fresh graph (checks cache per estate): which check costs what,
        # in catalog order, so costs shared through those caches land on the first check needing them.
        fresh = build_estate(snapshot)
        per_check: dict[str, float] = {}
        with cyclic_gc_paused():
            for check in check_list:
                started = time.process_time()
                run_check(check, fresh, Settings())
                per_check[check.id] = time.process_time() - started
        report["per_check_cpu"] = per_check
        _write_profile(profiler, profile_to, per_check)
    return report


def _write_profile(profiler: Any, target: Path, per_check: dict[str, float]) -> None:
    import io
    import pstats

    text = io.StringIO()
    text.write("Per-check CPU time (s) on a fresh graph, in catalog order, slowest first:\n")
    for check_id, seconds in sorted(per_check.items(), key=lambda kv: -kv[1]):
        text.write(f"  {seconds:8.3f}  {check_id}\n")
    for order in ("cumulative", "tottime"):
        text.write(f"\n==== sorted by {order} ====\n")
        pstats.Stats(profiler, stream=text).strip_dirs().sort_stats(order).print_stats(45)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text.getvalue())


# -- the driver ------------------------------------------------------------------------------


def _run_worker(args: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.bench_scan", "--worker", *args]
    done = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"worker {args[0]} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _amlaudit_command() -> list[str]:
    # The installed console script, as a user runs it; else the module.
    script = Path(sys.executable).parent / "amlaudit"
    if script.exists():
        return [str(script)]
    found = shutil.which("amlaudit")
    return [found] if found else [sys.executable, "-m", "amlaudit.auditor.cli"]


def run_end_to_end(path: Path, out_dir: Path, formats: list[str]) -> dict[str, Any]:
    """One `amlaudit scan` in a child process: wall time, CPU time and peak RSS of that child alone."""
    cmd = [*_amlaudit_command(), "scan", "--snapshot", str(path), "--out", str(out_dir), "--format", ",".join(formats), "--quiet"]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=err)
        # wait4 gives this child's own rusage (RUSAGE_CHILDREN would mix in earlier children).
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode(errors="replace").strip()
    if child.returncode not in (0, 1, 3):  # 2 = bad input: the scan did not happen
        raise RuntimeError(f"amlaudit scan exited {child.returncode}: {stderr[-2000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024,
            "exit_status": child.returncode, "command": cmd}


def _median(values: Sequence[float]) -> float:
    return statistics.median(values)


def _available_formats() -> list[str]:
    from amlaudit.auditor.registry import RegistryError, load_reporters, reporter_entry_points

    formats = ["json"]
    if "html" in reporter_entry_points():
        try:
            load_reporters(["html"])
            formats.append("html")
        except RegistryError as exc:
            print(f"note: html reporter not loadable ({exc}); measuring json only", file=sys.stderr)
    return formats


def measure_size(n: int, seed: int, repeat: int, formats: list[str], work: Path, profile: bool) -> dict[str, Any]:
    from benchmarks.estate_gen import generate

    started = time.perf_counter()
    document = generate(n, seed)
    generate_s = time.perf_counter() - started
    path = work / f"estate-{n}.json"
    # Compact JSON, as the .json.gz writer produces; the tracker sizes the estate in these bytes.
    path.write_bytes(orjson.dumps(document))
    del document
    gc.collect()
    size = path.stat().st_size
    print(f"N={n}: {size / 1e6:.1f} MB snapshot (generated in {generate_s:.1f} s); {repeat} repetition(s)", file=sys.stderr)

    runs: list[dict[str, Any]] = []
    for rep in range(repeat):
        run: dict[str, Any] = {
            "json_load": _run_worker(["json-load", str(path), "on"]),
            "json_load_gc_off": _run_worker(["json-load", str(path), "off"]),
            "phases": _run_worker(["phases", str(path), str(work / f"out-phases-{n}"), ",".join(formats)]),
            "end_to_end": run_end_to_end(path, work / f"out-e2e-{n}", formats),
        }
        run["in_process_total"] = {k: sum(p[k] for p in run["phases"]["phases"].values()) for k in ("wall", "cpu")}
        runs.append(run)
        print(f"  rep {rep + 1}: json.load {run['json_load']['wall']:.2f} s, in-process {run['in_process_total']['wall']:.2f} s, "
              f"end-to-end {run['end_to_end']['wall']:.2f} s, peak {run['end_to_end']['peak_rss_mb']:.0f} MB", file=sys.stderr)

    first = runs[0]["phases"]
    phase_names = list(first["phases"])
    result: dict[str, Any] = {
        "n_workspaces": n,
        "snapshot_bytes": size,
        "resources": first["resources"],
        "findings": first["findings"],
        "summary": first["summary"],
        "report_bytes": first["report_bytes"],
        "generate_s": generate_s,
        "repetitions": repeat,
        "json_load": {k: _median([r["json_load"][k] for r in runs]) for k in ("wall", "cpu")},
        "json_load_gc_off": {k: _median([r["json_load_gc_off"][k] for r in runs]) for k in ("wall", "cpu")},
        "phases": {p: {k: _median([r["phases"]["phases"][p][k] for r in runs]) for k in ("wall", "cpu")} for p in phase_names},
        "in_process_total": {k: _median([r["in_process_total"][k] for r in runs]) for k in ("wall", "cpu")},
        "in_process_peak_rss_mb": max(r["phases"]["peak_rss_mb"] for r in runs),
        "end_to_end": {k: _median([r["end_to_end"][k] for r in runs]) for k in ("wall", "cpu")},
        "end_to_end_peak_rss_mb": max(r["end_to_end"]["peak_rss_mb"] for r in runs),
        "end_to_end_exit_status": runs[0]["end_to_end"]["exit_status"],
        "runs": runs,
    }
    if profile:
        target = OUT_DIR / "scan-profile.txt"
        profiled = _run_worker(["phases", str(path), str(work / f"out-profile-{n}"), ",".join(formats), str(target)])
        result["per_check_cpu"] = profiled["per_check_cpu"]
        print(f"  profile written to {target}", file=sys.stderr)
    return result


def _ratio(sizes: dict[int, dict[str, Any]], big: int, small: int, key: str, clock: str) -> float | None:
    if big not in sizes or small not in sizes:
        return None
    return sizes[big][key][clock] / sizes[small][key][clock]


def summarize(sizes: dict[int, dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(sizes)
    scaling = {}
    for small, big in zip(ordered, ordered[1:]):
        if big == 2 * small:
            scaling[f"{small}->{big}"] = {
                f"{key}_{clock}": _ratio(sizes, big, small, key, clock)
                for key in ("in_process_total", "end_to_end") for clock in ("wall", "cpu")
            }
    largest = sizes[ordered[-1]]
    vs_json_load = {f"{key}_{clock}": largest[key][clock] / largest["json_load"][clock]
                    for key in ("in_process_total", "end_to_end") for clock in ("wall", "cpu")}
    # Verdicts are taken on CPU time: on a shared machine wall time also measures the neighbours
    # (wall is reported beside it, and equals CPU on an idle machine but for the reports' fsync).
    verdicts: dict[str, Any] = {}
    if "500->1000" in scaling:
        ratios = scaling["500->1000"]
        worst_cpu = max(ratios["in_process_total_cpu"], ratios["end_to_end_cpu"])
        worst_wall = max(ratios["in_process_total_wall"], ratios["end_to_end_wall"])
        verdicts["scaling_500_to_1000"] = {"worst_cpu": worst_cpu, "worst_wall": worst_wall, "target": TARGET_SCALING,
                                           "met": worst_cpu <= TARGET_SCALING}
    if 1000 in sizes:
        at = sizes[1000]
        worst_cpu = max(at[k]["cpu"] / at["json_load"]["cpu"] for k in ("in_process_total", "end_to_end"))
        worst_wall = max(at[k]["wall"] / at["json_load"]["wall"] for k in ("in_process_total", "end_to_end"))
        # Each repetition's scan against its own json.load: robust to a machine whose speed drifts.
        paired_cpu = max(statistics.median(run[k]["cpu"] / run["json_load"]["cpu"] for run in at["runs"])
                         for k in ("in_process_total", "end_to_end"))
        verdicts["scan_vs_json_load_at_1000"] = {"worst_cpu": worst_cpu, "worst_wall": worst_wall,
                                                 "worst_cpu_per_repetition_median": paired_cpu,
                                                 "target": TARGET_JSON_LOAD_RATIO,
                                                 "met": worst_cpu <= TARGET_JSON_LOAD_RATIO}
    peak = max(max(s["end_to_end_peak_rss_mb"], s["in_process_peak_rss_mb"]) for s in sizes.values())
    verdicts["peak_rss"] = {"mb": peak, "target_mb": TARGET_PEAK_RSS_MB, "met": peak < TARGET_PEAK_RSS_MB}
    return {"scaling": scaling, f"vs_json_load_at_{ordered[-1]}": vs_json_load, "verdicts": verdicts}


def print_table(sizes: dict[int, dict[str, Any]], summary: dict[str, Any]) -> None:
    ordered = sorted(sizes)
    phase_names = list(sizes[ordered[0]]["phases"])
    rows: list[tuple[str, list[str]]] = [
        ("snapshot MB", [f"{sizes[n]['snapshot_bytes'] / 1e6:.1f}" for n in ordered]),
        ("resources", [str(sizes[n]["resources"]) for n in ordered]),
        ("findings", [str(sizes[n]["findings"]) for n in ordered]),
        ("json.load s (wall/cpu)", [_pair(sizes[n]["json_load"]) for n in ordered]),
        ("  json.load, gc off", [_pair(sizes[n]["json_load_gc_off"]) for n in ordered]),
        *[(f"  {p}", [_pair(sizes[n]["phases"][p]) for n in ordered]) for p in phase_names],
        ("in-process total s", [_pair(sizes[n]["in_process_total"]) for n in ordered]),
        ("end-to-end amlaudit s", [_pair(sizes[n]["end_to_end"]) for n in ordered]),
        ("scan / json.load (wall)", [f"{sizes[n]['in_process_total']['wall'] / sizes[n]['json_load']['wall']:.2f} / "
                                     f"{sizes[n]['end_to_end']['wall'] / sizes[n]['json_load']['wall']:.2f}" for n in ordered]),
        ("peak RSS MB (phases/e2e)", [f"{sizes[n]['in_process_peak_rss_mb']:.0f} / {sizes[n]['end_to_end_peak_rss_mb']:.0f}" for n in ordered]),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"{'N workspaces':<{width}}  " + "  ".join(f"{n:>15}" for n in ordered))
    for label, cells in rows:
        print(f"{label:<{width}}  " + "  ".join(f"{c:>15}" for c in cells))
    print("(scan / json.load: in-process / end-to-end)")
    for step, ratios in summary["scaling"].items():
        print(f"t({step.split('->')[1]})/t({step.split('->')[0]}): " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items() if v is not None))
    for name, verdict in summary["verdicts"].items():
        print(f"{name}: {'met' if verdict['met'] else 'MISSED'} {json.dumps({k: v for k, v in verdict.items() if k != 'met'})}")


def _pair(clocks: dict[str, float]) -> str:
    return f"{clocks['wall']:.2f}/{clocks['cpu']:.2f}"


def _environment() -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None

    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "load_average": os.getloadavg(), "git_commit": git("rev-parse", "HEAD"),
            "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"]:
        return _worker_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_scan", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="250,500,1000", help="workspace counts, comma-separated [250,500,1000]")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per size; medians are reported [3]")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--formats", help="report formats [json,html when html is installed]")
    parser.add_argument("--profile", action="store_true", help="cProfile the largest size into benchmarks/out/scan-profile.txt")
    parser.add_argument("--keep", type=Path, help="keep snapshots and reports in this directory")
    parser.add_argument("--out", type=Path, default=OUT_DIR / "scan.json", help="results file [benchmarks/out/scan.json]")
    parser.add_argument("--check", action="store_true", help="exit 1 when a tracker target is missed")
    args = parser.parse_args(argv)
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    formats = [f.strip() for f in args.formats.split(",")] if args.formats else _available_formats()
    environment = _environment()
    results: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="amlaudit-bench-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for n in sizes:
            results[n] = measure_size(n, args.seed, args.repeat, formats, work, args.profile and n == sizes[-1])
    environment["load_average_after"] = os.getloadavg()
    summary = summarize(results)
    print_table(results, summary)
    document = {"benchmark": "scan", "formats": formats, "seed": args.seed, "environment": environment,
                "sizes": {str(n): r for n, r in results.items()}, **summary}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"wrote {args.out}")
    if args.check and not all(v["met"] for v in summary["verdicts"].values()):
        return 1
    return 0


def _worker_main(args: list[str]) -> int:
    kind, path = args[0], Path(args[1])
    if kind == "json-load":
        report = worker_json_load(path, args[2])
    elif kind == "phases":
        profile_to = Path(args[4]) if len(args) > 4 else None
        report = worker_phases(path, Path(args[2]), [f for f in args[3].split(",") if f], profile_to)
    else:
        raise SystemExit(f"unknown worker {kind!r}")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
