"""Figures written by the build: matplotlib (Agg) for the few class-wide figures, and a small inline SVG
for the per-class F1 chart of every feedback page (1,800 matplotlib figures would take minutes; the
inline chart is numbers only and costs microseconds).

No figure carries student-provided text: points are unlabelled, reference points carry the names
of reference pipelines. Figures have no titles (the page's heading and the image's alt text say what
they show): titles, minor log ticks and bbox_inches="tight" were most of a figure's drawing time.
"""

from __future__ import annotations

import io
import os
from functools import lru_cache
from pathlib import Path

from course.metrics import pareto_front
from leaderboard.exports import write_if_changed

os.environ.setdefault("MPLBACKEND", "Agg")

VERSION = 2  # bump when a figure's drawing changes: the site redraws figures whose inputs or VERSION changed
STUDENT = "#3465a4"
DPI = 80


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path, margins: dict | None = None) -> Path:
    """Fixed margins rather than bbox_inches="tight" (which draws every figure twice). The file is only
    rewritten when its bytes change (no metadata with dates: the same data gives the same file)."""
    fig.subplots_adjust(**(margins or {"left": 0.1, "right": 0.97, "bottom": 0.17, "top": 0.9}))
    buffer = io.BytesIO()
    fig.savefig(
        buffer,
        format=path.suffix.lstrip(".") or "png",
        dpi=DPI,
        metadata={"Software": None} if path.suffix == ".png" else {"Creator": None, "Date": None},
    )
    _plt().close(fig)
    return write_if_changed(path, buffer.getvalue())


def student_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(latency, f1) points no other point beats (lower latency, higher F1), by latency; identical
    points are drawn once."""
    front = pareto_front(points, maximise=[False, True]) if points else []
    return sorted({points[i] for i in front})


LEGEND_RIGHT = {"left": 0.08, "right": 0.66, "bottom": 0.13, "top": 0.92}
REF_STYLES = [
    ("#cc0000", "--"),
    ("#e69500", "-."),
    ("#7a1fa2", ":"),
    ("#2e7d32", "--"),
    ("#5d4037", "-."),
    ("#c2185b", ":"),
    ("#00838f", "--"),
    ("#616161", "-."),
]


def pareto_plot(
    path: Path, students: list[tuple[float, float]], references: list[tuple[str, float, float | None]]
) -> Path:
    """Macro-F1 against latency (ms per example, log scale). Students: (latency, f1). References:
    (name, f1, latency or None): a star where a latency is known, else a horizontal line; all named in
    the legend."""
    plt = _plt()
    from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullLocator

    fig, ax = plt.subplots(figsize=(7.2, 4.0))
    if students:
        xs, ys = zip(*students)
        ax.scatter(xs, ys, s=14, alpha=0.6, color=STUDENT, label=f"students ({len(students)})")
        front = student_front(students)
        ax.plot(
            [p[0] for p in front],
            [p[1] for p in front],
            color=STUDENT,
            lw=1,
            drawstyle="steps-post",
            label="students' Pareto front",
        )
    shown = [r for r in references if r[1] is not None]
    for (name, f1, latency), (colour, style) in zip(shown, REF_STYLES * (len(shown) // len(REF_STYLES) + 1)):
        if latency is None:
            ax.axhline(f1, color=colour, lw=1, ls=style, label=f"{name} (no latency)")
        else:
            ax.scatter([latency], [f1], marker="*", s=140, color=colour, zorder=3, label=name)
    if students or any(r[2] is not None for r in shown):
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator([0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000, 3000, 10000]))
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.xaxis.set_minor_locator(NullLocator())  # minor ticks on a log axis cost a fifth of the figure
    else:
        ax.text(0.5, 0.5, "no latency measured yet", ha="center", va="center", transform=ax.transAxes, color="grey")
    ax.set_xlabel("latency (ms per example, log scale; lower is better)")
    ax.set_ylabel("val macro-F1")
    ax.grid(alpha=0.3)
    if students or shown:
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return _save(fig, path, LEGEND_RIGHT)


def distribution_plot(
    path: Path, values: list[float], references: list[tuple[str, float]], xlabel: str = "val macro-F1"
) -> Path:
    """Histogram of one week's values with reference lines (named in the legend)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.2, 2.8))
    if values:
        ax.hist(values, bins=min(30, max(5, len(values) // 5)), color=STUDENT, alpha=0.8, label="students")
    else:
        ax.text(0.5, 0.5, "no ranked submissions", ha="center", va="center", transform=ax.transAxes, color="grey")
    shown = [r for r in references if r[1] is not None]
    for (name, value), (colour, style) in zip(shown, REF_STYLES * (len(shown) // len(REF_STYLES) + 1)):
        ax.axvline(value, color=colour, lw=1.2, ls=style, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("students")
    if values or shown:
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return _save(fig, path, {**LEGEND_RIGHT, "bottom": 0.2})


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
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def grades_plot(path: Path, weeks: list[str], fractions: list[list[float]]) -> Path:
    """Autograded score as a fraction of the maximum: one box per week (instructor overview)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.2, 3.0))
    shown = [(f"{w} (n={len(v)})", v) for w, v in zip(weeks, fractions) if v]
    if shown:
        ax.boxplot([v for _, v in shown], tick_labels=[w for w, _ in shown], showfliers=True)
    else:
        ax.text(0.5, 0.5, "nothing graded yet", ha="center", va="center", transform=ax.transAxes, color="grey")
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("autograded score / maximum")
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


@lru_cache(maxsize=64)
def _reference_layout(reference: tuple[float, ...] | None, n: int, width: int, height: int) -> tuple:
    """Class order and the reference's bars: shared by every page with the same reference."""
    pad_left, pad_bottom, top = 30, 18, 6
    plot_w, plot_h = width - pad_left - 4, height - pad_bottom - top
    step = plot_w / n
    bottom = top + plot_h
    if reference:
        order = sorted(range(n), key=lambda c: -(reference[c] if c < len(reference) else 0.0))
        bars = "".join(
            f"M{pad_left + i * step:.1f} {bottom:.1f}V{top + plot_h * (1 - min(1.0, reference[c])):.1f}"
            f"h{max(step - 0.6, 0.4):.2f}V{bottom:.1f}z"
            for i, c in enumerate(order)
            if c < len(reference) and reference[c] > 0
        )
    else:
        order, bars = None, ""
    xs = [f"{pad_left + i * step:.1f}" for i in range(n + 1)]
    return order, bars, xs, pad_left, top, bottom, plot_h


def per_class_svg(student: list[float], reference: list[float] | None, width: int = 680, height: int = 180) -> dict:
    """Numbers for an inline SVG: classes ordered by the reference's F1 (else the student's), reference as
    grey bars, the student as a blue step line. Returns path strings (numbers only) for the template."""
    n = len(student)
    if n == 0:
        return {}
    order, bars, xs, left, top, bottom, plot_h = _reference_layout(
        tuple(reference) if reference else None, n, width, height
    )
    if order is None:
        order = sorted(range(n), key=lambda c: -student[c])
    ys = [f"{top + plot_h * (1 - max(0.0, min(1.0, student[c]))):.1f}" for c in order]
    line = "M" + "".join(f"{xs[i]} {ys[i]}H{xs[i + 1]}" + ("L" if i < n - 1 else "") for i in range(n))
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "line": line,
        "left": left,
        "top": top,
        "bottom": bottom,
        "right": width - 4,
        "n": n,
        "ticks": [(f"{v:.1f}", round(top + plot_h * (1 - v), 1)) for v in (0.0, 0.5, 1.0)],
    }
