"""The static leak detector against a labelled suite: recall per category, false positives, time per notebook.

The suite (benchmarks/leak_suite/<category>/<name>.<leak|honest>.ipynb) holds notebooks written for
it: course notebooks of weeks 1, 2 and 4 (the course API) and plain pandas/sklearn/keras notebooks on
a CSV or the hub copy, as public notebooks for this dataset are written. Each notebook's metadata
names the rule ids a grader must find (`leak_suite.expected`); a leak counts as found when every one
of them is among the findings, and an honest notebook is a false positive when any finding is major
or critical (info and minor findings are notes, not accusations). Each notebook goes through
`grader.static.analyze_notebook`, the static layer `course check` and `course grade` run.

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/leak_suite.py [--repeat 5]

`--static-from DIR` times and grades another copy of the `grader` package (DIR holds `grader/`), e.g.
the committed one: `git archive HEAD grader | tar -x -C /tmp/before`, then `--static-from /tmp/before`.

`--through-grade` also hands every notebook in, as its week's lab (plain notebooks in week 1), to a
real nbgrader course and grades it with the `course grade` command (sealed sandbox, both perturbed
re-runs, every layer), then scores the findings in its results.json the same way, counting only the
integrity layers as alarms (a notebook that writes no run record earns no points, but is not accused).
The suite's notebooks are fragments, most of which stop before `final_evaluation`, so the runtime
layers add little here; what it shows is that the command finds what the static layer finds.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import nbformat
import yaml

SUITE = Path(__file__).with_name("leak_suite")
ALARMS = ("critical", "major")
RUNTIME_LAYERS = ("access-log", "invariance")  # what only running the notebook can find


def load_suite(root: Path = SUITE) -> list[tuple[Path, nbformat.NotebookNode]]:
    """Every suite notebook with its metadata, sorted by path."""
    return [(path, nbformat.read(path, as_version=4)) for path in sorted(root.glob("*/*.ipynb"))]


def grade(suite: list[tuple[Path, nbformat.NotebookNode]], repeat: int) -> tuple[list[dict], float]:
    """One row per notebook (category, kind, expected, found, verdict), and the best mean seconds per notebook."""
    from grader.static import analyze_notebook

    rows = []
    for path, nb in suite:
        findings = analyze_notebook(nb)
        alarms = sorted({f.rule for f in findings if f.severity in ALARMS})
        rows.append(_row(path, nb, {f.rule for f in findings}, alarms))
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _, nb in suite:
            analyze_notebook(nb)
        best = min(best, (time.perf_counter() - start) / len(suite))
    return rows, best


def _row(path: Path, nb: nbformat.NotebookNode, found: set[str], alarms: list[str]) -> dict:
    expected = set(nb.metadata["leak_suite"]["expected"])
    kind = path.stem.rsplit(".", 1)[1]
    return {
        "path": path.relative_to(path.parents[1]).as_posix(),
        "category": path.parent.name,
        "kind": kind,
        "api": nb.metadata["leak_suite"]["api"],
        "expected": sorted(expected),
        "found": sorted(found),
        "alarms": alarms,
        "ok": expected <= found if kind == "leak" else not alarms,
    }


def grade_through_course(
    suite: list[tuple[Path, nbformat.NotebookNode]], workdir: Path, workers: int
) -> tuple[list[dict], float]:
    """Every notebook handed in as its week's lab and graded by `course grade`; one row per notebook from
    the results it wrote, and the wall seconds per submission."""
    from grader import nbgrader_course
    from grader.grade import load_spec
    from grader.results import INTEGRITY_LAYERS, StudentResult

    week_of = {path: nb.metadata["leak_suite"]["week"].replace("plain", "week1") for path, nb in suite}
    weeks = sorted(set(week_of.values()))
    root = nbgrader_course.init_course(workdir / "course", weeks)
    specs = {}
    for week in weeks:
        nbgrader_course.release(root, week)
        lab = f"{week}_lab.ipynb"
        official = load_spec(week)  # the project's grading.yaml, narrowed to the lab
        runs = {run: spec for run, spec in official["runs"].items() if spec["notebook"] == lab}
        specs[week] = {"notebooks": [lab], "runs": runs, "checks": official["checks"]}
    (root / "grading.yaml").write_text(yaml.safe_dump(specs), encoding="utf-8")
    student = {path: f"s{i:02d}" for i, (path, _) in enumerate(suite)}
    for path, _ in suite:
        incoming = workdir / "incoming" / student[path] / f"{week_of[path]}_lab.ipynb"
        incoming.parent.mkdir(parents=True)
        shutil.copy(path, incoming)
        nbgrader_course.submit(root, week_of[path], student[path], [incoming])
    course = shutil.which("course") or str(Path(sys.executable).with_name("course"))
    start = time.perf_counter()
    for week in weeks:
        command = [course, "grade", week, "--course-dir", str(root), "--workers", str(workers)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = (time.perf_counter() - start) / len(suite)
    rows = []
    for path, nb in suite:
        result = StudentResult.read(root / "results" / week_of[path] / student[path] / "results.json")
        found = {f.rule for f in result.findings}
        alarms = sorted({f.rule for f in result.findings if f.severity in ALARMS and f.layer in INTEGRITY_LAYERS})
        row = _row(path, nb, found, alarms)
        if result.status != "graded":  # a grading that broke proves nothing either way
            row.update(ok=False, found=[*row["found"], f"grading {result.status}: {result.error}"])
        row["runtime"] = sorted({f.rule for f in result.findings if f.layer in RUNTIME_LAYERS and f.severity in ALARMS})
        rows.append(row)
    return rows, seconds


def report(rows: list[dict], seconds: float, what: str) -> str:
    """Recall per category and overall, false positives, and time per notebook, as printed lines."""
    lines = [f"{'category':20s} {'leaks':>5s} {'found':>5s} {'recall':>6s} {'honest':>6s} {'FP':>3s}"]
    by = defaultdict(list)
    for row in rows:
        by[row["category"]].append(row)
    for category, group in sorted(by.items()):
        leaks = [r for r in group if r["kind"] == "leak"]
        honest = [r for r in group if r["kind"] == "honest"]
        hit = sum(r["ok"] for r in leaks)
        recall = f"{hit / len(leaks):.2f}" if leaks else "-"
        fp = sum(not r["ok"] for r in honest)
        lines.append(f"{category:20s} {len(leaks):5d} {hit:5d} {recall:>6s} {len(honest):6d} {fp:3d}")
    leaks = [r for r in rows if r["kind"] == "leak"]
    honest = [r for r in rows if r["kind"] == "honest"]
    plain = [r for r in rows if r["api"] == "plain"]
    lines += [
        "",
        f"recall {sum(r['ok'] for r in leaks)}/{len(leaks)} = {sum(r['ok'] for r in leaks) / len(leaks):.3f}; "
        f"false positives {sum(not r['ok'] for r in honest)}/{len(honest)} honest notebooks "
        f"({sum(not r['ok'] for r in plain if r['kind'] == 'honest')} among the plain ones; "
        f"{len(plain)} notebooks do not use the course API)",
        f"{what}: {seconds * 1000:.1f} ms per notebook",
    ]
    runtime = [r for r in rows if r.get("runtime")]
    if runtime:
        lines.append(f"alarms raised by the runtime layers: {len(runtime)} notebook(s)")
        lines += [f"  {r['path']}: {', '.join(r['runtime'])}" for r in runtime]
    misses = [r for r in rows if not r["ok"]]
    lines += [
        f"  {'missed' if r['kind'] == 'leak' else 'false positive'}: {r['path']} expected {r['expected']}, "
        f"found {r['found']}"
        for r in misses
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timing repeats over the whole suite (best is kept)")
    parser.add_argument("--static-from", type=Path, help="a folder holding another copy of the grader package")
    parser.add_argument("--through-grade", action="store_true", help="also grade every notebook with `course grade`")
    parser.add_argument("--workers", type=int, default=2, help="`course grade --workers` (with --through-grade)")
    args = parser.parse_args(argv)
    if args.static_from:
        sys.path.insert(0, str(args.static_from.resolve()))
    suite = load_suite()
    rows, seconds = grade(suite, args.repeat)
    print(report(rows, seconds, "static analysis (best of the repeats)"))
    if args.through_grade:
        with tempfile.TemporaryDirectory(prefix="leak-suite-") as tmp:
            graded, per_submission = grade_through_course(suite, Path(tmp), args.workers)
        print("\n`course grade` (every layer, sealed sandbox):")
        print(report(graded, per_submission, f"course grade --workers {args.workers}, wall time per submission"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
