"""Build the static site: public and private boards per week, a season view, feedback pages, the
instructor's overview, plots and exports. Everything is rendered from `templates/` by Jinja2 with
autoescaping on for every template (`leaderboard.render`); nothing a student wrote is ever marked safe.

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
(memo observations by `grader.memo`, rendering, Gradescope export) are built in worker processes,
one job per week that gets its week and the shared context as arguments, while the main process draws
the figures and renders the boards. What a build wrote, which figures it drew from which inputs and
how long each phase took live in one `Build` object; a rebuild into the same folder rewrites only the
files whose content changed and removes the ones no longer produced. `workers=1` (or
LEADERBOARD_WORKERS=1) builds everything in one process; the output is the same either way.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path

from jinja2 import Environment

from course import bands as bands_module
from grader.rubrics import Rubric, load_rubric
from grader.shared_runs import read_flags as shared_run_flags
from leaderboard import boards, exports, plots, pseudonyms
from leaderboard.build import MARKER, PLOT_KEYS, PRIVATE_DIR, Build, Ctx, deadline_text, is_revealed
from leaderboard.data import Week, load_config, load_names, load_weeks
from leaderboard.feedback import feedback_job, primary
from leaderboard.render import environment

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


def _load(course_dir: Path, out: Path, now: datetime, show_names: bool) -> tuple[Ctx, list[Week], dict[str, Rubric]]:
    """The course's results, names and config; the rubrics too, so that a bad rubric file stops the
    build here, with its name, before any worker starts."""
    cfg = load_config(course_dir)
    show_names = bool(show_names or cfg.show_names)
    weeks = load_weeks(course_dir)
    names = load_names(course_dir)
    students = sorted({s for w in weeks for s in w.submissions})
    pseudo = pseudonyms.assign(students, cfg.salt)
    display = {s: (names.get(s) or pseudo[s]) if show_names else pseudo[s] for s in students}
    tokens = {s: pseudonyms.token(s, cfg.salt) for s in students}
    loaded_bands = {p: bands_module.load_bands(p) for p in dict.fromkeys((cfg.profile, "full"))}
    rubrics = {w.name: load_rubric(w.number, cfg.rubrics_dir) for w in weeks}
    ctx = Ctx(
        course_dir, out, cfg, [w.name for w in weeks], names, pseudo, display, tokens, now, show_names, loaded_bands
    )
    return ctx, weeks, rubrics


def _previous_plot_keys(out: Path) -> dict[str, str]:
    """The figures' inputs recorded by a previous build of ours ({} for a first build)."""
    if not (out / MARKER).is_file():
        return {}
    try:
        return json.loads((out / PLOT_KEYS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def build_site(
    course_dir: Path,
    out: Path,
    *,
    now: datetime | None = None,
    show_names: bool = False,
    workers: int | None = None,
    timings: dict[str, float] | None = None,
) -> Path:
    """Build the whole site from a graded course folder into `out`; returns the path of index.html.

    `now` (default: the current UTC time) decides which private boards are revealed; naive datetimes
    are UTC. `show_names` (or `show_names: true` in leaderboard.yaml) puts real names from
    students.json on public pages instead of pseudonyms. `workers`: processes for the feedback pages
    (default: LEADERBOARD_WORKERS, else one per CPU up to 4, or none extra when the load average already
    reaches the CPU count; 1 = everything in this process). The output is the same either way.
    `timings`, when given, receives seconds per phase (for the benchmark). A missing or malformed
    rubric raises `grader.rubrics.RubricError`.
    """
    course_dir, out = Path(course_dir), Path(out)
    now = now or datetime.now(timezone.utc)
    now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    rebuild = (out / MARKER).is_file()  # a previous build of ours: its stale files go at the end
    build = Build(out, old_plots=_previous_plot_keys(out))
    with build.phase("load results"):
        ctx, weeks, rubrics = _load(course_dir, out, now, show_names)
    out.mkdir(parents=True, exist_ok=True)
    build.write(out / MARKER, "built by leaderboard.site.build_site; instructor/ is private\n")
    env = environment()
    with build.phase("boards"):
        week_pages = [_week_info(ctx, week) for week in weeks]

    # Feedback pages: one job per week, in worker processes that get the job's inputs as arguments.
    jobs = [(ctx, week, info, rubrics[week.name]) for week, info in zip(weeks, week_pages)]
    n = _workers(workers, len(weeks))
    with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork")) if n > 1 else nullcontext() as pool:
        futures = [pool.submit(feedback_job, *job) for job in jobs] if pool else []
        with build.phase("plots"):
            for info in week_pages:
                _week_plots(build, info)
            season_plot = _season_plot(build, week_pages)
        with build.phase("pages"):
            for info in week_pages:
                _board_pages(ctx, build, env, info)
        if pool:
            with build.phase("waiting for feedback workers"):
                results = [f.result() for f in futures]
        else:
            results = [feedback_job(*job) for job in jobs]
    for info, (students, job_build) in zip(week_pages, results):
        info["feedback"] = students
        build.add(job_build)
    season = _season_page(ctx, build, env, week_pages, season_plot)
    _instructor(ctx, build, env, weeks, week_pages)
    with build.phase("exports"):
        exports.leaderboard_csv(
            out / "exports" / "leaderboard.csv",
            [
                (w["name"], board, w[board])
                for w in week_pages
                for board in ("public", "private")
                if board == "public" or w["revealed"]
            ],
            build.write,
        )
    index = out / "index.html"
    with build.phase("pages"):
        build.write(
            index,
            env.get_template("index.html").render(
                root="",
                cfg=ctx.cfg,
                weeks=ctx.week_names,
                week_pages=week_pages,
                season=season,
                now=now.strftime("%Y-%m-%d %H:%M UTC"),
                show_names=ctx.show_names,
                page="index",
            ),
        )
    build.write(out / PLOT_KEYS, json.dumps(build.new_plots, indent=0, sort_keys=True))
    if rebuild:
        build.remove_stale()
    if timings is not None:
        timings.update(build.timings)
    return index


# ---------------------------------------------------------------------------------------------------
# Week boards and plots (main process)
# ---------------------------------------------------------------------------------------------------


def _week_info(ctx: Ctx, week: Week) -> dict:
    revealed = is_revealed(ctx, week.name)
    loaded = ctx.bands[ctx.cfg.profile]
    public = boards.student_rows(week, "val", ctx.display)
    refs_public = boards.reference_rows(week.name, "val", ctx.cfg.profile, ctx.cfg.reference_rows, loaded)
    return {
        "name": week.name,
        "number": week.number,
        "title": week.title,
        "revealed": revealed,
        "deadline": deadline_text(ctx, week.name),
        "public": public,
        "refs_public": refs_public,
        "private": boards.student_rows(week, "test", ctx.display) if revealed else [],
        "refs_private": boards.reference_rows(week.name, "test", ctx.cfg.profile, ctx.cfg.reference_rows, loaded)
        if revealed
        else [],
        "students": len(week.submissions),
        "ranked": sum(r.rank is not None for r in public),
        "pareto": f"plots/{week.name}-pareto.png",
        "distribution": f"plots/{week.name}-distribution.png",
    }


def _week_plots(build: Build, info: dict) -> None:
    public, refs = info["public"], info["refs_public"]
    build.plot(
        plots.pareto_plot,
        info["pareto"],
        [(r.latency_ms, r.macro_f1) for r in public if r.macro_f1 is not None and r.latency_ms is not None],
        [(r.name, r.macro_f1, r.latency_ms) for r in refs],
    )
    build.plot(
        plots.distribution_plot,
        info["distribution"],
        [r.macro_f1 for r in public if r.macro_f1 is not None],
        [(r.name, r.macro_f1) for r in refs],
    )


def _board_pages(ctx: Ctx, build: Build, env: Environment, info: dict) -> None:
    common = {
        "root": "",
        "cfg": ctx.cfg,
        "week": info,
        "show_names": ctx.show_names,
        "weeks": ctx.week_names,
        "page": info["name"],
    }
    template = env.get_template("board.html")
    build.write(
        ctx.out / f"{info['name']}.html",
        template.render(board="public", rows=boards.ordered(info["public"] + info["refs_public"]), **common),
    )
    build.write(
        ctx.out / f"{info['name']}-private.html",
        template.render(board="private", rows=boards.ordered(info["private"] + info["refs_private"]), **common),
    )


# ---------------------------------------------------------------------------------------------------
# Feedback pages (worker processes, or the main one)
# ---------------------------------------------------------------------------------------------------


def _season_plot(build: Build, week_pages: list[dict]) -> str:
    return build.plot(
        plots.season_plot,
        "plots/season.png",
        [w["name"] for w in week_pages],
        [[r.macro_f1 for r in w["public"] if r.macro_f1 is not None] for w in week_pages],
    )


def _season_page(ctx: Ctx, build: Build, env: Environment, week_pages: list[dict], plot: str) -> dict:
    table: dict[str, dict] = {}
    for w in week_pages:
        for row in w["public"]:
            entry = table.setdefault(row.student, {"name": row.name, "weeks": {}})
            entry["weeks"][w["name"]] = row
    rows = []
    for entry in table.values():
        ranks = [r.rank for r in entry["weeks"].values() if r.rank is not None]
        rows.append(
            {
                "name": entry["name"],
                "weeks": entry["weeks"],
                "ranked": len(ranks),
                "mean_rank": sum(ranks) / len(ranks) if ranks else None,
            }
        )
    rows.sort(key=lambda r: (-r["ranked"], r["mean_rank"] if r["mean_rank"] is not None else 1e9, r["name"]))
    info = {"rows": rows, "plot": plot}
    with build.phase("pages"):
        build.write(
            ctx.out / "season.html",
            env.get_template("season.html").render(
                root="",
                cfg=ctx.cfg,
                season=info,
                weeks=ctx.week_names,
                week_pages=week_pages,
                show_names=ctx.show_names,
                page="season",
            ),
        )
    return info


SEVERITY_ORDER = {"critical": 0, "major": 1, "minor": 2, "info": 3}


def _instructor(ctx: Ctx, build: Build, env: Environment, weeks: list[Week], week_pages: list[dict]) -> None:
    base = ctx.out / PRIVATE_DIR
    flags, failed, memos, summary = [], [], [], []
    for week, w in zip(weeks, week_pages):
        scores, entries = [], []
        rank_of = {r.student: r for r in w["public"]}
        for s in w["feedback"]:
            student, obs, link = s["student"], s["obs"], s["page"]
            subs = week.submissions[student]
            sub = primary(subs)
            name = ctx.names.get(student, "")
            s.update(name=name, sub=sub, subs=subs)
            for candidate in subs:
                for f in candidate.findings:
                    flags.append(
                        {
                            "week": w["name"],
                            "student": student,
                            "name": name,
                            "link": link,
                            "attempt": candidate.attempt,
                            "integrity": candidate.integrity,
                            **f.as_dict(),
                        }
                    )
                if candidate.status != "graded":
                    error = candidate.error or "no reason recorded"
                    failed.append(
                        {
                            "week": w["name"],
                            "student": student,
                            "name": name,
                            "link": link,
                            "attempt": candidate.attempt,
                            "error": error,
                            "first": error.splitlines()[0],
                        }
                    )
            if sub.status == "graded" and sub.max_score:
                scores.append(sub.score / sub.max_score)
            if obs.length_status != "within" or obs.mismatches or obs.evidence_missing:
                memos.append({"week": w["name"], "student": student, "name": name, "link": link, "obs": obs})
            row = rank_of.get(student)
            state = sub.integrity if sub.status == "graded" else "not graded: " + (sub.error.splitlines() or [""])[0]
            entries.append(
                {
                    "student": student,
                    "name": name or student,
                    "score": sub.score,
                    "max_score": sub.max_score,
                    "comment": f"autograded {sub.score:g}/{sub.max_score:g}; integrity: {state}; "
                    f"{obs.summary()}; leaderboard: {row.name if row else ''}",
                }
            )
        with build.phase("exports"):
            exports.moodle_csv(base / "exports" / f"moodle-{w['name']}.csv", entries, build.write)
        summary.append(
            {
                "name": w["name"],
                "title": w["title"],
                "students": w["students"],
                "ranked": w["ranked"],
                "failed": sum(1 for subs in week.submissions.values() if primary(subs).status != "graded"),
                "flagged": sum(1 for subs in week.submissions.values() if any(c.flagged for c in subs)),
                "mean": sum(scores) / len(scores) if scores else None,
                "scores": scores,
            }
        )
    flags.sort(key=lambda f: (SEVERITY_ORDER.get(f["severity"], 9), f["week"], f["student"]))
    shared = [{"week": w, **pair} for w in ctx.week_names for pair in shared_run_flags(ctx.course_dir, w)]
    with build.phase("plots"):
        grades = build.plot(
            plots.grades_plot, f"{PRIVATE_DIR}/grades.png", [s["name"] for s in summary], [s["scores"] for s in summary]
        )
    with build.phase("pages"):
        build.write(
            base / "index.html",
            env.get_template("instructor.html").render(
                root="../",
                cfg=ctx.cfg,
                summary=summary,
                flags=flags,
                shared=shared,
                failed=failed,
                memos=memos,
                grades=grades[len(PRIVATE_DIR) + 1 :],
                weeks=ctx.week_names,
                show_names=ctx.show_names,
                page="instructor",
                feedback=[(w["name"], w["feedback"]) for w in week_pages],
            ),
        )
