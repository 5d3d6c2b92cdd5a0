"""Build the static site: public and private boards per week, a season view, feedback pages, the
instructor's overview, plots and exports. Everything is rendered from `templates/` by Jinja2 with
autoescaping on for every template; nothing a student wrote is ever marked safe. The only markup
passed through is the site's own stylesheet and sort script (constants below).

Output layout (`out/`):

    index.html, week<N>.html, week<N>-private.html, season.html      public: publish these
    plots/*.png, exports/leaderboard.csv                                 public
    instructor/index.html                                                instructor only: do not publish
    instructor/feedback/<token>/week<N>.html                             one page per student and week;
                                                                         <token> is an HMAC of the id
    instructor/exports/moodle-week<N>.csv, instructor/exports/gradescope/week<N>/<student>/results.json

Public pages show pseudonyms (real names only with `show_names`), never ids, never findings.
Private boards and test metrics on feedback pages appear only once `now` is past the week's deadline.

Reference per-class F1 on feedback pages: the week's `reference_per_class` run from
`leaderboard.yaml` when configured; otherwise the best-scoring CLEAN submission of the week other
than the student's own (by val macro-F1), shown anonymously as "best clean submission".

Speed (300 students x 6 weeks, `benchmarks/leaderboard_build.py`): the feedback pages of each week
(memo observations, rendering, Gradescope export) are built in worker processes forked after the
results are loaded, while the main process draws the figures and renders the boards; pages are only
written when their content changed. `workers=1` (or LEADERBOARD_WORKERS=1) builds everything in one
process; the output is the same either way.
"""

from __future__ import annotations

import base64
import hashlib
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from leaderboard import boards, exports, memo, plots, pseudonyms
from leaderboard.data import PROJECT, Run, SiteConfig, Submission, Week, load_config, load_names, load_weeks, memo_notebooks
from course import bands as bands_module

TEMPLATES = PROJECT / "templates"
PRIVATE_DIR = "instructor"
MARKER = ".leaderboard-site"

SORT_JS = """(function () {
  function key(cell, type) {
    var v = cell.getAttribute("data-v");
    if (v === null) { v = cell.textContent.trim(); }
    if (type === "num") { if (v === "") { return null; } var n = parseFloat(v); return isNaN(n) ? null : n; }
    return v.toLowerCase();
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var type = th.getAttribute("data-type") || "text";
        var now = th.getAttribute("aria-sort");
        var dir = now === "ascending" ? "descending" : now === "descending" ? "ascending"
          : (th.getAttribute("data-first") || "ascending");
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir);
        var sign = dir === "ascending" ? 1 : -1;
        var body = table.tBodies[0];
        var rows = Array.prototype.map.call(body.rows, function (r, i) { return [key(r.cells[col], type), i, r]; });
        rows.sort(function (a, b) {
          if (a[0] === null || b[0] === null) { return a[0] === b[0] ? a[1] - b[1] : a[0] === null ? 1 : -1; }
          if (a[0] < b[0]) { return -sign; }
          if (a[0] > b[0]) { return sign; }
          return a[1] - b[1];
        });
        rows.forEach(function (r) { body.appendChild(r[2]); });
      });
    });
  });
})();"""

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1d1d1f; background: #fafafa; }
header { background: #203a5c; color: #fff; padding: .6rem 1.2rem; }
header a { color: #fff; margin-right: 1rem; text-decoration: none; }
header .title { font-weight: 600; margin-right: 2rem; }
main { padding: 1rem 1.2rem 3rem; max-width: 1200px; }
h1 { font-size: 1.5rem; margin: .4rem 0 .8rem; } h2 { font-size: 1.2rem; margin-top: 1.8rem; } h3 { font-size: 1.05rem; }
table { border-collapse: collapse; margin: .6rem 0; background: #fff; font-size: .9rem; }
th, td { border-bottom: 1px solid #ddd; padding: .3rem .55rem; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
th button { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; cursor: pointer; color: inherit; }
th[aria-sort="ascending"] button::after { content: " \\25B2"; } th[aria-sort="descending"] button::after { content: " \\25BC"; }
tr.reference td { background: #fdf3e7; font-style: italic; }
tr.unranked td { color: #777; }
.note { background: #eef3fa; border-left: 4px solid #3465a4; padding: .5rem .8rem; margin: .8rem 0; }
.warn { background: #fff4e5; border-left: 4px solid #e69500; padding: .5rem .8rem; margin: .8rem 0; }
.bad { color: #b00020; font-weight: 600; } .good { color: #1b7f3b; } .muted { color: #777; }
.status-under-review { color: #b05a00; font-weight: 600; }
pre, .memo-text { white-space: pre-wrap; word-break: break-word; background: #f3f3f3; padding: .3rem .5rem; margin: .2rem 0; font-size: .85rem; }
.criterion { background: #fff; border: 1px solid #ddd; padding: .6rem .9rem; margin: .8rem 0; }
img.plot { max-width: 100%; border: 1px solid #eee; background: #fff; }
footer { color: #777; font-size: .8rem; padding: 1rem 1.2rem; }
"""


def _csp_hash(script: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")


@lru_cache(maxsize=4)
def _environment(folder: str = str(TEMPLATES)) -> Environment:
    """One Jinja2 environment per process (templates compile once), autoescaping every template."""
    env = Environment(loader=FileSystemLoader(folder), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.globals.update(sort_js=Markup(SORT_JS), style=Markup(STYLE), script_hash=_csp_hash(SORT_JS))
    env.filters.update(f4=lambda v, d=4: "—" if v is None else f"{v:.{d}f}",
                       ms=lambda v: "—" if v is None else (f"{v:.2f}" if v < 100 else f"{v:.0f}"),
                       count=lambda v: "—" if v is None else f"{int(v):,}",
                       signed=lambda v: "—" if v is None else ("in band" if v == 0 else f"{v:+.4f}"),
                       dv=lambda v: "" if v is None else repr(float(v)))
    return env


@dataclass
class Ctx:
    """Everything the pages share."""

    course_dir: Path
    out: Path
    cfg: SiteConfig
    weeks: list[Week]
    names: dict[str, str]
    pseudonym: dict[str, str]
    display: dict[str, str]
    tokens: dict[str, str]
    now: datetime
    show_names: bool
    bands: dict  # profile -> loaded bands file (the configured profile and "full")

    @property
    def week_names(self) -> list[str]:
        return [w.name for w in self.weeks]


def _revealed(ctx: Ctx, week: str) -> bool:
    deadline = ctx.cfg.deadlines.get(week)
    return deadline is not None and ctx.now >= deadline


def _deadline_text(ctx: Ctx, week: str) -> str:
    deadline = ctx.cfg.deadlines.get(week)
    return deadline.strftime("%Y-%m-%d %H:%M UTC") if deadline else "the deadline (not yet set in leaderboard.yaml)"


# ---------------------------------------------------------------------------------------------------
# Writing files
# ---------------------------------------------------------------------------------------------------

WRITTEN: set[Path] = set()  # files written by the build in progress (stale ones are removed at the end)
_DIRS: set[Path] = set()
last_timings: dict[str, float] = {}  # phase -> seconds in the main process, latest build (for the benchmark)


def _write(path: Path, text: str | bytes) -> Path:
    """Write a file unless it already holds exactly this content (a rebuild rewrites only what changed:
    overwriting thousands of unchanged files costs more than comparing them)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    WRITTEN.add(path)
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return path
    except FileNotFoundError:
        pass
    if path.parent not in _DIRS:
        path.parent.mkdir(parents=True, exist_ok=True)
        _DIRS.add(path.parent)
    path.write_bytes(data)
    return path


def _remove_stale(out: Path) -> None:
    """Files of a previous build that this build did not write (a student or week gone): removed."""
    for top in list(out.glob("*.html")) + [out / d for d in ("plots", PRIVATE_DIR, "exports")]:
        files = [top] if top.is_file() else [p for p in top.rglob("*") if p.is_file()] if top.is_dir() else []
        for path in files:
            if path not in WRITTEN:
                path.unlink()
        if top.is_dir():  # folders left empty (a student's feedback folder), deepest first
            for folder in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                if not any(folder.iterdir()):
                    folder.rmdir()


@contextmanager
def _phase(name: str):
    start = time.perf_counter()
    try:
        yield
    finally:
        last_timings[name] = last_timings.get(name, 0.0) + time.perf_counter() - start


# ---------------------------------------------------------------------------------------------------
# The build
# ---------------------------------------------------------------------------------------------------


def _workers(requested: int | None, jobs: int) -> int:
    """Processes for the feedback pages. By default one per CPU (at most 4), but none extra when the
    machine is already busy (load average >= CPUs): then forking only adds overhead."""
    cpus = os.cpu_count() or 1
    if requested is None:
        requested = int(os.environ.get("LEADERBOARD_WORKERS", "0") or 0)
        if not requested:
            busy = hasattr(os, "getloadavg") and os.getloadavg()[0] >= cpus
            requested = 1 if busy else min(cpus, 4)
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(requested, jobs))


def build_site(course_dir: Path, out: Path, *, now: datetime | None = None, show_names: bool = False,
               workers: int | None = None) -> Path:
    """Build the whole site from a graded course folder into `out`; returns the path of index.html.

    `now` (default: the current UTC time) decides which private boards are revealed; naive datetimes
    are UTC. `show_names` (or `show_names: true` in leaderboard.yaml) puts real names from
    students.json on public pages instead of pseudonyms. `workers`: processes for the feedback pages
    (default: LEADERBOARD_WORKERS, else one per CPU up to 4, or none extra when the load average already
    reaches the CPU count; 1 = everything in this process). The output is the same either way.
    """
    course_dir, out = Path(course_dir), Path(out)
    now = now or datetime.now(timezone.utc)
    now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    WRITTEN.clear()
    _DIRS.clear()
    last_timings.clear()
    with _phase("load results"):
        cfg = load_config(course_dir)
        show_names = bool(show_names or cfg.show_names)
        weeks = load_weeks(course_dir)
        names = load_names(course_dir)
        students = sorted({s for w in weeks for s in w.submissions})
        pseudo = pseudonyms.assign(students, cfg.salt)
        display = {s: (names.get(s) or pseudo[s]) if show_names else pseudo[s] for s in students}
        tokens = {s: pseudonyms.token(s, cfg.salt) for s in students}
        loaded_bands = {p: bands_module.load_bands(p) for p in dict.fromkeys((cfg.profile, "full"))}
    ctx = Ctx(course_dir, out, cfg, weeks, names, pseudo, display, tokens, now, show_names, loaded_bands)

    rebuild = (out / MARKER).is_file()  # a previous build of ours: its stale files go at the end
    try:
        _plot_keys["old"] = json.loads((out / PLOT_KEYS).read_text(encoding="utf-8")) if rebuild else {}
    except (OSError, ValueError):
        _plot_keys["old"] = {}
    _plot_keys["new"] = {}
    out.mkdir(parents=True, exist_ok=True)
    _write(out / MARKER, "built by leaderboard.site.build_site; instructor/ is private\n")
    env = _environment()
    with _phase("boards"):
        week_pages = [_week_info(ctx, week) for week in weeks]

    # Feedback pages: in forked workers (they inherit ctx and the loaded results), one job per week.
    global _JOB
    _JOB = (ctx, week_pages)
    n = _workers(workers, len(weeks))
    pool = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork")) if n > 1 else None
    try:
        futures = [pool.submit(_feedback_job, i) for i in range(len(weeks))] if pool else []
        with _phase("plots"):
            for info in week_pages:
                _week_plots(ctx, info)
            season_plot = _season_plot(ctx, week_pages)
        with _phase("pages"):
            for info in week_pages:
                _board_pages(ctx, env, info)
        if pool:
            with _phase("waiting for feedback workers"):
                results = [f.result() for f in futures]
        else:
            results = [_feedback_job(i) for i in range(len(weeks))]
    finally:
        if pool:
            pool.shutdown()
        _JOB = None
    for info, (students, written, timings) in zip(week_pages, results):
        info["feedback"] = students
        WRITTEN.update(written)
        for name, seconds in timings.items():
            last_timings[f"{name} (feedback, all processes)"] = last_timings.get(f"{name} (feedback, all processes)", 0.0) + seconds
    season = _season_page(ctx, env, week_pages, season_plot)
    _instructor(ctx, env, week_pages)
    with _phase("exports"):
        exports.leaderboard_csv(out / "exports" / "leaderboard.csv",
                                [(w["name"], board, w[board]) for w in week_pages
                                 for board in ("public", "private") if board == "public" or w["revealed"]], _write)
    index = out / "index.html"
    with _phase("pages"):
        _write(index, env.get_template("index.html").render(
            root="", cfg=cfg, weeks=ctx.week_names, week_pages=week_pages, season=season,
            now=now.strftime("%Y-%m-%d %H:%M UTC"), show_names=show_names, page="index"))
    _write(out / PLOT_KEYS, json.dumps(_plot_keys["new"], indent=0, sort_keys=True))
    if rebuild:
        _remove_stale(out)
    return index


_JOB: tuple | None = None  # (ctx, week_pages) of the build in progress, inherited by forked workers


# ---------------------------------------------------------------------------------------------------
# Week boards and plots (main process)
# ---------------------------------------------------------------------------------------------------


def _week_info(ctx: Ctx, week: Week) -> dict:
    revealed = _revealed(ctx, week.name)
    loaded = ctx.bands[ctx.cfg.profile]
    public = boards.student_rows(week, "val", ctx.display)
    refs_public = boards.reference_rows(week.name, "val", ctx.cfg.profile, ctx.cfg.reference_rows, loaded)
    return {"name": week.name, "number": week.number, "title": week.title, "revealed": revealed,
            "deadline": _deadline_text(ctx, week.name), "public": public, "refs_public": refs_public,
            "private": boards.student_rows(week, "test", ctx.display) if revealed else [],
            "refs_private": boards.reference_rows(week.name, "test", ctx.cfg.profile, ctx.cfg.reference_rows, loaded)
            if revealed else [],
            "students": len(week.submissions), "ranked": sum(r.rank is not None for r in public),
            "pareto": f"plots/{week.name}-pareto.png", "distribution": f"plots/{week.name}-distribution.png"}


PLOT_KEYS = "plots/.inputs.json"  # figure -> hash of what it was drawn from (a rebuild skips unchanged ones)
_plot_keys: dict[str, dict[str, str]] = {"old": {}, "new": {}}


def _plot(ctx: Ctx, function, rel: str, *args) -> str:
    """Draw a figure, unless the same function drew this file from the same data last time."""
    path = ctx.out / rel
    WRITTEN.add(path)
    key = hashlib.sha256(repr((plots.VERSION, function.__name__, args)).encode("utf-8")).hexdigest()
    _plot_keys["new"][rel] = key
    if _plot_keys["old"].get(rel) != key or not path.is_file():
        function(path, *args)
    return rel


def _week_plots(ctx: Ctx, info: dict) -> None:
    public, refs = info["public"], info["refs_public"]
    _plot(ctx, plots.pareto_plot, info["pareto"],
          [(r.latency_ms, r.macro_f1) for r in public if r.macro_f1 is not None and r.latency_ms is not None],
          [(r.name, r.macro_f1, r.latency_ms) for r in refs])
    _plot(ctx, plots.distribution_plot, info["distribution"], [r.macro_f1 for r in public if r.macro_f1 is not None],
          [(r.name, r.macro_f1) for r in refs])


def _board_pages(ctx: Ctx, env: Environment, info: dict) -> None:
    common = dict(root="", cfg=ctx.cfg, week=info, show_names=ctx.show_names, weeks=ctx.week_names, page=info["name"])
    template = env.get_template("board.html")
    _write(ctx.out / f"{info['name']}.html",
           template.render(board="public", rows=boards.ordered(info["public"] + info["refs_public"]), **common))
    _write(ctx.out / f"{info['name']}-private.html",
           template.render(board="private", rows=boards.ordered(info["private"] + info["refs_private"]), **common))


# ---------------------------------------------------------------------------------------------------
# Feedback pages (worker processes, or the main one)
# ---------------------------------------------------------------------------------------------------


def _feedback_job(index: int) -> tuple[list[dict], set[Path], dict[str, float]]:
    """Feedback pages and Gradescope exports of one week; returns what the instructor page needs."""
    ctx, week_pages = _JOB
    week, info = ctx.weeks[index], week_pages[index]
    env = _environment()
    timings: dict[str, float] = {}
    written_before = set(WRITTEN)

    def timed(phase, fn, *args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            timings[phase] = timings.get(phase, 0.0) + time.perf_counter() - start

    rubric = memo.load_rubric(week.number, ctx.cfg.rubrics_dir)
    ref_numbers = memo.reference_numbers(ctx.bands, week.name)
    configured = ctx.cfg.reference_per_class.get(week.name)
    candidates = [] if configured else _reference_candidates(week)
    rank_of = {r.student: r for r in info["public"]}
    template = env.get_template("feedback.html")
    gradescope = ctx.out / PRIVATE_DIR / "exports" / "gradescope" / week.name
    students = []
    for student, subs in week.submissions.items():
        sub = _primary(subs)
        chosen = boards.best_run(subs)
        run = chosen[1] if chosen else (sub.runs[0] if sub.runs else None)
        memo_text, problems = timed("memo observations", memo.read_memo, memo_notebooks(ctx.course_dir, student, week.name))
        obs = timed("memo observations", memo.observe, memo_text, rubric, sub.measured, references=ref_numbers,
                    words_per_page=ctx.cfg.words_per_page, problems=problems)
        if configured:
            reference = {"label": configured["name"], "per_class": configured["per_class_f1"], "tiers": None}
        else:
            other = next(((label, r) for s, label, r in candidates if s != student), None)
            reference = {"label": other[0], "per_class": other[1].per_class("val"),
                         "tiers": other[1].val.get("tier_f1")} if other else None
        page = f"feedback/{ctx.tokens[student]}/{week.name}.html"
        row = rank_of.get(student)
        html = timed("pages", template.render,
                     root="../../../", cfg=ctx.cfg, week=info, student=student, name=ctx.names.get(student, ""),
                     pseudonym=ctx.pseudonym[student], row=row, subs=subs, sub=sub, run=run,
                     found=[(s, f) for s in subs for f in s.findings], per_class=_per_class(ctx, run, reference),
                     counted=chosen is not None, revealed=info["revealed"], obs=obs, reference=reference,
                     show_names=ctx.show_names, weeks=ctx.week_names, page="feedback")
        timed("pages", _write, ctx.out / PRIVATE_DIR / page, html)
        timed("exports", exports.gradescope_results, gradescope / student / "results.json",
              sub.raw or {"score": 0, "tests": [], "extra_data": {"status": sub.status, "error": sub.error}},
              exports.gradescope_leaderboard(row if row and row.macro_f1 is not None else None,
                                             row.status if row else "pending"), _write, sub.text)
        students.append({"student": student, "obs": obs, "page": page})
    return students, WRITTEN - written_before, timings


def _reference_candidates(week: Week) -> list[tuple[str, str, Run]]:
    """Clean candidates for the per-class reference, best first: (student, label, run)."""
    ranked = []
    for student, subs in week.submissions.items():
        clean = [r for s in subs if s.valid and s.integrity == "clean" for r in s.runs
                 if r.metric("val", "macro_f1") is not None and r.per_class("val")]
        if clean:
            ranked.append((student, "best clean submission this week (anonymous)",
                           max(clean, key=lambda r: r.metric("val", "macro_f1"))))
    return sorted(ranked, key=lambda t: -t[2].metric("val", "macro_f1"))


def _primary(subs: list[Submission]) -> Submission:
    """The submission a feedback page is about: the one whose run counts, else the latest attempt."""
    chosen = boards.best_run(subs)
    return chosen[0] if chosen else subs[-1]


def _per_class(ctx: Ctx, run: Run | None, reference: dict | None) -> dict:
    if run is None or not run.per_class("val"):
        return {}
    mine = run.per_class("val")
    ref = reference["per_class"] if reference else None
    labels = ctx.cfg.labels
    worst = []
    if ref:
        gaps = sorted((mine[c] - ref[c], c) for c in range(min(len(mine), len(ref))))[:8]
        worst = [{"name": labels[c] if c < len(labels) else f"class {c}", "mine": mine[c], "ref": ref[c], "gap": gap}
                 for gap, c in gaps]
    return {"chart": plots.per_class_svg(mine, ref), "worst": worst, "zero": mine.count(0.0), "n": len(mine)}


# ---------------------------------------------------------------------------------------------------
# Season and instructor pages (main process)
# ---------------------------------------------------------------------------------------------------


def _season_plot(ctx: Ctx, week_pages: list[dict]) -> str:
    return _plot(ctx, plots.season_plot, "plots/season.png", [w["name"] for w in week_pages],
                 [[r.macro_f1 for r in w["public"] if r.macro_f1 is not None] for w in week_pages])


def _season_page(ctx: Ctx, env: Environment, week_pages: list[dict], plot: str) -> dict:
    table: dict[str, dict] = {}
    for w in week_pages:
        for row in w["public"]:
            entry = table.setdefault(row.student, {"name": row.name, "weeks": {}})
            entry["weeks"][w["name"]] = row
    rows = []
    for entry in table.values():
        ranks = [r.rank for r in entry["weeks"].values() if r.rank is not None]
        rows.append({"name": entry["name"], "weeks": entry["weeks"], "ranked": len(ranks),
                     "mean_rank": sum(ranks) / len(ranks) if ranks else None})
    rows.sort(key=lambda r: (-r["ranked"], r["mean_rank"] if r["mean_rank"] is not None else 1e9, r["name"]))
    info = {"rows": rows, "plot": plot}
    with _phase("pages"):
        _write(ctx.out / "season.html", env.get_template("season.html").render(
            root="", cfg=ctx.cfg, season=info, weeks=ctx.week_names, week_pages=week_pages,
            show_names=ctx.show_names, page="season"))
    return info


SEVERITY_ORDER = {"critical": 0, "major": 1, "minor": 2, "info": 3}


def _instructor(ctx: Ctx, env: Environment, week_pages: list[dict]) -> None:
    base = ctx.out / PRIVATE_DIR
    flags, failed, memos, summary = [], [], [], []
    for week, w in zip(ctx.weeks, week_pages):
        scores, entries = [], []
        rank_of = {r.student: r for r in w["public"]}
        for s in w["feedback"]:
            student, obs, link = s["student"], s["obs"], s["page"]
            subs = week.submissions[student]
            sub = _primary(subs)
            name = ctx.names.get(student, "")
            s.update(name=name, sub=sub, subs=subs)
            for candidate in subs:
                for f in candidate.findings:
                    flags.append({"week": w["name"], "student": student, "name": name, "link": link,
                                  "attempt": candidate.attempt, "integrity": candidate.integrity,
                                  **{k: f.get(k) for k in ("severity", "layer", "rule", "message", "cell", "line")}})
                if candidate.status != "graded":
                    error = candidate.error or "no reason recorded"
                    failed.append({"week": w["name"], "student": student, "name": name, "link": link,
                                   "attempt": candidate.attempt, "error": error, "first": error.splitlines()[0]})
            if sub.status == "graded" and sub.max_score:
                scores.append(sub.score / sub.max_score)
            if obs.length_status != "within" or obs.mismatches or obs.evidence_missing:
                memos.append({"week": w["name"], "student": student, "name": name, "link": link, "obs": obs})
            row = rank_of.get(student)
            state = sub.integrity if sub.status == "graded" else "not graded: " + (sub.error.splitlines() or [""])[0]
            entries.append({"student": student, "name": name or student, "score": sub.score, "max_score": sub.max_score,
                            "comment": f"autograded {sub.score:g}/{sub.max_score:g}; integrity: {state}; "
                                       f"{obs.summary()}; leaderboard: {row.name if row else ''}"})
        with _phase("exports"):
            exports.moodle_csv(base / "exports" / f"moodle-{w['name']}.csv", entries, _write)
        summary.append({"name": w["name"], "title": w["title"], "students": w["students"], "ranked": w["ranked"],
                        "failed": sum(1 for subs in week.submissions.values() if _primary(subs).status != "graded"),
                        "flagged": sum(1 for subs in week.submissions.values() if any(c.flagged for c in subs)),
                        "mean": sum(scores) / len(scores) if scores else None, "scores": scores})
    flags.sort(key=lambda f: (SEVERITY_ORDER.get(f["severity"], 9), f["week"], f["student"]))
    with _phase("plots"):
        grades = _plot(ctx, plots.grades_plot, f"{PRIVATE_DIR}/grades.png", [s["name"] for s in summary],
                       [s["scores"] for s in summary])
    with _phase("pages"):
        _write(base / "index.html", env.get_template("instructor.html").render(
            root="../", cfg=ctx.cfg, summary=summary, flags=flags, failed=failed, memos=memos,
            grades=grades[len(PRIVATE_DIR) + 1:], weeks=ctx.week_names, show_names=ctx.show_names,
            page="instructor", feedback=[(w["name"], w["feedback"]) for w in week_pages]))
