"""Figures written by the build: matplotlib (Agg) for the few class-wide figures, and a small inline SVG
for the per-class F1 chart of every feedback page (1,800 matplotlib figures would take minutes; the
inline chart is numbers only and costs microseconds).

No figure carries student-provided text: points are unlabelled, reference points carry the names
of reference pipelines.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

STUDENT = "#3465a4"
REFERENCE = "#cc0000"
DPI = 80


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    _plt().close(fig)
    return path


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(latency, f1) points not dominated (lower latency and higher F1 is better), by latency."""
    front, best = [], float("-inf")
    for latency, f1 in sorted(points, key=lambda p: (p[0], -p[1])):
        if f1 > best:
            front.append((latency, f1))
            best = f1
    return front


def pareto_plot(path: Path, title: str, students: list[tuple[float, float]],
                references: list[tuple[str, float, float | None]]) -> Path:
    """Macro-F1 against latency (ms per example, log scale). Students: (latency, f1). References:
    (name, f1, latency or None); one without a latency is drawn as a dashed horizontal line."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    if students:
        xs, ys = zip(*students)
        ax.scatter(xs, ys, s=14, alpha=0.6, color=STUDENT, label=f"students ({len(students)})")
        front = pareto_front(students)
        ax.plot([p[0] for p in front], [p[1] for p in front], color=STUDENT, lw=1, drawstyle="steps-post",
                label="students' Pareto front")
    for i, (name, f1, latency) in enumerate(references):
        if f1 is None:
            continue
        if latency is None:
            ax.axhline(f1, color=REFERENCE, lw=0.8, ls="--", alpha=0.7)
            ax.annotate(name, xy=(0.01, f1), xycoords=("axes fraction", "data"), fontsize=7, color=REFERENCE,
                        va="bottom")
        else:
            ax.scatter([latency], [f1], marker="*", s=120, color=REFERENCE, zorder=3,
                       label="reference" if i == 0 else None)
            ax.annotate(name, xy=(latency, f1), xytext=(4, 4), textcoords="offset points", fontsize=7, color=REFERENCE)
    if students or any(r[2] is not None for r in references):
        ax.set_xscale("log")
    else:
        ax.text(0.5, 0.5, "no latency measured yet", ha="center", va="center", transform=ax.transAxes, color="grey")
    ax.set_xlabel("latency (ms per example, log scale; lower is better)")
    ax.set_ylabel("val macro-F1")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if students:
        ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def distribution_plot(path: Path, title: str, values: list[float], references: list[tuple[str, float]],
                      xlabel: str = "val macro-F1") -> Path:
    """Histogram of one week's values with reference lines."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 2.8))
    if values:
        ax.hist(values, bins=min(30, max(5, len(values) // 5)), color=STUDENT, alpha=0.8)
    else:
        ax.text(0.5, 0.5, "no ranked submissions", ha="center", va="center", transform=ax.transAxes, color="grey")
    for name, value in references:
        if value is not None:
            ax.axvline(value, color=REFERENCE, lw=1, ls="--")
            ax.annotate(name, xy=(value, 0.95), xycoords=("data", "axes fraction"), rotation=90, fontsize=7,
                        color=REFERENCE, ha="right", va="top")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("students")
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def season_plot(path: Path, weeks: list[str], values: list[list[float]]) -> Path:
    """One box per week: the distribution of counted val macro-F1 across the season."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    shown = [(w, v) for w, v in zip(weeks, values) if v]
    if shown:
        ax.boxplot([v for _, v in shown], tick_labels=[w for w, _ in shown], showfliers=True)
    else:
        ax.text(0.5, 0.5, "no ranked submissions", ha="center", va="center", transform=ax.transAxes, color="grey")
    ax.set_ylabel("val macro-F1 (counted run)")
    ax.set_title("Score distributions per week", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def grades_plot(path: Path, weeks: list[str], fractions: list[list[float]]) -> Path:
    """Autograded score as a fraction of the maximum, one histogram per week (instructor overview)."""
    plt = _plt()
    n = max(1, len(weeks))
    fig, axes = plt.subplots(1, n, figsize=(min(2.4 * n, 14), 2.4), sharey=True, squeeze=False)
    for ax, week, values in zip(axes[0], weeks, fractions):
        ax.hist(values, bins=10, range=(0, 1), color=STUDENT)
        ax.set_title(f"{week} (n={len(values)})", fontsize=9)
        ax.set_xlabel("score / max", fontsize=8)
    axes[0][0].set_ylabel("students")
    return _save(fig, path)


def per_class_svg(student: list[float], reference: list[float] | None, width: int = 680, height: int = 180) -> dict:
    """Numbers for an inline SVG: classes ordered by the reference's F1 (else the student's), reference as
    grey bars, the student as a blue step line. Returns path strings (numbers only) for the template."""
    n = len(student)
    if n == 0:
        return {}
    order = sorted(range(n), key=lambda c: -(reference[c] if reference and c < len(reference) else student[c]))
    pad_left, pad_bottom = 30, 18
    plot_w, plot_h = width - pad_left - 4, height - pad_bottom - 6
    step = plot_w / n
    top = 6

    def y(v: float) -> float:
        return top + plot_h * (1 - max(0.0, min(1.0, v)))

    bars = []
    if reference:
        for i, c in enumerate(order):
            v = reference[c] if c < len(reference) else 0.0
            if v > 0:
                x = pad_left + i * step
                bars.append(f"M{x:.1f} {top + plot_h:.1f}V{y(v):.1f}h{max(step - 0.6, 0.4):.2f}V{top + plot_h:.1f}z")
    line = []
    for i, c in enumerate(order):
        x0, x1, yy = pad_left + i * step, pad_left + (i + 1) * step, y(student[c])
        line.append(f"{'M' if i == 0 else 'L'}{x0:.1f} {yy:.1f}H{x1:.1f}")
    return {"width": width, "height": height, "bars": "".join(bars), "line": "".join(line),
            "left": pad_left, "top": top, "bottom": top + plot_h, "right": width - 4,
            "ticks": [(f"{v:.1f}", round(y(v), 1)) for v in (0.0, 0.5, 1.0)], "n": n}
