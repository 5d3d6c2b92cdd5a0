"""The course's source notebooks (assignments/source/week*/): nbgrader metadata, static analysis, rubrics,
and one end-to-end run per notebook, with solutions and hidden tests, in the grading sandbox.

The runs use the smoke profile (tiny models on the small synthetic course, CPU): each notebook takes
about half a minute to two minutes, the twelve together several minutes.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import nbformat
import pytest
import yaml

from grader.rubrics import TOP_KEYS
from grader.static import analyze_notebook, strip_magics

PROJECT = Path(__file__).resolve().parents[1]
SOURCE = PROJECT / "assignments" / "source"
RUBRICS = PROJECT / "assignments" / "rubrics"
NOTEBOOKS = [
    SOURCE / f"week{week}" / f"week{week}_{kind}.ipynb" for week in range(1, 7) for kind in ("lab", "homework")
]
RUBRIC_KEYS = TOP_KEYS  # every key the reader knows, each week's rubric uses
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"

params = pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])


def _week(path: Path) -> int:
    return int(re.match(r"week(\d+)_", path.name).group(1))


def _read(path: Path) -> nbformat.NotebookNode:
    assert path.is_file(), f"{path.relative_to(PROJECT)} is missing"
    return nbformat.read(path, as_version=4)


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _calls(source: str, name: str) -> list[ast.Call]:
    tree = ast.parse(strip_magics(source)[0])
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and (getattr(n.func, "id", None) == name or getattr(n.func, "attr", None) == name)
    ]


def _final_calls(nb) -> list[tuple[int, str | None]]:
    """(cell index, run name) of every final_evaluation call in the code cells."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for call in _calls(cell.source, "final_evaluation"):
            run = next(
                (kw.value for kw in call.keywords if kw.arg == "run"), call.args[1] if len(call.args) > 1 else None
            )
            found.append((i, run.value if isinstance(run, ast.Constant) else None))
    return found


def _rubric(week: int) -> dict:
    return yaml.safe_load((RUBRICS / f"week{week}.yaml").read_text(encoding="utf-8"))


def _run_name(path: Path) -> str:
    calls = _final_calls(_read(path))
    assert len(calls) == 1 and calls[0][1], f"{path.name}: expected one final_evaluation(..., run='...') call"
    return calls[0][1]


# ------------------------------------------------------------------ (a) nbgrader metadata


@params
def test_graded_cells_have_unique_ids_and_points(path):
    nb = _read(path)
    ids = [_meta(c).get("grade_id") for c in nb.cells if _meta(c)]
    assert all(ids), f"{path.name}: every nbgrader cell needs a grade_id"
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, f"{path.name}: duplicate grade_ids {duplicates}"
    graded = [c for c in nb.cells if _meta(c).get("grade")]
    assert graded, f"{path.name}: no graded cells"
    for cell in graded:
        meta = _meta(cell)
        assert isinstance(meta.get("points"), (int, float)) and meta["points"] > 0, (
            f"{path.name}: graded cell {meta['grade_id']!r} needs points > 0"
        )
        if cell.cell_type == "code":
            assert meta.get("locked"), f"{path.name}: test cell {meta['grade_id']!r} must be locked"
            assert not meta.get("solution"), f"{path.name}: test cell {meta['grade_id']!r} must not be a solution cell"


def _public(source: str) -> str:
    """A test cell as released: hidden tests removed."""
    return re.sub(rf"{re.escape(HIDDEN_BEGIN)}.*?{re.escape(HIDDEN_END)}\n?", "", source, flags=re.DOTALL)


@params
def test_test_cells_leave_no_value(path):
    # nbgrader reads a number left as a test cell's value as partial credit: a test cell must end in a
    # statement, or in a call to a grader check (they all return None).
    for cell in _read(path).cells:
        if cell.cell_type != "code" or not _meta(cell).get("grade"):
            continue
        for source in (cell.source, _public(cell.source)):
            body = ast.parse(strip_magics(source)[0]).body
            last = body[-1] if body else None
            if isinstance(last, ast.Expr):
                func = last.value.func if isinstance(last.value, ast.Call) else None
                name = getattr(func, "id", None) or getattr(func, "attr", None)
                assert name and name.startswith("check_"), (
                    f"{path.name}: test cell {_meta(cell)['grade_id']!r} ends in an expression; nbgrader would "
                    f"read its value as the score"
                )


def test_checks_return_none():
    import inspect

    from grader import checks

    for name, fn in inspect.getmembers(checks, inspect.isfunction):
        if name.startswith("check_") and fn.__module__ == checks.__name__:
            assert inspect.signature(fn).return_annotation in (None, "None"), f"grader.checks.{name} must return None"


@params
def test_solution_and_hidden_regions_are_well_formed(path):
    nb = _read(path)
    solutions = 0
    for cell in nb.cells:
        meta, text = _meta(cell), cell.source
        gid = meta.get("grade_id")
        assert text.count(BEGIN) == text.count(END), f"{path.name}: unbalanced solution markers in {gid!r}"
        assert text.count(HIDDEN_BEGIN) == text.count(HIDDEN_END), f"{path.name}: unbalanced hidden markers in {gid!r}"
        if BEGIN in text:
            assert meta.get("solution"), f"{path.name}: {gid!r} has a solution region but is not a solution cell"
            solutions += cell.cell_type == "code"
        if HIDDEN_BEGIN in text:
            assert meta.get("grade") and cell.cell_type == "code", (
                f"{path.name}: hidden tests outside a test cell ({gid!r})"
            )
    assert solutions, f"{path.name}: no student code (no solution region in a code cell)"


@params
def test_one_final_evaluation_at_the_end_followed_by_its_checks(path):
    nb = _read(path)
    calls = _final_calls(nb)
    assert len(calls) == 1, f"{path.name}: expected exactly one final_evaluation call, found {len(calls)}"
    index, run = calls[0]
    week = _week(path)
    assert run and re.fullmatch(rf"week{week}_[a-z0-9_]+", run), (
        f"{path.name}: run name {run!r} is not week{week}_<name>"
    )
    meta = _meta(nb.cells[index])
    assert meta.get("locked") and not meta.get("grade") and not meta.get("solution"), (
        f"{path.name}: the final_evaluation cell must be locked and neither graded nor a solution cell"
    )
    later = [(i, c) for i, c in enumerate(nb.cells) if i > index and c.cell_type == "code"]
    assert later and all(_meta(c).get("grade") for _, c in later), (
        f"{path.name}: only test cells may follow the final evaluation"
    )
    checks = later[0][1].source
    assert f'check_run("{run}")' in checks, f"{path.name}: the test cell after the final evaluation must call check_run"
    assert f'check_val_above("{run}", 0.01)' in checks.split(HIDDEN_BEGIN)[0], (
        f"{path.name}: the public checks must include check_val_above(run, 0.01)"
    )
    assert HIDDEN_BEGIN in checks, f"{path.name}: the final test cell needs hidden checks"


@params
def test_memo_cell_with_the_rubric_sections(path):
    nb = _read(path)
    week = _week(path)
    memos = [i for i, c in enumerate(nb.cells) if _meta(c).get("grade") and _meta(c).get("solution")]
    assert len(memos) == 1, f"{path.name}: expected one manually graded memo cell, found {len(memos)}"
    memo = nb.cells[memos[0]]
    assert memo.cell_type == "markdown" and _meta(memo).get("points") == 100, (
        f"{path.name}: the memo is markdown, 100 points"
    )
    assert memo.source.strip().startswith(BEGIN) and memo.source.strip().endswith(END), (
        f"{path.name}: the memo's content is one solution region"
    )
    above = nb.cells[memos[0] - 1]
    assert above.cell_type == "markdown" and _meta(above).get("locked"), (
        f"{path.name}: locked instructions above the memo"
    )
    rubric = _rubric(week)
    for criterion in rubric["criteria"]:
        assert f"**{criterion['name']}** ({criterion['points']})" in above.source, (
            f"{path.name}: the memo instructions should list {criterion['name']!r} ({criterion['points']} points)"
        )
        assert f"### {criterion['name']}" in memo.source, (
            f"{path.name}: the memo lacks the heading {criterion['name']!r}"
        )


@pytest.mark.parametrize(
    "path",
    [p for p in NOTEBOOKS if p.name != "week1_lab.ipynb"],
    ids=[p.stem for p in NOTEBOOKS if p.name != "week1_lab.ipynb"],
)
def test_memo_instructions_name_the_rubric_file(path):
    # week1_lab.ipynb predates the rubric files; its instructions list the sections but not the file.
    nb = _read(path)
    memo = next(i for i, c in enumerate(nb.cells) if _meta(c).get("grade") and _meta(c).get("solution"))
    assert f"assignments/rubrics/week{_week(path)}.yaml" in nb.cells[memo - 1].source


# ------------------------------------------------------------------ rubrics


@pytest.mark.parametrize("week", range(1, 7))
def test_rubric_schema(week):
    rubric = _rubric(week)
    assert set(rubric) == RUBRIC_KEYS, (
        f"week{week}.yaml keys differ from the schema: {sorted(set(rubric) ^ RUBRIC_KEYS)}"
    )
    assert rubric["week"] == f"week{week}"
    assert sum(c["points"] for c in rubric["criteria"]) == rubric["total_points"] == 100
    assert rubric["required_sections"] == [c["name"] for c in rubric["criteria"]]
    assert rubric["length"]["min_words"] < rubric["length"]["max_words"]
    evidence = {e["id"]: e for e in rubric["required_evidence"]}
    assert evidence, "every week names its required evidence"
    for criterion in rubric["criteria"]:
        band = rubric["bands"][criterion["points"]]
        assert band["excellent"][1] == criterion["points"] and band["needs_improvement"][0] == 0
        assert band["needs_improvement"][1] + 1 == band["satisfactory"][0]
        assert band["satisfactory"][1] + 1 == band["excellent"][0]
        assert criterion["excellent"], f"{criterion['name']}: what Excellent requires"
        assert all(evidence[i]["criterion"] == criterion["name"] for i in criterion["evidence"])
    for item in evidence.values():
        assert item["kind"] in ("number", "mention", "table")
        for pattern in item["patterns"]:
            re.compile(pattern)
    for name in rubric["notebooks"]:
        assert (SOURCE / f"week{week}" / name).is_file(), f"week{week}.yaml names a missing notebook {name}"


# ------------------------------------------------------------------ (b) static analysis


@params
def test_static_analysis_finds_nothing(path):
    findings = analyze_notebook(path)
    assert not findings, f"{path.name}:\n" + "\n".join(
        f"  [{f.rule}] cell {f.cell} line {f.line}: {f.message}" for f in findings
    )


# ------------------------------------------------------------------ (c) end to end in the sandbox


@params
def test_notebook_runs_with_solutions_and_hidden_tests(path, tmp_path):
    from course.catalog import cached_course
    from grader.artifacts import check_record
    from notebooks.sandbox import execute_notebook

    run = _run_name(path)
    result = execute_notebook(
        path,
        tmp_path / "run",
        env={"COURSE_MODE": "self-check", "COURSE_RUNS_DIR": "runs", "COURSE_CACHE": os.environ["COURSE_CACHE"]},
        timeout_s=600,
    )
    assert result.status == "ok", f"{path.name}: {result.status}: {result.message}"
    record = tmp_path / "run" / "runs" / f"{run}.json"
    assert record.is_file(), f"{path.name} wrote no run record {record.name}"
    check = check_record(record, cached_course("synthetic-small", None, None))
    assert not check.findings, f"{path.name}: " + "; ".join(f"[{f.rule}] {f.message}" for f in check.findings)
