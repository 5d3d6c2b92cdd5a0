"""The leaderboard site, built from a small synthetic graded course and read by a real browser.

The course is written with the grader's own `StudentResult` / `write_outputs`, so the files have the
shape `course grade` leaves. Students (ids all start with `stu_`, so a leaked id is easy to find):

- stu_alice7  two runs (0.1900, 0.2100): the better one counts; rank 1; an honest memo;
- stu_bob3 / stu_carol5  0.1900 each: tied, both rank 2;
- stu_dave9  three submissions: 0.1500 (main), 0.1700 (attempt-2, counts), 0.3000 (attempt-3, critical);
  rank 5, behind stu_eve4 (0.1800, rank 4);
- stu_mal1  critical finding, 0.3300: "under review", no numbers, no details on public pages;
- stu_frank2  grading failed (a timeout); real name starts with "=" (CSV formula injection);
- stu_eve4  real name `<script>alert(1)</script>`, a memo with `<script>alert(1)</script>` and a wrong
  cited macro-F1 (0.25 where the run measured 0.18).

The week-1 deadline is 2026-04-15 08:00 UTC: one build before it, one after (with real names).
"""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from leaderboard import boards, pseudonyms, synthetic
from leaderboard.site import build_site

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
BEFORE = datetime(2026, 4, 10, tzinfo=timezone.utc)
AFTER = datetime(2026, 4, 16, tzinfo=timezone.utc)
SCRIPT = "<script>alert(1)</script>"
NAMES = {
    "stu_alice7": "Alice Able",
    "stu_bob3": "Bob Baker",
    "stu_carol5": "Carol Cole",
    "stu_dave9": "Dave Dune",
    "stu_mal1": "Mal Lory",
    "stu_frank2": '=HYPERLINK("http://x")',
    "stu_eve4": SCRIPT,
}
SECRET_FINDING = "the test split was read 4 time(s) outside final_evaluation (first: read_parquet)"

EVE_MEMO = [
    "## Audit\nThe data has a long tail: the top class holds 23% of rows.\n\n" + SCRIPT,
    "## Baseline interpretation\nAccuracy is 0.48 while macro-F1 is 0.18: the gap comes from 60 zero-F1 classes.",
    "## Fine-tuning results\nOur best run reached a macro-F1 of 0.25 after epoch 2 " + SCRIPT,
]


def _result(student, runs, *, findings=(), status="graded", error=""):
    from grader.findings import Finding
    from grader.results import Check, StudentResult

    r = StudentResult(student, status=status, error=error)
    for name, kwargs in runs.items():
        r.metrics[name] = synthetic.run_metrics(**kwargs)
    r.findings = [Finding(*f) if isinstance(f, tuple) else f for f in findings]
    r.checks = [
        Check(
            f"{name}: val macro-F1",
            round(30 * min(1, kw["macro_f1"] / 0.2), 2),
            30,
            f"val macro-F1 {kw['macro_f1']:.4f}",
        )
        for name, kw in runs.items()
    ]
    r.checks += [
        Check("fixed split", 10, 10, "fingerprints and prediction ids match the course"),
        Check("integrity", 0 if r.findings else 20, 20, "see findings" if r.findings else "no test-set use found"),
    ]
    return r


def write_fixture_course(root: Path) -> Path:
    """Two weeks of a seven-student class, as `course grade` leaves them (plus two resubmissions)."""
    from grader.grade import write_outputs

    def kw(f1, seed, **extra):
        return {"macro_f1": f1, "accuracy": round(0.3 + f1, 4), "seed": seed, **extra}

    week1 = [
        _result(
            "stu_alice7",
            {
                "week1_tfidf": kw(0.19, 1, latency_ms=0.4, trainable_parameters=None),
                "week1_modernbert": kw(0.21, 2, latency_ms=9.5, trainable_parameters=149_000_000, zero_f1=46),
            },
        ),
        _result("stu_bob3", {"week1_modernbert": kw(0.19, 3, latency_ms=3.0)}),
        _result("stu_carol5", {"week1_modernbert": kw(0.19, 4, latency_ms=30.0)}),
        _result("stu_dave9", {"week1_modernbert": kw(0.15, 5, latency_ms=5.0)}),
        _result(
            "stu_mal1",
            {"week1_modernbert": kw(0.33, 6)},
            findings=[("access-log", "test-read-outside-final", "critical", SECRET_FINDING, 7, 3)],
        ),
        _result("stu_frank2", {}, status="failed", error="TimeoutError: the kernel died after 600 s\n  in step 4"),
        _result(
            "stu_eve4",
            {"week1_modernbert": kw(0.18, 7, latency_ms=12.0, zero_f1=60)},
            findings=[("static", "label-encoder-all", "minor", "LabelEncoder fitted on all labels", 4, 2)],
        ),
    ]
    week2 = [
        _result(s, {"week2_weighted": kw(f1, 10 + i, latency_ms=4.0)})
        for i, (s, f1) in enumerate(
            [
                ("stu_alice7", 0.22),
                ("stu_bob3", 0.20),
                ("stu_carol5", 0.23),
                ("stu_dave9", 0.18),
                ("stu_eve4", 0.21),
                ("stu_mal1", 0.20),
            ]
        )
    ]
    write_outputs(root, "week1", week1, NAMES)
    write_outputs(root, "week2", week2, NAMES)
    for attempt, result in (
        ("attempt-2", _result("stu_dave9", {"week1_modernbert": kw(0.17, 8, latency_ms=5.0)})),
        (
            "attempt-3",
            _result(
                "stu_dave9",
                {"week1_modernbert": kw(0.30, 9)},
                findings=[("invariance", "invariance-changed", "critical", "changed")],
            ),
        ),
    ):
        path = root / "results" / "week1" / "stu_dave9" / attempt / "results.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(result.as_results_json()))
    for week in ("week1", "week2"):
        for student in NAMES:
            memo_cells = EVE_MEMO if student == "stu_eve4" else synthetic.default_memo(0.21, 0.51, 46, words=1100)
            synthetic.memo_notebook(root / "autograded" / student / week / f"{week}_homework.ipynb", memo_cells)
    (root / "students.json").write_text(json.dumps(NAMES))
    (root / "leaderboard.yaml").write_text(
        "title: Test course leaderboard\nsalt: test-salt-1234\nprofile: full\n"
        "deadlines:\n  week1: 2026-04-15T08:00:00Z\n  week2: 2026-04-22T08:00:00Z\n"
        "reference_rows:\n  - {week: week1, name: 'ModernBERT fp16 (T4, published)', macro_f1: 0.2085, latency_ms: 2.31}\n"
    )
    return root


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return write_fixture_course(tmp_path_factory.mktemp("lb-course"))


@pytest.fixture(scope="module")
def site_before(course, tmp_path_factory):
    return build_site(course, tmp_path_factory.mktemp("site-before"), now=BEFORE)


@pytest.fixture(scope="module")
def site_after(course, tmp_path_factory):
    return build_site(course, tmp_path_factory.mktemp("site-after"), now=AFTER, show_names=True)


def _rows(html: str, table_id: str) -> list[list[str]]:
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0].split("<tbody>", 1)[1]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)
    return [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, flags=re.S)] for r in rows
    ]


def _pseudonym(student: str) -> str:
    return pseudonyms.assign(list(NAMES), "test-salt-1234")[student]


def _feedback(site: Path, student: str, week: str = "week1") -> Path:
    return site.parent / "instructor" / "feedback" / pseudonyms.token(student, "test-salt-1234") / f"{week}.html"


# ------------------------------------------------------------------------------------------------
# Ranking, selection, pseudonyms: read from the built pages
# ------------------------------------------------------------------------------------------------


def test_ties_share_a_rank_and_the_next_rank_skips(site_before):
    assert boards.competition_ranks([0.3, 0.2, 0.2, 0.1, None, 0.20004]) == [1, 2, 2, 5, None, 2]
    rows = {r[1]: r for r in _rows((site_before.parent / "week1.html").read_text(), "board-public")}
    rank = {s: rows[_pseudonym(s)][0] for s in ("stu_alice7", "stu_bob3", "stu_carol5", "stu_dave9", "stu_eve4")}
    assert rank == {"stu_alice7": "1", "stu_bob3": "2", "stu_carol5": "2", "stu_eve4": "4", "stu_dave9": "5"}


def test_best_valid_submission_counts_and_flagged_ones_are_under_review(site_before):
    html = (site_before.parent / "week1.html").read_text()
    rows = {r[1]: r for r in _rows(html, "board-public")}
    assert rows[_pseudonym("stu_alice7")][2] == "0.2100"  # her better run of two
    assert rows[_pseudonym("stu_dave9")][2] == "0.1700"  # attempt-2; attempt-3 (0.30) is critical
    mal = rows[_pseudonym("stu_mal1")]
    assert mal[0] == "–" and mal[2] == "—" and mal[8] == "under review"  # no rank, no numbers
    assert rows[_pseudonym("stu_frank2")][8] == "pending"
    assert rows[_pseudonym("stu_eve4")][8] == "minor"
    for page in site_before.parent.glob("*.html"):  # public pages: no finding details, no ids, no names
        text = page.read_text()
        assert SECRET_FINDING not in text and "test-read-outside-final" not in text and "LabelEncoder" not in text
        assert "stu_" not in text and "Alice Able" not in text and "&lt;script&gt;" not in text
    refs = [r for r in _rows(html, "board-public") if r[0] == "ref"]
    assert {r[1] for r in refs} >= {
        "Majority class",
        "TF-IDF + LR",
        "ModernBERT full fine-tune",
        "ModernBERT fp16 (T4, published)",
    }


def test_pseudonyms_are_stable_and_never_contain_the_id(course, site_before, tmp_path):
    again = build_site(course, tmp_path / "again", now=BEFORE)
    first = [r[1] for r in _rows((site_before.parent / "week2.html").read_text(), "board-public") if r[0] != "ref"]
    second = [r[1] for r in _rows((again.parent / "week2.html").read_text(), "board-public") if r[0] != "ref"]
    assert first == second and len(set(first)) == len(first) == 6
    assert all(re.fullmatch(r"[a-z]+-[a-z]+-\d{3}", name) for name in first)
    for student in NAMES:
        assert student not in _pseudonym(student) and _pseudonym(student) in first + [_pseudonym("stu_frank2")]
    for digit in "123456789":  # an id the number part could contain is re-hashed away
        assert digit not in pseudonyms.pseudonym(digit, "salt")
    assert pseudonyms.assign(["a", "b", "c"], "s") == pseudonyms.assign(["c", "a", "b"], "s")
    assert pseudonyms.pseudonym("stu_bob3", "other salt") != _pseudonym("stu_bob3")


def test_private_board_is_empty_before_the_deadline_and_filled_after(site_before, site_after):
    before = (site_before.parent / "week1-private.html").read_text()
    assert 'id="private-hidden"' in before and "revealed after 2026-04-15 08:00 UTC" in before
    assert 'id="board-private"' not in before
    assert "week1,private" not in (site_before.parent / "exports" / "leaderboard.csv").read_text()
    feedback_before = _feedback(site_before, "stu_alice7").read_text()
    assert ">test<" not in feedback_before and "Test metrics appear here after" in feedback_before

    after = (site_after.parent / "week1-private.html").read_text()
    rows = {r[1]: r for r in _rows(after, "board-private")}
    # synthetic.run_metrics puts test macro-F1 at val - 0.004: the counted run's test number is shown
    assert rows["Alice Able"][2] == "0.2060" and rows["Dave Dune"][2] == "0.1660"
    assert rows["Mal Lory"][2] == "—" and rows["Mal Lory"][8] == "under review"
    assert "week1,private" in (site_after.parent / "exports" / "leaderboard.csv").read_text()
    assert 'id="private-hidden"' in (site_after.parent / "week2-private.html").read_text()  # week 2 not yet due
    assert ">test<" in _feedback(site_after, "stu_alice7").read_text()


# ------------------------------------------------------------------------------------------------
# Instructor page and exports
# ------------------------------------------------------------------------------------------------


def test_instructor_overview_links_every_flag_and_failure(site_before):
    base = site_before.parent / "instructor"
    html = (base / "index.html").read_text()
    flags = _rows(html, "flags")
    assert flags[0][0] == "critical" and {f[1] for f in flags} == {"week1"}
    assert sum(SECRET_FINDING in f[5] for f in flags) == 1 and any("attempt-3" in f[2] for f in flags)
    for link in re.findall(r'href="(feedback/[^"]+)"', html):
        assert (base / link).is_file(), link
    failed = _rows(html, "failed")
    assert len(failed) == 1 and failed[0][0] == "week1" and "TimeoutError: the kernel died" in failed[0][2]
    mal = _feedback(site_before, "stu_mal1").read_text()
    findings = _rows(mal, "findings")
    assert findings[0][:4] == ["critical", "access-log/test-read-outside-final", "7", "3"]
    assert (base / "grades.png").stat().st_size > 1000


def test_exports(course, site_before):
    base = site_before.parent
    with open(base / "instructor" / "exports" / "moodle-week1.csv", newline="") as fh:
        moodle = list(csv.DictReader(fh))
    frank = next(r for r in moodle if r["Identifier"] == "Participant stu_frank2")
    assert frank["Full name"] == '\'=HYPERLINK("http://x")' and "not graded" in frank["Feedback comments"]
    eve = next(r for r in moodle if r["Identifier"] == "Participant stu_eve4")
    assert "1 not matching the run" in eve["Feedback comments"] and float(eve["Grade"]) > 0
    board = list(csv.DictReader(open(base / "exports" / "leaderboard.csv", newline="")))
    assert {r["week"] for r in board} == {"week1", "week2"} and not any("stu_" in ",".join(r.values()) for r in board)
    gs = json.loads(
        (base / "instructor" / "exports" / "gradescope" / "week1" / "stu_alice7" / "results.json").read_text()
    )
    assert (
        gs["score"] > 0
        and gs["tests"]
        and {"name": "Val macro-F1", "value": 0.21, "order": "desc"} in gs["leaderboard"]
    )
    mal = json.loads(
        (base / "instructor" / "exports" / "gradescope" / "week1" / "stu_mal1" / "results.json").read_text()
    )
    assert mal["leaderboard"][1] == {"name": "Status", "value": "under review"}
    original = json.loads((course / "results" / "week1" / "stu_mal1" / "results.json").read_text())
    assert {k: v for k, v in mal.items() if k != "leaderboard"} == original  # the grader's fields are all kept


def test_one_process_and_worker_processes_build_the_same_site(course, site_before, tmp_path):
    single = build_site(course, tmp_path / "single", now=BEFORE, workers=1).parent
    forked = build_site(course, tmp_path / "forked", now=BEFORE, workers=2).parent
    files = sorted(p.relative_to(single) for p in single.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(forked) for p in forked.rglob("*") if p.is_file())
    for rel in files:
        assert (single / rel).read_bytes() == (forked / rel).read_bytes(), rel
    # a rebuild into the same folder rewrites only what changed ...
    before = {rel: (single / rel).stat().st_mtime_ns for rel in files}
    build_site(course, single, now=BEFORE, workers=1)
    assert [rel for rel in files if (single / rel).stat().st_mtime_ns != before[rel]] == []
    # ... and drops what is gone (here: week 2)
    (course / "results" / "week2").rename(course / "week2-away")
    try:
        build_site(course, single, now=BEFORE, workers=1)
    finally:
        (course / "week2-away").rename(course / "results" / "week2")
    gone = [rel for rel in files if not (single / rel).exists()]
    assert gone and all("week2" in str(rel) for rel in gone)
    assert Path("week2.html") in gone and Path("instructor/exports/moodle-week2.csv") in gone
    assert not (single / "instructor" / "exports" / "gradescope" / "week2").exists()  # emptied folders go too


def test_bad_results_file_does_not_stop_the_build(course, tmp_path):
    import shutil

    broken = tmp_path / "course"
    shutil.copytree(course, broken)
    (broken / "results" / "week2" / "stu_bob3" / "results.json").write_text("{not json")
    (broken / "results" / "week2" / "stu_carol5" / "results.json").write_text(json.dumps({"score": float("nan")}))
    (broken / "results" / "week2" / "stu_dave9" / "results.json").write_text(
        json.dumps({"tests": [], "extra_data": {"status": "graded", "integrity": "spotless"}})
    )
    (broken / "results" / "week2" / "stu_eve4" / "results.json").unlink()
    (broken / "results" / "week2" / "summary.json").write_text(json.dumps([{"student": "stu_eve4"}]))
    index = build_site(broken, tmp_path / "site", now=BEFORE)
    html = (index.parent / "instructor" / "index.html").read_text()
    assert "results.json unreadable" in html and "stu_bob3" in html
    # the typed reader's message (file and field) is the reason shown; a student without a file failed
    assert "extra_data.integrity is &#39;spotless&#39;" in html and "stu_dave9" in html
    assert "listed in summary.json but no results.json was written" in html
    assert (index.parent / "week2.html").is_file()
    (tmp_path / "empty").mkdir()  # nothing graded yet: a site that says so
    assert "No graded weeks yet" in build_site(tmp_path / "empty", tmp_path / "empty-site").read_text()


# ------------------------------------------------------------------------------------------------
# A real browser: Debian's chromium, driven by Playwright, pages opened from disk
# ------------------------------------------------------------------------------------------------


def _column(page, col: int) -> list[str]:
    return page.eval_on_selector_all(
        "#board-public tbody tr", f"rows => rows.map(r => r.cells[{col}].textContent.trim())"
    )


def test_browser_boards_render_and_sort(site_before, page):
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(site_before.as_uri())
    assert page.title() == "Test course leaderboard"
    page.click("text=Week 1 public board")
    assert page.url.endswith("/week1.html")
    assert page.locator("#board-public tbody tr").count() == 7 + 4  # 7 students, 4 reference rows
    assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")

    page.click("#board-public th:nth-child(3) button")  # macro-F1: first click sorts descending
    f1 = [float(v) for v in _column(page, 2) if v != "—"]
    assert f1 == sorted(f1, reverse=True) and f1[0] == pytest.approx(0.21)
    assert _column(page, 2)[-2:] == ["—", "—"]  # no numbers (under review, pending) stay last
    assert page.get_attribute("#board-public th:nth-child(3)", "aria-sort") == "descending"
    page.click("#board-public th:nth-child(3) button")  # again: ascending
    f1 = [float(v) for v in _column(page, 2) if v != "—"]
    assert f1 == sorted(f1) and f1[0] == pytest.approx(0.003)  # the majority baseline (full bands)

    page.click("#board-public th:nth-child(7) button")  # latency: lower is better, ascending first
    latency = [float(v) for v in _column(page, 6) if v != "—"]
    assert latency == sorted(latency) and latency[0] == pytest.approx(2.31) and len(latency) == 6
    names = _column(page, 1)
    page.click("#board-public th:nth-child(2) button")
    assert _column(page, 1) == sorted(names, key=str.lower)
    page.screenshot(path=str(ARTIFACTS / "leaderboard-week1.png"), full_page=True)

    for target in ("season.html", "week1-private.html", "week2.html"):
        page.goto((site_before.parent / target).as_uri())
    assert (
        "revealed after 2026-04-15 08:00 UTC" in page.goto((site_before.parent / "week1-private.html").as_uri()).text()
    )
    assert page.problems == []


def test_browser_feedback_page_shows_memo_observations(site_before, page):
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(_feedback(site_before, "stu_eve4").as_uri())
    section = page.locator("#memo-observations")
    assert section.is_visible()
    text = section.inner_text()
    assert "Baseline interpretation (20 points)" in text and "no heading found for this criterion" in text
    assert "mismatch: the run measured 0.1800" in text and "macro_f1 0.25" in text
    assert "shorter than the target" in text
    assert page.locator("#per-class").is_visible() and page.locator("#checks tbody tr").count() == 3
    assert _rows(page.content(), "findings")[0][2:4] == ["4", "2"]
    page.screenshot(path=str(ARTIFACTS / "feedback-week1.png"), full_page=True)
    page.goto((site_before.parent / "instructor" / "index.html").as_uri())
    page.click("#flags tbody tr:first-child a")
    assert "feedback" in page.url and page.locator("#findings").is_visible()
    assert page.problems == [] and page.dialogs == []


def test_browser_script_in_names_and_memos_renders_as_text(site_after, page):
    board = (site_after.parent / "week1.html").read_text()
    feedback = _feedback(site_after, "stu_eve4").read_text()
    for html in (board, feedback, (site_after.parent / "season.html").read_text()):
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert SCRIPT not in html and html.count("<script>") == 1  # only the site's own sort script
    page.goto((site_after.parent / "week1.html").as_uri())
    assert SCRIPT in _column(page, 1)  # shown as text, with show_names
    page.goto(_feedback(site_after, "stu_eve4").as_uri())
    assert SCRIPT in page.locator("h1").inner_text() and SCRIPT in page.locator("#memo-observations").inner_text()
    page.goto((site_after.parent / "instructor" / "index.html").as_uri())
    assert page.dialogs == [] and page.problems == []
