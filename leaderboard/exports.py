"""Exports: the public leaderboard CSV, Moodle's grading worksheet, Gradescope results with a leaderboard.

- `leaderboard.csv` (public): week, board, rank and the board's columns, pseudonyms only.
- `moodle-<week>.csv` (instructor): Moodle's grading-worksheet columns (Identifier "Participant <id>",
  Full name, Grade, Maximum Grade, Feedback comments); the grade is the autograded score, the comment
  says integrity and summarises the memo observations (memo points stay with the human grader).
- `gradescope/<week>/<student>/results.json` (instructor): the grader's results.json plus Gradescope's
  `leaderboard` field [{"name", "value", "order"}] from the counted run's val metrics and the
  pseudonym; a submission under review gets only a status entry, never numbers.

`write(path, text)` does the writing: `course.files.atomic_write` by default; the site passes one
that skips unchanged files. CSV cells are escaped by `course.files.csv_text` (a cell a spreadsheet
would read as a formula is prefixed with "'").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from course.files import atomic_write, csv_text
from leaderboard.boards import Row

Writer = Callable[[Path, str], Path]


def write_if_changed(path: Path, payload: str | bytes) -> Path:
    """`atomic_write`, skipped when the file already holds exactly this content: a rebuild of the site
    rewrites only what changed (overwriting thousands of unchanged files costs more than comparing)."""
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return path
    except FileNotFoundError:
        pass
    return atomic_write(path, data)


def write_csv(path: Path, header: list[str], rows: list[list], write: Writer = atomic_write) -> Path:
    return write(path, csv_text(header, rows))


LEADERBOARD_COLUMNS = [
    "week",
    "board",
    "rank",
    "name",
    "kind",
    "status",
    "run",
    "macro_f1",
    "accuracy",
    "zero_f1_classes",
    "tail_f1",
    "latency_ms",
    "trainable_parameters",
    "band_distance",
    "certificate",
]


def leaderboard_csv(path: Path, boards: list[tuple[str, str, list[Row]]], write: Writer = atomic_write) -> Path:
    """boards: (week, "public" | "private", rows). Private boards are only passed once revealed."""
    rows = []
    for week, board, board_rows in boards:
        for row in board_rows:
            data = row.as_csv()
            rows.append([week, board] + [data[c] for c in LEADERBOARD_COLUMNS[2:]])
    return write_csv(path, LEADERBOARD_COLUMNS, rows, write)


def moodle_csv(path: Path, entries: list[dict], write: Writer = atomic_write) -> Path:
    """entries: {student, name, score, max_score, comment}."""
    return write_csv(
        path,
        ["Identifier", "Full name", "Grade", "Maximum Grade", "Feedback comments"],
        [
            [
                f"Participant {e['student']}",
                e.get("name") or e["student"],
                f"{e['score']:g}",
                f"{e['max_score']:g}",
                e.get("comment", ""),
            ]
            for e in entries
        ],
        write,
    )


def gradescope_leaderboard(row: Row | None, status: str) -> list[dict]:
    """Gradescope's leaderboard entries for one student (val metrics of the counted run)."""
    if row is None or row.macro_f1 is None:
        return [{"name": "Pseudonym", "value": row.name if row else ""}, {"name": "Status", "value": status}]
    entries = [
        {"name": "Pseudonym", "value": row.name},
        {"name": "Val macro-F1", "value": round(row.macro_f1, 4), "order": "desc"},
    ]
    if row.accuracy is not None:
        entries.append({"name": "Val accuracy", "value": round(row.accuracy, 4), "order": "desc"})
    if row.zero_f1 is not None:
        entries.append({"name": "Zero-F1 classes", "value": row.zero_f1, "order": "asc"})
    if row.tail_f1 is not None:
        entries.append({"name": "Tail-tier F1", "value": round(row.tail_f1, 4), "order": "desc"})
    if row.latency_ms is not None:
        entries.append({"name": "Latency (ms/example)", "value": round(row.latency_ms, 3), "order": "asc"})
    return entries


def gradescope_results(
    path: Path, raw: dict, leaderboard: list[dict], write: Writer = atomic_write, text: str = ""
) -> Path:
    """The grader's results plus `leaderboard`. When `text` (the file as read) is given, the field is
    appended to it rather than re-encoding the whole object (the per-class arrays make that slow)."""
    body = text.rstrip()
    if raw and "leaderboard" not in raw and body.endswith("}") and body[:-1].rstrip() not in ("", "{"):
        return write(path, body[:-1].rstrip() + ',\n "leaderboard": ' + json.dumps(leaderboard) + "\n}")
    data = dict(raw)
    data["leaderboard"] = leaderboard
    return write(path, json.dumps(data, separators=(",", ":")))
