"""The semester gradebook against a hand computation, the drop rules, the policy file, CSV escaping.

The course folders here are written the way `course grade` and the instructor leave them (results.json,
rubric forms, reviews, course.yaml, scores.csv), without grading anything: these tests take seconds.
"""

import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from grader import gradebook
from grader.course_policy import PolicyError, load_policy
from grader.grade import write_outputs
from grader.late import write_timestamp
from grader.results import Check, StudentResult
from grader.rubrics import load_rubric

EVIL = '=HYPERLINK("http://x","y")'
DEADLINE = "2026-04-15T08:00:00Z"


def write_week(root: Path, week: str, student: str, code: float, memo: float | None, submitted: str | None = None):
    """A graded week of one student: code points out of 100, and a rubric form worth `memo` of 100."""
    result = StudentResult(student, checks=[Check("code", code, 100.0, "")])
    path = root / "results" / week / student / "results.json"
    result.write(path)
    folder = root / "submitted" / student / week
    folder.mkdir(parents=True, exist_ok=True)
    if submitted:
        write_timestamp(folder, datetime.fromisoformat(submitted))
    if memo is not None:
        rubric = load_rubric(int(week.removeprefix("week")))
        criteria = {c.name: {"max": c.points, "points": c.points * memo / 100} for c in rubric.criteria}
        form = root / "rubric" / week / f"{student}.yaml"
        form.parent.mkdir(parents=True, exist_ok=True)
        form.write_text(yaml.safe_dump({"student": student, "week": week, "criteria": criteria}))


@pytest.fixture
def course(tmp_path):
    """Ada: six weeks, week 1 a day late; Bob (a formula for a name): week 1 only, no other marks."""
    root = tmp_path / "course"
    ada = [(80, 90), (60, 70), (100, 100), (90, 80), (70, 60), (50, 40)]
    for n, (code, memo) in enumerate(ada, 1):
        write_week(root, f"week{n}", "ada", code, memo, "2026-04-16T08:10:00+00:00" if n == 1 else None)
    write_week(root, "week1", "bob", 50, 50, "2026-04-15T08:14:00+00:00")
    (root / "course.yaml").write_text(f'deadlines: {{week1: "{DEADLINE}"}}\n')
    (root / "scores.csv").write_text(
        "student,quiz1,quiz2,quiz3,quiz4,quiz5,final,participation\nada,80,90,70,100,,75,100\n"
    )
    (root / "students.json").write_text(json.dumps({"ada": "Ada Lovelace", "bob": EVIL}))
    return root


def test_best_five_of_six():
    assert gradebook.best_mean([79.2, 68, 100, 82, 62, 42], 5) == pytest.approx(78.24)
    assert gradebook.best_mean([50, 0, 0, 0, 0, 0], 5) == 10
    assert gradebook.best_mean([], 5) == 0


def test_gradebook_matches_a_hand_computation(course):
    policy = load_policy(course)
    marks = {m.student: m for m in gradebook.compute(course, policy)}
    ada = marks["ada"]
    # week 1, 1 day late (08:10 the next day is 1 day - 5 minutes after the grace period ends... plus one):
    # 24 h 10 min after the deadline = 23 h 55 min after its 15-minute grace: one started day, -10%.
    assert [w.late_days for w in ada.weeks] == [1, 0, 0, 0, 0, 0]
    # week = 0.8 * memo + 0.2 * code; week 1: 0.8 * 81 + 0.2 * 72 = 79.2
    assert [w.grade for w in ada.weeks] == pytest.approx([79.2, 68, 100, 82, 62, 42])
    assert [w.dropped for w in ada.weeks] == [False] * 5 + [True]
    assert ada.homework == pytest.approx(78.24)
    assert ada.components == pytest.approx({"quizzes": 85.0, "final": 75.0, "participation": 100.0})
    assert ada.final == pytest.approx(round(0.6 * 78.24 + 0.15 * 85 + 0.2 * 75 + 0.05 * 100, 2))  # 79.69
    bob = marks["bob"]
    assert bob.weeks[0].late_days == 0 and bob.weeks[0].grade == 50  # 14 minutes after: within the grace
    assert bob.homework == 10 and bob.final == 6.0
    assert "week2: memo not graded" not in " ".join(bob.pending)  # a week never submitted is not pending

    out = gradebook.write_gradebook(course, list(marks.values()), policy)
    moodle = list(csv.reader(io.StringIO((out / "moodle.csv").read_text())))
    assert moodle[0] == ["Identifier", "Full name", "Grade", "Maximum Grade", "Feedback comments"]
    assert moodle[1][:4] == ["Participant ada", "Ada Lovelace", "79.69", "100"]
    assert moodle[2][:4] == ["Participant bob", "'" + EVIL, "6.00", "100"]
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO((out / "breakdown.csv").read_text()))}
    assert rows["ada"]["week1_code"] == "72" and rows["ada"]["week1_memo"] == "90"
    assert rows["ada"]["week1_late_days"] == "1" and rows["ada"]["week6_dropped"] == "yes"
    assert rows["ada"]["homework"] == "78.24" and rows["ada"]["quizzes"] == "85.00"
    assert rows["bob"]["name"] == "'" + EVIL and rows["bob"]["final"] == "6.00"
    markdown = (out / "breakdown.md").read_text()
    assert "## Ada Lovelace (ada): 79.69" in markdown and "1 day(s), −10%" in markdown


def test_weights_and_drop_rules_come_from_the_course_config(course):
    (course / "course.yaml").write_text(
        f'deadlines: {{week1: "{DEADLINE}"}}\n'
        "gradebook:\n  homework: {weight: 0.5, best: 6, memo_share: 1.0}\n"
        "  components:\n    final: {weight: 0.5, columns: [final]}\n"
    )
    ada = {m.student: m for m in gradebook.compute(course)}["ada"]
    assert ada.homework == pytest.approx((81 + 70 + 100 + 80 + 60 + 40) / 6)
    assert ada.final == pytest.approx(round(0.5 * ada.homework + 0.5 * 75, 2))


@pytest.mark.parametrize(
    "text, key",
    [
        ("late: {penalty_per_day: 2}\n", "late.penalty_per_day"),
        ("late: {grace: 5}\n", "late.grace"),
        ("deadlines: {week1: tomorrow}\n", "deadlines.week1"),
        ("gradebook: {homework: {weight: 0.7}}\n", "weights sum to 1.1"),
        ("gradebook: {components: {quizzes: {weight: 0.4, columns: [q1], out_of: 0}}}\n", "out_of"),
    ],
)
def test_a_bad_course_config_names_the_key(tmp_path, text, key):
    (tmp_path / "course.yaml").write_text(text)
    with pytest.raises(PolicyError, match=key.replace(".", r"\.")) as err:
        load_policy(tmp_path)
    assert "course.yaml" in str(err.value)


def test_a_bad_score_names_the_file_student_and_column(course):
    (course / "scores.csv").write_text("student,quiz1,quiz2,quiz3,quiz4,quiz5,final,participation\nada,80,x,,,,,\n")
    with pytest.raises(gradebook.GradebookError, match=r"scores.csv, line 2: student ada: quiz2: 'x'"):
        gradebook.compute(course)
    (course / "scores.csv").write_text("student,quiz1\nada,80\n")
    with pytest.raises(gradebook.GradebookError, match="column"):
        gradebook.compute(course)


def test_a_formula_name_is_escaped_in_every_csv(course, tmp_path):
    from leaderboard.site import build_site

    results = [StudentResult.read(p) for p in sorted((course / "results" / "week1").glob("*/results.json"))]
    results[1].metrics = {"week1_tfidf": {"val": {"macro_f1": 0.1, "accuracy": 0.4}, "test": {}}}
    write_outputs(course, "week1", results, {"bob": EVIL})
    marks = gradebook.compute(course)
    out = gradebook.write_gradebook(course, marks, load_policy(course))
    site = tmp_path / "site"
    build_site(course, site, show_names=True, workers=1, now=datetime(2026, 6, 1, tzinfo=timezone.utc))
    written = [
        course / "results" / "week1" / "grades.csv",
        out / "moodle.csv",
        out / "breakdown.csv",
        site / "exports" / "leaderboard.csv",
        site / "instructor" / "exports" / "moodle-week1.csv",
    ]
    for path in written:
        cells = [c for row in csv.reader(io.StringIO(path.read_text())) for c in row]
        assert "'" + EVIL in cells, path
        assert EVIL not in cells, path
