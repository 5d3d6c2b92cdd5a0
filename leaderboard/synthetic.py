"""Synthetic graded courses for the site's tests, benchmark and demos.

Results are made with the grader's own classes (`grader.results.StudentResult`, `Check`, `Finding`) and
written by `grader.grade.write_outputs`, so the files have exactly the shape `course grade` leaves;
the graded notebooks carry a memo (markdown cells with `nbgrader.solution: true`).
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

NUM_LABELS = 113
TIERS = ["head"] * 10 + ["mid"] * 30 + ["tail"] * 73


def run_metrics(
    macro_f1: float,
    *,
    accuracy: float | None = None,
    seed: int = 0,
    latency_ms: float | None = 2.5,
    trainable_parameters: int | None = 1_000_000,
    band: dict | None = None,
    test_shift: float = -0.004,
    zero_f1: int | None = None,
) -> dict:
    """One run's `metrics` entry in the grader's shape: val / test summaries, latency, parameters, band."""
    rng = random.Random(seed)

    def split(f1: float, ci: bool) -> dict:
        per_class = []
        for c in range(NUM_LABELS):
            base = {"head": 2.4, "mid": 1.2, "tail": 0.5}[TIERS[c]] * f1
            per_class.append(round(min(1.0, max(0.0, base + rng.uniform(-0.08, 0.08))), 4))
        zeros = zero_f1 if zero_f1 is not None else max(0, int(NUM_LABELS * (0.8 - 2.2 * f1)))
        for c in sorted(range(NUM_LABELS), key=lambda c: per_class[c])[:zeros]:
            per_class[c] = 0.0
        tiers = {
            t: round(sum(v for v, tt in zip(per_class, TIERS) if tt == t) / TIERS.count(t), 4)
            for t in ("head", "mid", "tail")
        }
        out = {
            "accuracy": accuracy if accuracy is not None else round(0.3 + 1.2 * f1, 4),
            "macro_f1": f1,
            "weighted_f1": round(0.2 + 1.3 * f1, 4),
            "zero_f1_classes": zeros,
            "num_examples": 643,
            "tier_f1": tiers,
            "per_class_f1": per_class,
        }
        if ci:
            out["ci"] = [round(f1 - 0.02, 4), round(f1 + 0.02, 4)]
        return out

    return {
        "val": split(macro_f1, True),
        "test": split(round(macro_f1 + test_shift, 4), False),
        "latency_ms": latency_ms,
        "trainable_parameters": trainable_parameters,
        "band": band or {"mean": 0.2, "std": 0.01, "lower": 0.18, "upper": 0.22, "n": 3, "source": "synthetic"},
    }


def memo_notebook(path: Path, memo_cells: list[str], code: str = "print('hello')") -> Path:
    """A graded notebook: a code cell, then the memo cells (markdown, nbgrader solution)."""
    cells = [{"cell_type": "code", "metadata": {}, "source": code, "outputs": [], "execution_count": None}]
    for i, text in enumerate(memo_cells):
        cells.append(
            {
                "cell_type": "markdown",
                "source": text,
                "metadata": {
                    "nbgrader": {
                        "solution": True,
                        "grade": True,
                        "grade_id": f"memo-{i}",
                        "points": 0,
                        "schema_version": 3,
                    }
                },
            }
        )
    nb = {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def default_memo(macro_f1: float, accuracy: float, zero_f1: int, words: int = 1200) -> list[str]:
    """A week-1-shaped memo with the rubric's headings, citing the given numbers."""
    filler = (
        "The validation split is used for every choice and the analysis stays with our own numbers. " * 40
    ).split()
    body = " ".join((filler * (words // len(filler) + 1))[: max(0, words - 120)])
    return [
        "## Audit\nThe label distribution has a long tail: the top class holds 23% of the rows and 35 classes "
        "have fewer than 20 examples.\n\n" + body[: len(body) // 3],
        f"## Baseline interpretation\nAccuracy is {accuracy:.3f} while macro-F1 is {macro_f1:.3f}: the gap comes from "
        f"the {zero_f1} zero-F1 classes that the model never predicts.\n\n" + body[len(body) // 3 : 2 * len(body) // 3],
        "## Fine-tuning results\nThe best checkpoint is the one after epoch 2, selected on val macro-F1.\n\n"
        + body[2 * len(body) // 3 :],
        "## Experiment log\n| run | lr | seed | epochs | val macro-F1 |\n|---|---|---|---|---|\n"
        f"| a | 2e-5 | 0 | 2 | {macro_f1:.3f} |\n| b | 3e-5 | 0 | 2 | {macro_f1 - 0.01:.3f} |",
        "## Risks\n- Rare classes get almost no recall, so complaints about them go to the wrong team.\n"
        "- Val is used for selection and reporting, so its numbers are optimistic.",
    ]


def write_course(root: Path, students: int = 300, weeks: int = 6, seed: int = 0, memo_words: int = 1200) -> Path:
    """A graded course folder with `students` x `weeks` results, memos and a leaderboard.yaml."""
    from grader.findings import Finding
    from grader.grade import write_outputs
    from grader.results import Check, StudentResult

    rng = random.Random(seed)
    root = Path(root)
    ids = [f"s{i:04d}" for i in range(students)]
    names = {s: f"Student {i}" for i, s in enumerate(ids)}
    for w in range(1, weeks + 1):
        week = f"week{w}"
        results = []
        for i, student in enumerate(ids):
            result = StudentResult(student)
            f1 = round(min(0.35, max(0.01, rng.gauss(0.17 + 0.01 * w, 0.04))), 4)
            acc = round(0.3 + 1.2 * f1, 4)
            run = f"{week}_model"
            result.metrics[run] = run_metrics(
                f1,
                accuracy=acc,
                seed=rng.randrange(1 << 30),
                latency_ms=round(rng.uniform(1.0, 60.0), 2),
                trainable_parameters=rng.choice([1_000_000, 3_466_097, 149_000_000]),
            )
            roll = rng.random()
            if roll < 0.02:
                result.status, result.error = "failed", "TimeoutError: the grader's kernel died\n  at step 4"
                result.metrics = {}
            elif roll < 0.05:
                result.findings.append(
                    Finding(
                        "access-log",
                        "test-read-outside-final",
                        "critical",
                        "the test split was read 3 time(s) outside final_evaluation",
                        cell=7,
                        line=2,
                    )
                )
            elif roll < 0.10:
                result.findings.append(
                    Finding("static", "label-encoder-all", "minor", "LabelEncoder fitted on all labels", cell=4, line=1)
                )
            result.checks = [
                Check(f"{run}: val macro-F1", round(min(30.0, 30 * f1 / 0.18), 2), 30, f"val macro-F1 {f1:.4f}"),
                Check("fixed split", 10, 10, "fingerprints and prediction ids match the course"),
                Check("integrity", 20, 20, "no test-set use found"),
                Check("consistency", 5, 5, "printed and cited numbers match the run"),
            ]
            results.append(result)
            cited = f1 if rng.random() > 0.1 else round(f1 + 0.04, 4)
            zero = result.metrics[run]["val"]["zero_f1_classes"] if result.metrics else 70
            memo_notebook(
                root / "autograded" / student / week / f"{week}_homework.ipynb",
                default_memo(cited, acc, zero, memo_words),
            )
        write_outputs(root, week, results, names)
    (root / "students.json").write_text(json.dumps(names), encoding="utf-8")
    start = datetime(2026, 4, 15, 8, tzinfo=timezone.utc)  # week N is due N - 1 weeks after the first Wednesday
    deadlines = "\n".join(f'  week{w}: "{(start + timedelta(weeks=w - 1)).isoformat()}"' for w in range(1, weeks + 1))
    (root / "leaderboard.yaml").write_text(f"salt: synthetic-course-salt\ndeadlines:\n{deadlines}\n", encoding="utf-8")
    return root
