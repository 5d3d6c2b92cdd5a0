"""`course demo`: the harness end to end on the embedded synthetic course, offline.

Every output lands in one folder: the audit (report, JSON, plots) and the run records of the
baselines, written through the same student API a notebook uses.
"""

from __future__ import annotations

import json
import time
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

    banner("7. Week 5 reference: INT8 / NF4 (bitsandbytes, CPU backend), ONNX Runtime INT8, the Pareto front")
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
        "week5": week5,
        "report": html,
    }


def grade_simulated_class(root: Path, workers: int = 2) -> list:
    """Release week 1 with nbgrader, submit the simulated class, grade it and print the table."""
    from grader import grade, nbgrader_course, simulated_class

    nbgrader_course.init_course(root, ["week1"])
    released = nbgrader_course.release(root, "week1")
    print(f"released: {released}")
    for student in simulated_class.STUDENTS:
        notebook = simulated_class.write_submission(student, root / "incoming" / student)
        nbgrader_course.submit(root, "week1", student, [notebook])
    start = time.perf_counter()
    results = grade.grade_week(root, "week1", workers=workers)
    print(grade.format_table(results))
    print(
        f"graded {len(results)} submissions in {time.perf_counter() - start:.0f} s with {workers} workers; "
        f"results in {root / 'results' / 'week1'}"
    )
    return results
