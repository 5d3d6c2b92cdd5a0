"""One site build's shared context (`Ctx`, what every page reads) and its state (`Build`, what it wrote
and drew, and how long each phase took): passed along as arguments, never kept in globals."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from leaderboard import exports, plots
from leaderboard.data import SiteConfig

PRIVATE_DIR = "instructor"
MARKER = ".leaderboard-site"
PLOT_KEYS = "plots/.inputs.json"  # figure -> hash of what it was drawn from (a rebuild skips unchanged ones)
FEEDBACK_TIMING = " (feedback, all processes)"


@dataclass
class Ctx:
    """What every page reads. Small enough to hand to a worker process as an argument."""

    course_dir: Path
    out: Path
    cfg: SiteConfig
    week_names: list[str]
    names: dict[str, str]
    pseudonym: dict[str, str]
    display: dict[str, str]
    tokens: dict[str, str]
    now: datetime
    show_names: bool
    bands: dict  # profile -> loaded bands file (the configured profile and "full")


@dataclass
class Build:
    """What one build (or one worker's share of it) wrote, which figures it drew from which inputs, and
    how long each phase took: the rebuild and the benchmark read these, so they live here, not in globals."""

    out: Path
    written: set[Path] = field(default_factory=set)  # stale files (not written this time) go at the end
    timings: dict[str, float] = field(default_factory=dict)
    old_plots: dict[str, str] = field(default_factory=dict)  # PLOT_KEYS of the previous build
    new_plots: dict[str, str] = field(default_factory=dict)

    def write(self, path: Path, text: str | bytes) -> Path:
        """A file of this build, rewritten only when its content changed."""
        self.written.add(path)
        return exports.write_if_changed(path, text)

    def plot(self, function: Callable, rel: str, *args) -> str:
        """Draw a figure, unless the same function drew this file from the same data last time
        (matplotlib is the slowest part of a rebuild)."""
        path = self.out / rel
        self.written.add(path)
        key = hashlib.sha256(repr((plots.VERSION, function.__name__, args)).encode("utf-8")).hexdigest()
        self.new_plots[rel] = key
        if self.old_plots.get(rel) != key or not path.is_file():
            function(path, *args)
        return rel

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start

    def add(self, other: Build) -> None:
        """A feedback job's files and timings, counted with this build's."""
        self.written |= other.written
        for name, seconds in other.timings.items():
            self.timings[name + FEEDBACK_TIMING] = self.timings.get(name + FEEDBACK_TIMING, 0.0) + seconds

    def remove_stale(self) -> None:
        """Files of a previous build that this build did not write (a student or week gone): removed."""
        for top in list(self.out.glob("*.html")) + [self.out / d for d in ("plots", PRIVATE_DIR, "exports")]:
            files = [top] if top.is_file() else [p for p in top.rglob("*") if p.is_file()] if top.is_dir() else []
            for path in files:
                if path not in self.written:
                    path.unlink()
            if top.is_dir():  # folders left empty (a student's feedback folder), deepest first
                for folder in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                    if not any(folder.iterdir()):
                        folder.rmdir()


def is_revealed(ctx: Ctx, week: str) -> bool:
    deadline = ctx.cfg.deadlines.get(week)
    return deadline is not None and ctx.now >= deadline


def deadline_text(ctx: Ctx, week: str) -> str:
    deadline = ctx.cfg.deadlines.get(week)
    return deadline.strftime("%Y-%m-%d %H:%M UTC") if deadline else "the deadline (not yet set in leaderboard.yaml)"
