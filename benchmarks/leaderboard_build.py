"""`build_site` for a season-sized class against pandas' `to_html` of the same rows, in one run.

Writes a synthetic graded course (default 300 students x 6 weeks: results.json with 113 per-class F1
values per split, graded notebooks with a ~1,200-word memo each, students.json, leaderboard.yaml),
then times, side by side:

- `build_site` (every page: 12 boards, season, 1,800 feedback pages with memo observations and a
  per-class chart, the instructor overview, 14 matplotlib figures, every export), cold (first build
  in the process, imports included) and warm (a second build);
- the floor: reading the same results.json files and rendering the same board rows (public boards)
  with pandas `DataFrame.to_html`, no plots, no feedback pages.

A third build runs under cProfile to say where the time goes. Target: build < 3 s.

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 PATH=.venv/bin:$PATH .venv/bin/python benchmarks/leaderboard_build.py
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
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
                rows.append({"name": path.parent.name, "run": run, "macro_f1": m["val"]["macro_f1"],
                             "accuracy": m["val"]["accuracy"], "zero_f1": m["val"]["zero_f1_classes"],
                             "tail_f1": m["val"]["tier_f1"]["tail"], "latency_ms": m["latency_ms"],
                             "params": m["trainable_parameters"], "integrity": extra["integrity"]})
        frame = pd.DataFrame(rows).sort_values("macro_f1", ascending=False)
        frame.insert(0, "rank", frame["macro_f1"].round(4).rank(method="min", ascending=False).astype(int))
        (out / f"{week_dir.name}.html").write_text(frame.to_html(index=False, float_format="%.4f"))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--weeks", type=int, default=6)
    parser.add_argument("--keep", type=Path, help="write the course and site here instead of a temp folder")
    args = parser.parse_args()

    from leaderboard import synthetic
    from leaderboard.site import build_site

    root = args.keep or Path(tempfile.mkdtemp(prefix="leaderboard-bench-"))
    course = root / "course"
    start = time.perf_counter()
    synthetic.write_course(course, students=args.students, weeks=args.weeks)
    print(f"synthetic course: {args.students} students x {args.weeks} weeks written in "
          f"{time.perf_counter() - start:.1f} s ({course})")
    now = datetime(2026, 6, 1, tzinfo=timezone.utc)  # after every deadline: private boards too

    start = time.perf_counter()
    build_site(course, root / "site-cold", now=now)
    cold = time.perf_counter() - start

    start = time.perf_counter()
    index = build_site(course, root / "site", now=now)
    warm = time.perf_counter() - start
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    build_site(course, root / "site-profiled", now=now)
    profiler.disable()
    profiled = time.perf_counter() - start
    floor = pandas_floor(course, root / "pandas")
    pages = sum(1 for _ in (root / "site").rglob("*.html"))

    stats = pstats.Stats(profiler)
    phases = {"plots (matplotlib)": ("leaderboard/plots.py", "pareto_plot|distribution_plot|season_plot|grades_plot"),
              "memo observations (read + observe)": ("leaderboard/memo.py", "read_memo|observe"),
              "page rendering (Jinja2)": ("jinja2/environment.py", "render"),
              "loading results": ("leaderboard/data.py", "load_weeks"),
              "exports": ("leaderboard/exports.py", "gradescope_results|moodle_csv|leaderboard_csv")}
    import re

    print(f"\nbuild_site: {warm:.2f} s warm, {cold:.2f} s cold (first build in the process, imports included); "
          f"{pages} HTML pages -> {index}")
    print(f"pandas to_html floor (read the same results + render the same board rows): {floor:.2f} s")
    print(f"ratio build / floor: {warm / floor:.1f}x warm, {cold / floor:.1f}x cold")
    print(f"target < 3 s: {'met' if warm < 3 else 'NOT met'} (warm), {'met' if cold < 3 else 'NOT met'} (cold)")
    print(f"\nwhere a build's time goes (a third build under cProfile: {profiled:.2f} s):")
    for label, (file_part, names) in phases.items():
        total = sum(st[3] for (file, _, func), st in stats.stats.items()
                    if file.endswith(file_part) and re.fullmatch(names, func))
        print(f"  {label:38s} {total:6.2f} s  ({100 * total / profiled:4.0f}%)")


if __name__ == "__main__":
    main()
