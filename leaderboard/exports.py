"""Exports: the public leaderboard CSV, Moodle's grading worksheet, Gradescope results with a leaderboard.

- `leaderboard.csv` (public): week, board, rank and the board's columns, pseudonyms only.
- `moodle-<week>.csv` (instructor): Moodle's grading-worksheet columns (Identifier "Participant <id>",
  Full name, Grade, Maximum Grade, Feedback comments); the grade is the autograded score, the comment
  says integrity and summarises the memo observations (memo points stay with the human grader).
- `gradescope/<week>/<student>/results.json` (instructor): the grader's results.json plus Gradescope's
  `leaderboard` field [{"name", "value", "order"}] from the counted run's val metrics and the
  pseudonym; a submission under review gets only a status entry, never numbers.

`write(path, text)` does the writing (the site passes one that skips unchanged files).
Every cell a spreadsheet could read as a formula (leading =, +, -, @, tab, CR) is prefixed with "'".
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from leaderboard.boards import Row

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    text = "" if value is None else str(value)
    if text and text[0] in FORMULA_START:
        try:
            float(text)  # a negative number is a number, not a formula
        except ValueError:
            return "'" + text
    return text


def plain_write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_csv(path: Path, header: list[str], rows: list[list], write=plain_write) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[_cell(v) for v in row] for row in rows])
    return write(path, buffer.getvalue())


LEADERBOARD_COLUMNS = ["week", "board", "rank", "name", "kind", "status", "run", "macro_f1", "accuracy",
                       "zero_f1_classes", "tail_f1", "latency_ms", "trainable_parameters", "band_distance"]


def leaderboard_csv(path: Path, boards: list[tuple[str, str, list[Row]]], write=plain_write) -> Path:
    """boards: (week, "public" | "private", rows). Private boards are only passed once revealed."""
    rows = []
    for week, board, board_rows in boards:
        for row in board_rows:
            data = row.as_csv()
            rows.append([week, board] + [data[c] for c in LEADERBOARD_COLUMNS[2:]])
    return write_csv(path, LEADERBOARD_COLUMNS, rows, write)


def moodle_csv(path: Path, entries: list[dict], write=plain_write) -> Path:
    """entries: {student, name, score, max_score, comment}."""
    return write_csv(path, ["Identifier", "Full name", "Grade", "Maximum Grade", "Feedback comments"],
                     [[f"Participant {e['student']}", e.get("name") or e["student"], f"{e['score']:g}",
                       f"{e['max_score']:g}", e.get("comment", "")] for e in entries], write)


def gradescope_leaderboard(row: Row | None, status: str) -> list[dict]:
    """Gradescope's leaderboard entries for one student (val metrics of the counted run)."""
    if row is None or row.macro_f1 is None:
        return [{"name": "Pseudonym", "value": row.name if row else ""}, {"name": "Status", "value": status}]
    entries = [{"name": "Pseudonym", "value": row.name},
               {"name": "Val macro-F1", "value": round(row.macro_f1, 4), "order": "desc"}]
    if row.accuracy is not None:
        entries.append({"name": "Val accuracy", "value": round(row.accuracy, 4), "order": "desc"})
    if row.zero_f1 is not None:
        entries.append({"name": "Zero-F1 classes", "value": row.zero_f1, "order": "asc"})
    if row.tail_f1 is not None:
        entries.append({"name": "Tail-tier F1", "value": round(row.tail_f1, 4), "order": "desc"})
    if row.latency_ms is not None:
        entries.append({"name": "Latency (ms/example)", "value": round(row.latency_ms, 3), "order": "asc"})
    return entries


def gradescope_results(path: Path, raw: dict, leaderboard: list[dict], write=plain_write, text: str = "") -> Path:
    """The grader's results plus `leaderboard`. When `text` (the file as read) is given, the field is
    appended to it rather than re-encoding the whole object (the per-class arrays make that slow)."""
    body = text.rstrip()
    if raw and "leaderboard" not in raw and body.endswith("}") and body[:-1].rstrip() not in ("", "{"):
        return write(path, body[:-1].rstrip() + ',\n "leaderboard": ' + json.dumps(leaderboard) + "\n}")
    data = dict(raw)
    data["leaderboard"] = leaderboard
    return write(path, json.dumps(data, separators=(",", ":")))
