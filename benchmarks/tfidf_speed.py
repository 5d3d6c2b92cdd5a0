"""Course TF-IDF recipe vs the fast one: fit and predict seconds, val accuracy and macro-F1.

Two data sets, one process, BLAS / OpenMP held to one thread so neither side gets extra cores:
  1. the full-size synthetic course (57k train / 6.4k val), loaded through the student API;
  2. the real CFPB sample's in-course rows, repeated narratives dropped, split 80/20 (seeded,
     stratified where a class has 2+ rows; `baselines.real_sample_split`).
Macro-F1 is over all 113 course labels (`course.metrics.macro_f1`). Seconds are wall-clock and CPU;
on a shared machine the CPU seconds are the steadier of the two.

    python benchmarks/tfidf_speed.py                 # ~7 minutes on 2 cores, nearly all the course recipe
    python benchmarks/tfidf_speed.py --quick         # 500 train / 500 val rows each: ~15 s
    python benchmarks/tfidf_speed.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import sklearn
from threadpoolctl import threadpool_limits

from course import api, metrics
from reference_solutions.baselines import aligned_proba, course_tfidf, fast_tfidf, real_sample_split

SHARED = Path(__file__).resolve().parents[2] / "shared"
NUM_LABELS = 113
QUICK = {"train": 500, "val": 500}  # rows kept per split with --quick


def measure(make_model, train_texts, train_labels, val_texts, val_labels) -> dict:
    """Fit on train, predict val probabilities, and score the argmax."""
    model = make_model()
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(train_texts, train_labels)
    fit = (time.perf_counter() - wall, time.process_time() - cpu)
    wall, cpu = time.perf_counter(), time.process_time()
    pred = aligned_proba(model, val_texts, NUM_LABELS).argmax(axis=1)
    predict = (time.perf_counter() - wall, time.process_time() - cpu)
    return {
        "fit_seconds": round(fit[0], 3),
        "predict_seconds": round(predict[0], 3),
        "total_seconds": round(fit[0] + predict[0], 3),
        "fit_cpu_seconds": round(fit[1], 3),
        "predict_cpu_seconds": round(predict[1], 3),
        "total_cpu_seconds": round(fit[1] + predict[1], 3),
        "val_accuracy": round(metrics.accuracy(val_labels, pred, NUM_LABELS), 4),
        "val_macro_f1": round(metrics.macro_f1(val_labels, pred, NUM_LABELS), 4),
        "val_zero_f1_classes": metrics.zero_f1_classes(val_labels, pred, NUM_LABELS),
        "classes_predicted": len(np.unique(pred)),
        "solver_iterations": int(np.max(model[-1].n_iter_)),  # lbfgs iterations / SGD epochs
    }


def subsample(texts: list[str], labels: np.ndarray, n: int, seed: int) -> tuple[list[str], np.ndarray]:
    if n >= len(texts):
        return texts, labels
    keep = np.sort(np.random.default_rng(seed).choice(len(texts), n, replace=False))
    return [texts[i] for i in keep], labels[keep]


def compare(name: str, train_texts, train_labels, val_texts, val_labels) -> dict:
    """Both recipes on one data set, printed as they finish, and the speed ratio of their totals."""
    print(
        f"\n{name}: {len(train_texts)} train / {len(val_texts)} val, {len(np.unique(train_labels))} classes in train",
        flush=True,
    )
    sides = {}
    for side, make_model in (("course", course_tfidf), ("fast", fast_tfidf)):
        sides[side] = measure(make_model, train_texts, train_labels, val_texts, val_labels)
        r = sides[side]
        print(
            f"  {side:6s}  fit {r['fit_seconds']:8.2f}s  predict {r['predict_seconds']:6.2f}s  "
            f"total {r['total_seconds']:8.2f}s (cpu {r['total_cpu_seconds']:8.2f}s)  "
            f"acc {r['val_accuracy']:.4f}  macro-F1 {r['val_macro_f1']:.4f}  "
            f"zero-F1 {r['val_zero_f1_classes']}  predicted {r['classes_predicted']} classes",
            flush=True,
        )
    speedup = sides["course"]["total_seconds"] / sides["fast"]["total_seconds"]
    cpu_speedup = sides["course"]["total_cpu_seconds"] / sides["fast"]["total_cpu_seconds"]
    gain = sides["fast"]["val_macro_f1"] - sides["course"]["val_macro_f1"]
    print(f"  fast is {speedup:.1f}x faster (cpu {cpu_speedup:.1f}x), macro-F1 {gain:+.4f}", flush=True)
    return {
        "train": len(train_texts),
        "val": len(val_texts),
        **sides,
        "speedup": round(speedup, 2),
        "cpu_speedup": round(cpu_speedup, 2),
        "macro_f1_gain": round(gain, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help=f"keep {QUICK['train']} train / {QUICK['val']} val rows per data set"
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the results here")
    parser.add_argument(
        "--sample",
        type=Path,
        default=SHARED / "data" / "cfpb_real_sample.csv",
        help="real CFPB sample csv (skipped if absent)",
    )
    parser.add_argument(
        "--labels",
        type=Path,
        default=SHARED / "course_contract" / "label_list.json",
        help="the real course's label list",
    )
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    with api.configured(course="synthetic", max_train_examples=None):
        train_ds, val_ds = api.load_course_data()
    data = {
        "synthetic": (
            list(train_ds["text"]),
            np.asarray(train_ds["label"]),
            list(val_ds["text"]),
            np.asarray(val_ds["label"]),
        )
    }
    if args.sample.is_file():
        labels = json.loads(args.labels.read_text(encoding="utf-8"))
        data["real_sample"] = real_sample_split(args.sample, labels, seed=args.seed)
    else:
        print(f"{args.sample} not found: real sample skipped")

    results = {}
    for name, (xt, yt, xv, yv) in data.items():
        if args.quick:
            xt, yt = subsample(xt, yt, QUICK["train"], args.seed)
            xv, yv = subsample(xv, yv, QUICK["val"], args.seed)
        with threadpool_limits(limits=1):
            results[name] = compare(name, xt, yt, xv, yv)

    report = {
        "quick": args.quick,
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "threads": 1,
            "sklearn": sklearn.__version__,
            "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        },  # a shared machine inflates wall time
        "results": results,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
