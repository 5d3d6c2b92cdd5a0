"""`build_site` for a season-sized class against pandas' `to_html` of the same rows, in one run.

Writes a synthetic graded course (default 300 students x 6 weeks: results.json with 113 per-class F1
values per split, graded notebooks with a ~1,200-word memo each, students.json, leaderboard.yaml),
then times, side by side:

- `build_site` (every page: 12 boards, season, 1,800 feedback pages with memo observations and a
  per-class chart, the instructor overview, 14 matplotlib figures, every export): cold (first build in
  the process, imports included), warm in one process, warm with the feedback pages in worker
  processes, and a rebuild into the same folder with nothing changed;
- the floor: reading the same results.json files and rendering the same board rows (public boards)
  with pandas `DataFrame.to_html`, no plots, no feedback pages.

Each line gives wall and CPU seconds (CPU includes worker processes), then the phases of the warm
one-process build. Target: build < 3 s.

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 PATH=.venv/bin:$PATH .venv/bin/python benchmarks/leaderboard_build.py
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path


def pandas_floor(course: Path, out: Path) -> float:
    """Read every results.json and write one to_html table per week: the same rows, no site."""
    import pandas as pd

    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    for week_dir in sorted((course / "results").iterdir()):
        rows = []
        for path in sorted(week_dir.glob("*/results.json")):
            data = json.loads(path.read_text())
            extra = data["extra_data"]
            for run, m in (extra.get("metrics") or {}).items():
                rows.append(
                    {
                        "name": path.parent.name,
                        "run": run,
                        "macro_f1": m["val"]["macro_f1"],
                        "accuracy": m["val"]["accuracy"],
                        "zero_f1": m["val"]["zero_f1_classes"],
                        "tail_f1": m["val"]["tier_f1"]["tail"],
                        "latency_ms": m["latency_ms"],
                        "params": m["trainable_parameters"],
                        "integrity": extra["integrity"],
                    }
                )
        frame = pd.DataFrame(rows).sort_values("macro_f1", ascending=False)
        frame.insert(0, "rank", frame["macro_f1"].round(4).rank(method="min", ascending=False).astype(int))
        (out / f"{week_dir.name}.html").write_text(frame.to_html(index=False, float_format="%.4f"))
    return time.perf_counter() - start


def timed(fn, *args, **kwargs) -> tuple[float, float]:
    """Wall seconds and CPU seconds (this process and its finished children) of one call."""
    wall, cpu = time.perf_counter(), _cpu()
    fn(*args, **kwargs)
    return time.perf_counter() - wall, _cpu() - cpu


def _cpu() -> float:
    import resource

    return sum(
        getattr(resource.getrusage(who), field)
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        for field in ("ru_utime", "ru_stime")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--weeks", type=int, default=6)
    parser.add_argument("--keep", type=Path, help="write the course and sites here instead of a temp folder")
    args = parser.parse_args()

    from leaderboard import site, synthetic

    root = args.keep or Path(tempfile.mkdtemp(prefix="leaderboard-bench-"))
    course = root / "course"
    start = time.perf_counter()
    synthetic.write_course(course, students=args.students, weeks=args.weeks)
    print(
        f"synthetic course: {args.students} students x {args.weeks} weeks written in "
        f"{time.perf_counter() - start:.1f} s ({course})"
    )
    now = datetime(2026, 6, 1, tzinfo=timezone.utc)  # after every deadline: private boards too
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"CPUs: {os.cpu_count()}, load average before the runs: {load:.1f}")

    rows = []
    default = site._workers(None, args.weeks)
    cold = timed(site.build_site, course, root / "site-cold", now=now)
    rows.append((f"build_site, cold (first in process, imports), default: {default} process(es)", *cold))
    phases: dict[str, float] = {}
    one = timed(site.build_site, course, root / "site-1", now=now, workers=1, timings=phases)
    rows.append(("build_site, warm, 1 process", *one))
    forked = timed(site.build_site, course, root / "site-n", now=now, workers=min(os.cpu_count() or 1, 4))
    rows.append((f"build_site, warm, feedback in {min(os.cpu_count() or 1, 4)} processes", *forked))
    again = timed(site.build_site, course, root / "site-1", now=now, workers=1)
    rows.append(("build_site, rebuild into the same folder, nothing changed", *again))
    floor = timed(pandas_floor, course, root / "pandas")
    rows.append(("floor: pandas to_html of the same board rows", *floor))
    pages = sum(1 for _ in (root / "site-1").rglob("*.html"))

    print(f"\n{'':70s} {'wall s':>7s} {'CPU s':>7s}")
    for label, wall, cpu in rows:
        print(f"{label:70s} {wall:7.2f} {cpu:7.2f}")
    best = min(one[0], forked[0])
    print(
        f"\n{pages} HTML pages; build / floor (wall): {best / floor[0]:.1f}x; target < 3 s: "
        f"{'met' if best < 3 else 'NOT met'} (best warm build {best:.2f} s)"
    )
    print("\nwhere the warm one-process build's time goes (wall s, main process):")
    total = sum(phases.values())
    for name, seconds in sorted(phases.items(), key=lambda kv: -kv[1]):
        print(f"  {name:48s} {seconds:6.2f}  ({100 * seconds / total:3.0f}%)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average after the runs: {load:.1f} (other processes share these CPUs: wall > CPU means waiting)")


if __name__ == "__main__":
    main()
