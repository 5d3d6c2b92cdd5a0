"""Grading on a real Dask LocalCluster (2 single-threaded worker processes, localhost only).

One small class (honest, trains_on_test, corrupt; the lab notebook alone, through the course folder's
own grading.yaml) is graded twice: in this process (`--workers 1`) and on the cluster while a worker is
killed mid-task. The results must agree byte for byte apart from timings; the same cluster then resumes
an interrupted week, refuses GPU work it has no GPU for, and re-runs a full-profile submission on CPU.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("distributed")

from course.errors import UserError  # noqa: E402
from grader import grade, nbgrader_course, perturb, rerun, simulated_class, tasks  # noqa: E402
from harness import cli  # noqa: E402
from notebooks import sandbox  # noqa: E402

STUDENTS = ("honest", "trains_on_test", "corrupt")
LAB_ONLY = """week1:
  notebooks: [week1_lab.ipynb]
  runs:
    week1_tfidf: {notebook: week1_lab.ipynb, band: week1/tfidf_fast, floor: week1/majority, points: 30}
  checks: {fixed_split: 10, integrity: 20, consistency: 5}
"""
TIMINGS = ("latency_ms",)  # the only measured times in results.json


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = nbgrader_course.init_course(tmp_path_factory.mktemp("class") / "course", ["week1"])
    nbgrader_course.release(root, "week1")
    (root / "grading.yaml").write_text(LAB_ONLY, encoding="utf-8")
    perturb.course_salt(root)  # one course: both copies draw the same secret perturbations
    for student in STUDENTS:
        notebook = simulated_class.write_submission(student, root / "incoming" / student)
        nbgrader_course.submit(root, "week1", student, [notebook])
    return root


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from distributed import LocalCluster

    worker_tmp = tmp_path_factory.mktemp("worker-tmp")  # where a worker's scratch folders go
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
        env={"TMPDIR": str(worker_tmp)},
        local_directory=str(tmp_path_factory.mktemp("dask")),
    ) as local:
        yield local.scheduler_address, worker_tmp


def _executing(dask_worker) -> list[str]:
    return [str(ts.key) for ts in dask_worker.state.executing]


def kill_worker_running(address: str, prefix: str, killed: list, after_s: float = 3.0, wait_s: float = 300) -> None:
    """SIGKILL the worker process whose running task's key starts with `prefix`, once it has run `after_s`."""
    from distributed import Client

    with Client(address, timeout="20s") as client:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and not killed:
            for worker, keys in client.run(_executing).items():
                if any(key.startswith(prefix) for key in keys):
                    time.sleep(after_s)  # the grading child is at work by now
                    pid = client.run(os.getpid, workers=[worker])[worker]
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
            time.sleep(0.3)


@pytest.fixture(scope="module")
def graded(course, cluster, tmp_path_factory):
    """The class graded in this process, and on the cluster with a worker killed during honest's task."""
    local, remote = (shutil.copytree(course, tmp_path_factory.mktemp(name) / "course") for name in ("one", "dask"))
    in_process = grade.grade_week(Path(local), "week1", workers=1)
    killed: list[int] = []
    killer = threading.Thread(target=kill_worker_running, args=(cluster[0], "grade-week1-honest-", killed))
    killer.start()
    on_cluster = grade.grade_week(Path(remote), "week1", cluster=cluster[0])
    killer.join()
    return Path(local), Path(remote), in_process, on_cluster, killed


def comparable(root: Path, path: Path) -> str:
    """A results file with the course folder's path and the measured times taken out."""

    def drop(value):
        if isinstance(value, dict):
            return {k: drop(v) for k, v in value.items() if k not in TIMINGS}
        if isinstance(value, list):
            return [drop(v) for v in value]
        return value

    text = path.read_text(encoding="utf-8").replace(str(root), "<course>")
    return json.dumps(drop(json.loads(text)), indent=1) if path.suffix == ".json" else text


def test_cluster_grades_like_one_process(graded):
    local, remote, in_process, on_cluster, _ = graded
    assert [r.student for r in in_process] == [r.student for r in on_cluster] == sorted(STUDENTS)
    by_student = {r.student: r for r in on_cluster}
    assert by_student["honest"].status == "graded" and by_student["honest"].score > 0, by_student["honest"].error
    assert by_student["trains_on_test"].integrity() == "critical"
    assert by_student["corrupt"].findings[0].rule == "unreadable-notebook"
    # Byte for byte where the notebook itself is deterministic; the cheater's LinearSVC trains on noisy
    # labels without a random_state, so its own val number may move in the 4th decimal from run to run.
    for name in ["honest/results.json", "corrupt/results.json"]:
        one, dask = (comparable(root, root / "results" / "week1" / name) for root in (local, remote))
        assert one == dask, name
    cheat = [{r.student: r for r in results}["trains_on_test"] for results in (in_process, on_cluster)]
    assert [sorted((f.layer, f.rule) for f in r.findings) for r in cheat][0] == sorted(
        (f.layer, f.rule) for f in cheat[1].findings
    )
    assert cheat[0].score == cheat[1].score and cheat[0].integrity() == cheat[1].integrity() == "critical"
    for root in (local, remote):  # what the leaderboard and the feedback read came back from the workers
        graded_dir = root / "autograded" / "honest" / "week1"
        assert (graded_dir / "week1_lab.ipynb").is_file() and (graded_dir / "runs" / "week1_tfidf.json").is_file()
    nbgrader_course.feedback(remote, "week1", "honest")  # the scores reached the course's gradebook
    assert list((remote / "feedback" / "honest" / "week1").glob("*.html"))


def test_a_killed_worker_loses_and_duplicates_nothing(graded, cluster):
    _, remote, _, on_cluster, killed = graded
    assert killed, "no worker was seen running honest's task"
    assert sorted(r.student for r in on_cluster) == sorted(STUDENTS)
    assert all(r.status == "graded" for r in on_cluster), [r.error for r in on_cluster]
    rows = (remote / "results" / "week1" / "grades.csv").read_text().splitlines()[1:]
    assert sorted(row.split(",")[0] for row in rows) == [f"Participant {s}" for s in sorted(STUDENTS)]
    assert not [p.name for p in cluster[1].iterdir() if p.name.startswith("grade-")]  # no scratch left behind


def test_resume_grades_exactly_the_missing_and_the_changed(graded, cluster, capfd):
    _, remote, _, _, _ = graded
    out = remote / "results" / "week1"
    (out / "honest" / "results.json").unlink()  # as if interrupted before honest's result came back
    path = remote / "submitted" / "trains_on_test" / "week1" / "week1_lab.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("Resubmitted after the deadline."))
    nbformat.write(nb, path)
    kept = (out / "corrupt" / "results.json").read_bytes()
    capfd.readouterr()
    results = grade.grade_week(remote, "week1", cluster=cluster[0], resume=True)
    assert "resume: kept 1 student(s) graded from the same submission: corrupt" in capfd.readouterr().err
    assert (out / "corrupt" / "results.json").read_bytes() == kept
    by_student = {r.student: r for r in results}
    assert by_student["honest"].status == "graded" and (out / "honest" / "results.json").is_file()
    new_sha = tasks.folder_sha256(path.parent)
    assert (
        json.loads((out / "trains_on_test" / "results.json").read_text())["extra_data"]["submission_sha256"] == new_sha
    )


def test_gpu_work_is_refused_where_no_worker_has_a_gpu(course, cluster, capsys):
    import torch

    status = cli.main(["rerun", "week1", "--course-dir", str(course), "--cluster", cluster[0]])
    assert status == 2
    assert "no worker of the Dask cluster at tcp://127.0.0.1" in capsys.readouterr().err
    with pytest.raises(UserError, match="advertises a GPU resource"):
        rerun.rerun_week(course, "week1", cluster=cluster[0], device="cuda")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match=r"no GPU here \(torch.cuda.is_available\(\) is False\)"):
            rerun.rerun_week(course, "week1", cluster="local:1")


@pytest.fixture(scope="module")
def full_submission(tmp_path_factory):
    """A student's own full-profile run (on the small course, CPU): the notebook with its runs/ record."""
    root = tmp_path_factory.mktemp("reruns") / "course"
    root.mkdir()
    (root / "grading.yaml").write_text(LAB_ONLY, encoding="utf-8")
    notebook = simulated_class.write_submission("honest", root / "incoming")
    env = {**rerun.CPU_CHECK_ENV, "COURSE_MODE": "submit", "COURSE_CACHE": os.environ["COURSE_CACHE"]}
    ran = sandbox.execute_notebook(notebook, root / "run", env=env, timeout_s=600)
    assert ran.status == "ok", ran.message
    folder = nbgrader_course.submit(root, "week1", "student_full", [ran.output_path])
    (folder / ran.output_path.name).rename(folder / "week1_lab.ipynb")
    shutil.copytree(root / "run" / "runs", folder / "runs")
    return root


def test_rerun_on_cpu_reproduces_a_full_submission(full_submission, cluster):
    entries = rerun.rerun_week(
        full_submission, "week1", device="cpu", cluster=cluster[0], env=rerun.CPU_CHECK_ENV, bands_profile="smoke"
    )
    assert [(e["student"], e["run"], e["outcome"]) for e in entries] == [("student_full", "week1_tfidf", "reproduced")]
    assert entries[0]["reproduced"] == pytest.approx(entries[0]["submitted"], abs=1e-9)
    saved = json.loads((full_submission / "results" / "week1" / "reruns.json").read_text())
    assert saved == entries
    assert "reproduced" in rerun.format_table(entries)


def test_a_task_past_its_time_is_stopped_and_fails_alone(course, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    spec = grade.load_spec("week1", course / "grading.yaml")
    bundle = tasks.source_bundle(course, "week1")
    output = tasks.run_task(tasks.package_submission(course, "week1", "honest"), bundle, spec, "smoke", 2, str(course))
    result = json.loads(output.results_json)["extra_data"]
    assert (result["status"], result["error"]) == ("failed", "timed out after 2 s")
    assert output.files == {} and list(tmp_path.iterdir()) == []  # the scratch folder went with it


def test_a_dead_workers_scratch_is_swept_by_the_next_task(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # reaped: its pid names no process now
    dead = tmp_path / f"grade-week1-ann-p{gone.pid}-x7_q2k"
    live = tmp_path / f"grade-week1-bob-p{os.getpid()}-a1b2c3"
    other = tmp_path / f"rerun-week1-cy-p{gone.pid}-zz9"  # another kind of scratch is that kind's to sweep
    for folder in (dead, live, other):
        (folder / "course").mkdir(parents=True)
    with tasks.scratch_folder("grade", "week1", "dee") as new:
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name, new.name])
        assert new.name.startswith(f"grade-week1-dee-p{os.getpid()}-")
        late = tmp_path / f"grade-week1-eve-p{gone.pid}-late"  # left by a worker that died meanwhile
        (late / "tmp").mkdir(parents=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name])
    with tasks.scratch_folder("rerun", "week1", "dee"):
        assert not other.exists() and live.exists()
