"""The instructor's week: rubric forms, integrity review, the late rule, and the whole loop on a graded class.

The first tests take the pieces alone (seconds). The last ones grade a real two-student class once
(module fixture: nbgrader, the sandbox, both week-1 notebooks), then walk the loop: rubric forms filled,
two flags reviewed (one confirmed, one dismissed), a late submission, the gradebook; then copy the course
elsewhere, re-grade the copy, and find every score, decision and form as it was, the original untouched.
"""

import hashlib
import html
import json
import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from grader import grade, late, memo, nbgrader_course, reviews, rubric_forms, simulated_class
from grader.course_policy import Policy
from grader.findings import Finding
from grader.results import Check, StudentResult
from grader.rubrics import load_rubric
from harness.cli import main
from leaderboard.data import contract_labels

SPEC = grade.load_spec("week1")
DEADLINE = datetime(2026, 4, 15, 8, tzinfo=timezone.utc)
MEMO = "### Audit\nThe top class holds 23% of train.\n\n### Baseline interpretation\nAccuracy 0.51, macro-F1 0.21.\n"


# --- rubric forms --------------------------------------------------------------------------------------


@pytest.fixture
def form(tmp_path):
    rubric = load_rubric(1)
    text = memo.parse_memo([memo.Cell("week1_lab.ipynb", 20, MEMO)])
    written, kept = rubric_forms.write_forms(tmp_path, "week1", rubric, {"ada": (text, memo.observe(text, rubric, {}))})
    assert kept == [] and written == [tmp_path / "rubric" / "week1" / "ada.yaml"]
    return tmp_path, rubric, written[0]


def fill(path: Path, **points) -> None:
    raw = yaml.safe_load(path.read_text())
    for name, value in points.items():
        raw["criteria"][name.replace("_", " ")].update(value if isinstance(value, dict) else {"points": value})
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))


FULL = {"Audit": 18, "Baseline interpretation": 12, "Fine-tuning results": 21.5, "Experiment log": 5, "Risks": 15}


def test_a_form_carries_the_observations_and_the_memo_and_reads_back(form):
    root, rubric, path = form
    text = path.read_text()
    assert "Excellent 18-20" in text and "student: ada" in text
    raw = yaml.safe_load(text)
    assert list(raw["criteria"]) == [c.name for c in rubric.criteria]
    assert raw["criteria"]["Audit"]["max"] == 20 and raw["criteria"]["Audit"]["points"] is None
    assert any("section:" in line and "Audit" in line for line in raw["criteria"]["Audit"]["observations"])
    assert "macro-F1 0.21" in (root / "rubric" / "week1" / "ada.memo.md").read_text()
    grades = rubric_forms.read_forms(root, "week1", rubric, {"ada"})
    assert not grades["ada"].complete  # nothing filled in yet
    raw["criteria"] = {name: {**raw["criteria"][name], "points": pts} for name, pts in FULL.items()}
    raw["criteria"]["Audit"].update(band="Excellent", comment="long tail, with numbers")
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    ada = rubric_forms.read_forms(root, "week1", rubric, {"ada"})["ada"]
    assert ada.complete and ada.total == 71.5 and ada.max == 100
    marks = ada.by_name()
    assert marks["Audit"].band_name == "Excellent" and marks["Audit"].comment == "long tail, with numbers"
    assert marks["Fine-tuning results"].band_name == "Satisfactory"  # 21.5 of 25: below Excellent's 22
    assert marks["Experiment log"].band_name == "Needs Improvement"


def test_a_filled_form_is_never_overwritten(form):
    root, rubric, path = form
    fill(path, Audit={"comment": "started"})
    before = path.read_text()
    text = memo.parse_memo([memo.Cell("week1_lab.ipynb", 20, MEMO + "\n### Risks\n- one\n")])
    written, kept = rubric_forms.write_forms(root, "week1", rubric, {"ada": (text, memo.observe(text, rubric, {}))})
    assert written == [] and kept == [path] and path.read_text() == before
    assert "### Risks" in (root / "rubric" / "week1" / "ada.memo.md").read_text()  # the memo text is refreshed


@pytest.mark.parametrize(
    "change, message",
    [
        ({"Audit": 21}, "criteria.Audit.points: 21 is outside 0-20"),
        ({"Audit": -1}, "criteria.Audit.points: -1 is outside 0-20"),
        ({"Audit": "lots"}, "criteria.Audit.points: 'lots' is not a number"),
        ({"Audit": True}, "criteria.Audit.points: True is not a number"),
        ({"Audit": {"points": 12, "band": "Excellent"}}, "criteria.Audit.band: 'Excellent' contradicts 12 points"),
        ({"Audit": {"points": 12, "band": "Great"}}, "criteria.Audit.band: 'Great' is not Excellent"),
        ({"Audit": {"points": 12, "score": 3}}, "criteria.Audit.score: unknown key"),
    ],
)
def test_each_bad_score_is_named(form, change, message):
    root, rubric, path = form
    fill(path, **change)
    with pytest.raises(rubric_forms.RubricFormError) as err:
        rubric_forms.read_forms(root, "week1", rubric, {"ada"})
    assert f"{path}: student ada: {message}" in str(err.value)


def test_unknown_criterion_and_unknown_student_are_named(form):
    root, rubric, path = form
    raw = yaml.safe_load(path.read_text())
    raw["criteria"]["Style"] = {"points": 3}
    path.write_text(yaml.safe_dump(raw))
    shutil.copy(path, path.with_name("mallory.yaml"))
    with pytest.raises(rubric_forms.RubricFormError) as err:
        rubric_forms.read_forms(root, "week1", rubric, {"ada"})
    lines = str(err.value).splitlines()
    assert f"{path}: student ada: criteria.Style: unknown criterion" in lines
    assert any(line.startswith(f"{path.with_name('mallory.yaml')}: student mallory: unknown student") for line in lines)


# --- integrity review ----------------------------------------------------------------------------------


def flagged_result() -> StudentResult:
    """A student whose lab (week1_tfidf) has a critical static finding; the homework's run is clean."""
    return StudentResult(
        "eve",
        checks=[
            Check("week1_tfidf: val macro-F1", 30.0, 30, ""),
            Check("week1_modernbert: val macro-F1", 20.0, 30, ""),
            Check("integrity", 0.0, 20, ""),
        ],
        findings=[
            Finding("static", "train-on-test", "critical", "fits on test", 6, 13, notebook="week1_lab.ipynb"),
            Finding("statistics", "above-band", "info", "above the band", run="week1_modernbert"),
            Finding("static", "syntax-error", "info", "does not parse", 3, 1, notebook="week1_homework.ipynb"),
        ],
    )


def lines(result: StudentResult) -> dict[str, Check]:
    return {c.name: c for c in result.checks if c.name.startswith("review: ")}


def test_flags_have_stable_ids_and_are_listed_with_their_evidence():
    result = flagged_result()
    flags = reviews.flags([result])
    assert [(f.finding.layer, f.finding.rule) for f in flags] == [
        ("static", "train-on-test"),
        ("statistics", "above-band"),
    ]
    reworded = Finding("static", "train-on-test", "critical", "other words", 6, 13, notebook="week1_lab.ipynb")
    assert reviews.flag_id("eve", reworded) == flags[0].id  # the message is not part of the id
    assert reviews.flag_id("bob", reworded) != flags[0].id
    text = reviews.format_flags(flags, {})
    assert f"{flags[0].id}  eve  [critical] static/train-on-test  (notebook week1_lab.ipynb, cell 6, line 13)" in text
    assert "pending review" in text


def test_withheld_then_confirmed_then_dismissed(tmp_path):
    result = flagged_result()
    flag = reviews.flags([result])[0]
    reviews.apply_reviews(result, SPEC, {})
    assert lines(result)["review: week1_tfidf metric points"].score == -30
    assert "withheld pending review" in lines(result)["review: week1_tfidf metric points"].output
    assert "review: week1_modernbert metric points" not in lines(result)  # its notebook has no critical finding
    assert result.score == 30 + 20 + 0 - 30

    reviews.record(tmp_path, "week1", flag, "confirmed", "trains on the raw test file", "prof")
    reviews.apply_reviews(result, SPEC, reviews.read_decisions(tmp_path, "week1"))
    assert lines(result)["review: week1_tfidf metric points"].score == -30
    assert "confirmed by prof" in lines(result)["review: week1_tfidf metric points"].output
    assert result.score == 20 and result.integrity() == "critical"

    reviews.record(tmp_path, "week1", flag, "dismissed", "the file was the val split", "ta")
    reviews.apply_reviews(result, SPEC, reviews.read_decisions(tmp_path, "week1"))
    assert lines(result)["review: week1_tfidf metric points"].score == 0
    assert "restored" in lines(result)["review: week1_tfidf metric points"].output
    assert lines(result)["review: integrity"].score == 20  # the integrity points come back too
    assert result.score == 30 + 20 + 20 and result.integrity() == "clean"
    # Append-only: both decisions are on file, the latest wins.
    assert len(reviews.reviews_path(tmp_path, "week1").read_text().splitlines()) == 2


def test_a_dismissal_restores_only_what_the_dismissed_finding_cost(tmp_path):
    """A notebook that never parsed scores 0 everywhere; dismissing its flag gives no integrity points back."""
    broken = StudentResult(
        "zed",
        checks=[Check("week1_tfidf: val macro-F1", 0.0, 30, "no notebook"), Check("integrity", 0.0, 20, "no notebook")],
        findings=[Finding("submission", "unreadable-notebook", "major", "week1_lab.ipynb: not JSON")],
    )
    flag = reviews.flags([broken])[0]
    reviews.record(tmp_path, "week1", flag, "dismissed", "a broken upload, not a leak", "prof")
    reviews.apply_reviews(broken, SPEC, reviews.read_decisions(tmp_path, "week1"))
    assert "review: integrity" not in lines(broken) and broken.score == 0


def test_bad_review_input_is_named(tmp_path):
    flags = reviews.flags([flagged_result()])
    with pytest.raises(reviews.ReviewError, match="no flag 'abc'"):
        reviews.find_flag(flags, "abc", "week1")
    with pytest.raises(reviews.ReviewError, match="reason"):
        reviews.record(tmp_path, "week1", flags[0], "confirmed", " ", "prof")
    reviews.reviews_path(tmp_path, "week1").parent.mkdir()
    reviews.reviews_path(tmp_path, "week1").write_text('{"flag": "x"}\n')
    with pytest.raises(reviews.ReviewError, match=r"week1.jsonl, line 1"):
        reviews.read_decisions(tmp_path, "week1")


# --- the late rule -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "after, days, score",
    [
        (timedelta(minutes=15), 0, 0.0),  # exactly at the end of the grace period
        (timedelta(minutes=16), 1, -8.0),  # one minute after it: one started day
        (timedelta(days=1, minutes=16), 2, -16.0),  # a day and a minute after it: two
        (timedelta(days=12), 12, -80.0),  # never below 0
    ],
)
def test_late_penalty_at_the_grace_boundary(after, days, score):
    policy = Policy(penalty_per_day=0.10, grace_minutes=15)
    assert late.days_late(DEADLINE + after, DEADLINE, 15) == days
    line = late.late_check(80.0, DEADLINE + after, DEADLINE, policy)
    assert line.name == "late penalty" and line.score == score and line.max_score == 0
    assert ("on time" in line.output) == (days == 0)


def test_late_line_is_recomputed_not_stacked():
    result = StudentResult("ada", checks=[Check("code", 50.0, 100, "")])
    policy = Policy()
    for _ in range(2):
        late.apply_late(result, DEADLINE + timedelta(hours=3), DEADLINE, policy)
    assert [c.score for c in result.checks] == [50.0, -5.0] and result.max_score == 100
    assert late.late_check(50.0, DEADLINE, None, policy) is None  # no deadline, no line


def test_submission_times_from_submit_and_a_moodle_zip(tmp_path):
    import zipfile

    import nbformat

    when = datetime(2026, 4, 15, 9, 30, tzinfo=timezone.utc)
    nb = tmp_path / "week1_lab.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), nb)
    folder = nbgrader_course.submit(tmp_path / "c", "week1", "ada", [nb], when=when)
    assert late.submitted_at(folder) == when
    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("Ada L_1001_assignsubmission_file_/week1_lab.ipynb", date_time=(2026, 4, 16, 7, 0, 0))
        zf.writestr(info, nb.read_text())
    nbgrader_course.import_moodle_zip(tmp_path / "c", "week1", archive, ["week1_lab.ipynb"])
    assert late.submitted_at(tmp_path / "c" / "submitted" / "1001" / "week1") == datetime(
        2026, 4, 16, 7, tzinfo=timezone.utc
    )


# --- the loop on a really graded class -----------------------------------------------------------------

STUDENTS = {"honest": DEADLINE + timedelta(minutes=10), "trains_on_test": DEADLINE + timedelta(days=1, minutes=16)}


def course_cli(root: Path, *args: str) -> int:
    return main([args[0], *args[1:], "--course-dir", str(root)])


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = nbgrader_course.init_course(tmp_path_factory.mktemp("instructor") / "course", ["week1"])
    nbgrader_course.release(root, "week1")
    (root / "course.yaml").write_text(
        'deadlines: {week1: "2026-04-15T08:00:00Z"}\nlate: {penalty_per_day: 0.10, grace_minutes: 15}\n'
        "gradebook:\n  homework: {weight: 0.6, best: 5}\n"
    )
    (root / "scores.csv").write_text(
        "student,quiz1,quiz2,quiz3,quiz4,quiz5,final,participation\n"
        "honest,100,90,80,70,0,80,100\ntrains_on_test,50,50,50,50,50,40,60\n"
    )
    for student, when in STUDENTS.items():
        notebooks = simulated_class.write_week1(student, root / "incoming" / student)
        nbgrader_course.submit(root, "week1", student, notebooks, when=when)
    results = grade.grade_week(root, "week1", workers=2)
    return root, {r.student: r for r in results}


def checks(result: StudentResult) -> dict[str, Check]:
    return {c.name: c for c in result.checks}


def test_grading_withholds_flagged_metric_points_and_charges_lateness(graded):
    _, results = graded
    honest, cheat = results["honest"], results["trains_on_test"]
    assert honest.status == cheat.status == "graded", (honest.error, cheat.error)
    assert honest.integrity() == "clean" and cheat.integrity() == "critical"
    assert checks(honest)["week1_modernbert: val macro-F1"].score > 0  # the homework is graded
    assert "on time" in checks(honest)["late penalty"].output
    assert not any(name.startswith("review: ") for name in checks(honest))
    withheld = checks(cheat)["review: week1_tfidf metric points"]
    assert withheld.score == -checks(cheat)["week1_tfidf: val macro-F1"].score != 0
    assert "withheld pending review" in withheld.output
    critical = [f for f in cheat.findings if f.severity == "critical"]
    assert critical and all(f.run or f.notebook for f in critical)
    before_late = sum(c.score for c in cheat.checks if c.name != "late penalty")
    assert checks(cheat)["late penalty"].score == pytest.approx(-round(0.2 * before_late, 2))  # 1 day + 1 minute


def flag_of(root: Path, rule: str) -> str:
    return next(f.id for f in reviews.week_flags(root, "week1") if f.finding.rule == rule)


def test_the_instructors_loop(graded, capsys):
    root, _ = graded
    assert course_cli(root, "rubric", "week1") == 0
    for student, total in (("honest", 85), ("trains_on_test", 40)):
        path = root / "rubric" / "week1" / f"{student}.yaml"
        raw = yaml.safe_load(path.read_text())
        for entry in raw["criteria"].values():
            entry.update(points=entry["max"] * total / 100, comment=f"{student} comment")
        path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    assert course_cli(root, "review", "week1") == 0
    listing = capsys.readouterr().out
    confirmed, dismissed = flag_of(root, "invariance-changed"), flag_of(root, "train-on-test")
    assert confirmed in listing and dismissed in listing and "pending review" in listing
    assert (
        course_cli(root, "review", "week1", "--confirm", confirmed, "--reason", "val moved", "--reviewer", "prof") == 0
    )
    assert (
        course_cli(root, "review", "week1", "--dismiss", dismissed, "--reason", "for the test", "--reviewer", "ta") == 0
    )
    assert course_cli(root, "review", "week1", "--dismiss", "nope", "--reason", "x") == 2
    cheat = StudentResult.read(root / "results" / "week1" / "trains_on_test" / "results.json")
    line = checks(cheat)["review: week1_tfidf metric points"]
    assert line.score == -checks(cheat)["week1_tfidf: val macro-F1"].score and "confirmed by prof" in line.output

    assert course_cli(root, "gradebook") == 0
    rows = {r.split(",")[0]: r.split(",") for r in (root / "gradebook" / "moodle.csv").read_text().splitlines()[1:]}
    honest = StudentResult.read(root / "results" / "week1" / "honest" / "results.json")
    week = 0.8 * 85 + 0.2 * 100 * honest.score / honest.max_score
    expected = 0.6 * week / 5 + 0.15 * (100 + 90 + 80 + 70) / 4 + 0.2 * 80 + 0.05 * 100
    assert float(rows["Participant honest"][2]) == pytest.approx(expected, abs=0.01)
    cheat_week = 0.8 * 40 * 0.8 + 0.2 * 100 * cheat.score / cheat.max_score  # two days late: -20% of the memo too
    expected = 0.6 * cheat_week / 5 + 0.15 * 50 + 0.2 * 40 + 0.05 * 60
    assert float(rows["Participant trains_on_test"][2]) == pytest.approx(expected, abs=0.01)

    from leaderboard.site import build_site

    site = root.parent / "site"
    build_site(root, site, workers=1)
    pages = {p.parent.name: p.read_text() for p in (site / "instructor" / "feedback").glob("*/week1.html")}
    cheat_page = next(text for text in pages.values() if "trains_on_test" in text)
    assert "trains_on_test comment" in cheat_page and "Memo score" in cheat_page
    assert "confirmed by prof" in cheat_page and "dismissed by ta" in cheat_page
    assert "late penalty" in cheat_page and "Largest gaps" in cheat_page
    gaps = cheat_page.split("Largest gaps")[1].split("</table>")[0]
    assert not re.search(r"<td>class \d+</td>", gaps)  # classes by their label from the course contract
    assert any(f"<td>{html.escape(label, quote=False)}</td>" in gaps for label in contract_labels("smoke", []))


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_a_copied_course_regrades_inside_itself_and_keeps_every_decision(graded, tmp_path):
    root, _ = graded
    if not (root / "reviews" / "week1.jsonl").is_file():
        pytest.skip("needs test_the_instructors_loop's decisions")
    before = {name: StudentResult.read(root / "results" / "week1" / name / "results.json") for name in STUDENTS}
    original = tree_digest(root)
    copy = tmp_path / "moved" / "course"
    shutil.copytree(root, copy)
    forms = {p.name: p.read_text() for p in (copy / "rubric" / "week1").glob("*.yaml")}
    decisions = (copy / "reviews" / "week1.jsonl").read_text()
    again = {r.student: r for r in grade.grade_week(copy, "week1", workers=2)}
    for name, old in before.items():
        assert [(c.name, c.score) for c in again[name].checks] == [(c.name, c.score) for c in old.checks], name
    assert (copy / "reviews" / "week1.jsonl").read_text() == decisions
    assert {p.name: p.read_text() for p in (copy / "rubric" / "week1").glob("*.yaml")} == forms
    assert tree_digest(root) == original  # nothing written into the original folder
    assert str(root) not in (copy / "nbgrader_config.py").read_text()
    summary = json.loads((copy / "results" / "week1" / "summary.json").read_text())
    assert {s["student"] for s in summary} == set(STUDENTS)


# --- the feedback page in a real browser ---------------------------------------------------------------


def test_browser_feedback_shows_rubric_scores_reviews_and_late_line(tmp_path, page):
    from grader.grade import write_outputs
    from leaderboard import synthetic
    from leaderboard.site import build_site

    root = tmp_path / "course"
    result = flagged_result()
    result.checks.append(Check("late penalty", -5.0, 0.0, "1 day(s) late: −10% of the week's 50 points"))
    write_outputs(root, "week1", [result], {})
    synthetic.memo_notebook(root / "autograded" / "eve" / "week1" / "week1_homework.ipynb", [MEMO])
    text = memo.parse_memo([memo.Cell("week1_homework.ipynb", 1, MEMO)])
    rubric = load_rubric(1)
    (path,), _ = rubric_forms.write_forms(root, "week1", rubric, {"eve": (text, memo.observe(text, rubric, {}))})
    fill(path, Audit={"points": 19, "comment": "numbers for the <b>long tail</b>"}, Risks=14)
    flag = reviews.flags([result])[0]
    reviews.record(root, "week1", flag, "confirmed", "fits on the raw test file", "prof")
    site = tmp_path / "site"
    build_site(root, site, workers=1)
    page.goto(next((site / "instructor" / "feedback").glob("*/week1.html")).as_uri())
    assert "not complete yet" in page.locator("#memo-score").inner_text()
    audit = page.locator(".criterion", has_text="Audit (20 points)")
    assert "Score: 19 / 20 (Excellent) · numbers for the <b>long tail</b>" in audit.locator(".mark").inner_text()
    assert (
        page.locator(".criterion", has_text="Risks (15 points)").locator(".mark").inner_text().startswith("Score: 14")
    )
    reviews_column = page.locator("#findings td.review").all_inner_texts()
    assert reviews_column[0].startswith("confirmed by prof") and "–" in reviews_column
    assert "late penalty" in page.locator("#checks").inner_text()
    assert page.problems == [] and page.dialogs == []
