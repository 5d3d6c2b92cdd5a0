"""`course demo`: the harness end to end on the embedded synthetic course, offline.

Every output lands in one folder: the audit (report, JSON, plots) and the run records of the
baselines, written through the same student API a notebook uses.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

from course import api
from course.audit import audit, format_report, plot
from course.sources import load_raw


def banner(title: str) -> None:
    print(f"\n{'=' * 78}\n{title}\n{'=' * 78}")


def run_demo(out: Path, size: str = "full") -> dict:
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    course = "synthetic" if size == "full" else "synthetic-small"
    with api.configured(course=course, runs_dir=out / "runs", mode="self-check", data_dir=None, contract_dir=None):
        banner(f"1. The synthetic course ({course})")
        start = time.perf_counter()
        data = api.store().data
        sizes = {name: len(data.splits[name]) for name in ("train", "val", "test")}
        print(
            f"{data.config.name}: {sizes['train']:,} train / {sizes['val']:,} val / {sizes['test']:,} test rows, "
            f"{len(data.contract.labels)} labels (loaded in {time.perf_counter() - start:.1f} s)"
        )
        print(f"course config: {data.config.path}")

        banner("2. Audit")
        raw_train, raw_test = load_raw(data.config)
        from course.models import smoke_tokenizer

        tokenizer = smoke_tokenizer(data.config.name, data.splits.train["text"])
        result = audit(
            raw_train,
            data.contract.labels,
            data.contract.merge_map,
            raw_test=raw_test,
            train_index=data.contract.train_indices,
            tokenizer=tokenizer,
            max_length=data.config.max_length,
        )
        print(format_report(result))
        (out / "audit.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
        plots = plot(result, out / "plots")

        banner("3. Majority class through the student API")
        train_ds, _ = api.load_course_data()
        majority = int(np.bincount(train_ds["label"], minlength=len(data.contract.labels)).argmax())
        print(f"majority class: {data.contract.labels[majority]!r}")
        shown = api.final_evaluation(lambda texts: [majority] * len(texts), run="majority")
        val = shown["val"]
        print(
            f"val: accuracy {val['accuracy']:.4f}, macro-F1 {val['macro_f1']:.4f}, "
            f"zero-F1 classes {val['zero_f1_classes']} of {len(data.contract.labels)}"
        )

        banner("4. Reference solutions: fast TF-IDF and the fine-tuning engine")
        from reference_solutions.baselines import run_baseline
        from reference_solutions.engine import TrainConfig, train

        with api.configured(max_train_examples=None):
            tfidf = run_baseline("fast_tfidf", run="week1_tfidf_fast")
        print(f"fast TF-IDF on {sizes['train']:,} train rows: val macro-F1 {tfidf['val']['macro_f1']:.4f}")
        with api.configured(course="synthetic-small", max_train_examples=2000):
            config = TrainConfig.from_settings(
                api.settings, epochs=2, output_dir=out / "checkpoints" / "engine", disable_progress=True
            )
            tuned = train(config, run="week1_tiny_modernbert")
        print(
            f"tiny ModernBERT (smoke profile): best epoch {tuned.best_epoch}, val macro-F1 "
            f"{tuned.best_val_macro_f1:.4f}, {tuned.train_examples_per_s:.0f} examples/s"
        )

    banner("5. Week 1: release, a simulated class of seven, grading")
    results = grade_simulated_class(out / "course_dir")

    banner("6. Leaderboard and feedback site")
    from leaderboard.site import build_site

    index = build_site(out / "course_dir", out / "site")
    print(f"leaderboard: {index}")

    banner("6b. The instructor's week: memo rubric forms, two reviews, a late submission, the gradebook")
    gradebook_dir = instructor_week(out / "course_dir")
    index = build_site(out / "course_dir", out / "site")  # again: feedback now shows rubric scores and reviews
    print(f"feedback pages rebuilt with rubric scores and review decisions: {index.parent / 'instructor'}")

    banner("7. Week 1 graded on full-profile evidence: six students' own runs, verified")
    full_results, full_index = grade_full_class(out / "full_course", out / "full_runs")

    banner("8. Week 5 reference: INT8 / NF4 (bitsandbytes, CPU backend), ONNX Runtime INT8, the Pareto front")
    from reference_solutions import report
    from reference_solutions.weeks import run_week

    week5 = run_week("week5", "smoke", out / "reference" / "week5")
    html, md = report.write_report(out / "reference", out / "reference")
    print(f"recommendation report over every reference run: {html}")

    banner("Outputs")
    print(f"everything is in {out}")
    for path in [
        out / "audit.json",
        *plots,
        Path(shown["record"]),
        out / "course_dir" / "results" / "week1",
        index,
        out / "full_course" / "results" / "week1",
        full_index,
        out / "reference" / "week5" / "week5_summary.md",
        html,
        md,
    ]:
        print(f"  {Path(path).relative_to(out)}")
    return {
        "out": out,
        "audit": result,
        "majority": shown,
        "grades": results,
        "site": index,
        "gradebook": gradebook_dir,
        "full_grades": full_results,
        "full_site": full_index,
        "week5": week5,
        "report": html,
    }


MEMO_SHARE = {"honest": 0.85, "below_band": 0.7}  # the rest of the class writes a 60% memo
SCORES = "student,quiz1,quiz2,quiz3,quiz4,quiz5,final,participation\n"


def instructor_week(root: Path) -> Path:
    """What the instructor does after `course grade`, as the README lists it: fill the memo forms, review
    two flags (one confirmed, one dismissed), a submission that came in a day late, then the gradebook."""
    import yaml

    from grader import gradebook, late, reviews, rubric_forms
    from grader.course_policy import load_policy

    written, _ = rubric_forms.prepare_forms(root, "week1")
    for path in written:  # the instructor's scores: a share of each criterion's points, and a comment
        form = yaml.safe_load(path.read_text(encoding="utf-8"))
        share = MEMO_SHARE.get(form["student"], 0.6)
        for entry in form["criteria"].values():
            entry.update(points=round(entry["max"] * share), comment=f"{share:.0%}: see the observations")
        path.write_text(yaml.safe_dump(form, sort_keys=False, allow_unicode=True), encoding="utf-8")
    flags = reviews.week_flags(root, "week1")
    confirm = next(f for f in flags if f.student == "trains_on_test" and f.finding.rule == "invariance-changed")
    dismiss = next(f for f in flags if f.student == "resplits")
    reviews.record(root, "week1", confirm, "confirmed", "val predictions moved with the test split", "instructor")
    reviews.record(root, "week1", dismiss, "dismissed", "re-split train and val only: reviewed by hand", "instructor")
    submitted = {s: late.submitted_at(root / "submitted" / s / "week1") for s in simulated_class_students(root)}
    deadline = min(t for t in submitted.values() if t) + timedelta(hours=1)
    (root / "course.yaml").write_text(f'deadlines: {{week1: "{deadline.isoformat()}"}}\n', encoding="utf-8")
    late.write_timestamp(root / "submitted" / "below_band" / "week1", deadline + timedelta(days=1, hours=2))
    (root / "scores.csv").write_text(
        SCORES + "".join(f"{s},80,90,70,100,60,75,100\n" for s in submitted), encoding="utf-8"
    )
    gradebook.resettle_week(root, "week1", {})
    policy = load_policy(root)
    marks = gradebook.compute(root, policy)
    out = gradebook.write_gradebook(root, marks, policy)
    print(f"rubric forms filled: {len(written)}; flag {confirm.id} confirmed, flag {dismiss.id} dismissed")
    print("| student | week 1 code | memo | late | week 1 grade | final |\n|---|---|---|---|---|---|")
    for m in marks:
        w = m.weeks[0]
        memo = "–" if w.memo is None else f"{w.memo:g}"
        code = f"{w.code:g} / {w.code_max:g}"
        print(f"| {m.student} | {code} | {memo} | {w.late_days} day(s) | {w.grade:.1f} | {m.final:.2f} |")
    print(f"gradebook: {out}")
    return out


def simulated_class_students(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "submitted").iterdir() if (p / "week1").is_dir())


def weak_sandbox() -> bool:
    """The demo grades in the sealed sandbox where bubblewrap works, and says so where it cannot."""
    from notebooks.isolation import sealed_available

    if sealed_available():
        return False
    print("note: bubblewrap cannot seal the sandbox here; grading with weaker isolation (every result says so)")
    return True


def grade_simulated_class(root: Path, workers: int = 2) -> list:
    """Release week 1 with nbgrader, submit the simulated class, grade it and print the table."""
    from grader import grade, nbgrader_course, simulated_class

    nbgrader_course.init_course(root, ["week1"])
    released = nbgrader_course.release(root, "week1")
    print(f"released: {released}")
    for student in simulated_class.STUDENTS:
        notebooks = simulated_class.write_week1(student, root / "incoming" / student)
        nbgrader_course.submit(root, "week1", student, notebooks)
    start = time.perf_counter()
    results = grade.grade_week(root, "week1", workers=workers, allow_weak_sandbox=weak_sandbox())
    print(grade.format_table(results))
    print(
        f"graded {len(results)} submissions in {time.perf_counter() - start:.0f} s with {workers} workers; "
        f"results in {root / 'results' / 'week1'}"
    )
    return results


def grade_full_class(root: Path, work: Path, workers: int = 2) -> tuple[list, Path]:
    """Week 1 on full evidence: each student hands in their executed notebook and its runs/ (two real
    full-like runs, the rest forged from them), graded and ranked on the recomputed full numbers."""
    from grader import grade, simulated_full_class
    from grader.shared_runs import read_flags
    from leaderboard.site import build_site

    start = time.perf_counter()
    results = simulated_full_class.grade_full_class(root, work, workers, allow_weak_sandbox=weak_sandbox())
    print(grade.format_table(results))
    for r in results:
        m = r.metrics.get(simulated_full_class.RUN, {})
        if m.get("evidence") == "full":
            print(
                f"  {r.student}: full val macro-F1 {m['val']['macro_f1']:.4f} (the grader's smoke re-run: "
                f"{m['smoke_val_macro_f1']:.4f}), certificate {m['certificate']}"
            )
    for flag in read_flags(root, "week1"):
        print(f"  shared-run review flag: {flag['message']}")
    index = build_site(root, root.parent / "full_site")
    print(
        f"graded {len(results)} full submissions in {time.perf_counter() - start:.0f} s; leaderboard (full "
        f"numbers): {index}"
    )
    return results, index
