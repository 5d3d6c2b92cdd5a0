"""The instructor's feedback pages of one week (checks, findings, per-class F1 against a reference, memo
observations and rubric scores) and the Gradescope exports: one job per week, run in a worker process."""

from __future__ import annotations

from grader import memo, reviews
from grader.rubrics import Rubric
from leaderboard import boards, exports, plots
from leaderboard.build import PRIVATE_DIR, Build, Ctx
from leaderboard.data import Run, Submission, Week, memo_notebooks
from leaderboard.decisions import memo_marks, week_decisions
from leaderboard.render import environment


def feedback_job(ctx: Ctx, week: Week, info: dict, rubric: Rubric) -> tuple[list[dict], Build]:
    """Feedback pages and Gradescope exports of one week; returns what the instructor page needs and
    the job's own Build (its files and timings), since a worker shares no memory with the main process."""
    build = Build(ctx.out)
    template = environment().get_template("feedback.html")
    ref_numbers = memo.reference_numbers(ctx.bands, week.name)
    configured = ctx.cfg.reference_per_class.get(week.name)
    candidates = [] if configured else reference_candidates(week)
    rank_of = {r.student: r for r in info["public"]}
    gradescope = ctx.out / PRIVATE_DIR / "exports" / "gradescope" / week.name
    decisions, review_problems = week_decisions(ctx.course_dir, week.name)
    students = []
    for student, subs in week.submissions.items():
        sub = primary(subs)
        chosen = boards.best_run(subs)
        run = chosen[1] if chosen else (sub.runs[0] if sub.runs else None)
        with build.phase("memo observations"):
            memo_text, problems = memo.read_memo(memo_notebooks(ctx.course_dir, student, week.name))
            obs = memo.observe(
                memo_text,
                rubric,
                sub.measured,
                references=ref_numbers,
                words_per_page=ctx.cfg.words_per_page,
                problems=problems,
            )
            marks, mark_problems = memo_marks(ctx.course_dir, week.name, student, rubric, set(week.submissions))
        if configured:
            reference = {"label": configured["name"], "per_class": configured["per_class_f1"], "tiers": None}
        else:
            other = next(((label, r) for s, label, r in candidates if s != student), None)
            reference = (
                {"label": other[0], "per_class": other[1].per_class("val"), "tiers": other[1].val.get("tier_f1")}
                if other
                else None
            )
        page = f"feedback/{ctx.tokens[student]}/{week.name}.html"
        row = rank_of.get(student)
        with build.phase("pages"):
            build.write(
                ctx.out / PRIVATE_DIR / page,
                template.render(
                    root="../../../",
                    cfg=ctx.cfg,
                    week=info,
                    student=student,
                    name=ctx.names.get(student, ""),
                    pseudonym=ctx.pseudonym[student],
                    row=row,
                    subs=subs,
                    sub=sub,
                    run=run,
                    found=[(s, f, reviews.status(student, f, decisions)) for s in subs for f in s.findings],
                    review_problems=review_problems,
                    marks=marks,
                    mark_problems=mark_problems,
                    per_class=per_class(ctx, run, reference),
                    counted=chosen is not None,
                    revealed=info["revealed"],
                    obs=obs,
                    reference=reference,
                    show_names=ctx.show_names,
                    weeks=ctx.week_names,
                    page="feedback",
                ),
            )
        with build.phase("exports"):
            exports.gradescope_results(
                gradescope / student / "results.json",
                sub.raw or {"score": 0, "tests": [], "extra_data": {"status": sub.status, "error": sub.error}},
                exports.gradescope_leaderboard(
                    row if row and row.macro_f1 is not None else None, row.status if row else "pending"
                ),
                build.write,
                sub.text,
            )
        students.append({"student": student, "obs": obs, "page": page})
    return students, build


def reference_candidates(week: Week) -> list[tuple[str, str, Run]]:
    """Clean candidates for the per-class reference, best first: (student, label, run)."""
    ranked = []
    for student, subs in week.submissions.items():
        clean = [
            r
            for s in subs
            if s.valid and s.integrity == "clean"
            for r in s.runs
            if r.metric("val", "macro_f1") is not None and r.per_class("val")
        ]
        if clean:
            ranked.append(
                (
                    student,
                    "best clean submission this week (anonymous)",
                    max(clean, key=lambda r: r.metric("val", "macro_f1")),
                )
            )
    return sorted(ranked, key=lambda t: -t[2].metric("val", "macro_f1"))


def primary(subs: list[Submission]) -> Submission:
    """The submission a feedback page is about: the one whose run counts, else the latest attempt."""
    chosen = boards.best_run(subs)
    return chosen[0] if chosen else subs[-1]


def per_class(ctx: Ctx, run: Run | None, reference: dict | None) -> dict:
    if run is None or not run.per_class("val"):
        return {}
    mine = run.per_class("val")
    ref = reference["per_class"] if reference else None
    labels = ctx.cfg.labels
    worst = []
    if ref:
        gaps = sorted((mine[c] - ref[c], c) for c in range(min(len(mine), len(ref))))[:8]
        worst = [
            {"name": labels[c] if c < len(labels) else f"class {c}", "mine": mine[c], "ref": ref[c], "gap": gap}
            for gap, c in gaps
        ]
    return {"chart": plots.per_class_svg(mine, ref), "worst": worst, "zero": mine.count(0.0), "n": len(mine)}


# ---------------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------------
# Season and instructor pages (main process)
# ---------------------------------------------------------------------------------------------------
