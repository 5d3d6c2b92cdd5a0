"""`course rerun`: run chosen full-evidence submissions again, in full, on GPU workers, and check the number.

A student is graded on their own full run's record (DESIGN.md "Profiles"). Where that record is doubtful
(a statistics finding: `--flagged`) or drawn at random (`--sample`), its notebook runs again from the
submission, in the sandbox (test cells removed, no network, `memory_mb=0`: CUDA reserves far more address
space than it uses), on a worker that advertises a `GPU` resource. The reproduced val macro-F1 must lie
within twice the full band's seed spread of the submitted one; else the run is flagged for review with
both numbers. Results go to `<course>/results/<week>/reruns.json`.

The worker needs the course's data and models offline (the sandbox has no network): its `COURSE_CACHE`,
`COURSE_DATA_DIR` / `COURSE_CONTRACT_DIR` and `HF_HOME` are passed to the notebook.
"""

from __future__ import annotations

import functools
import json
import os
import random
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from course import bands
from course.contract import cache_root
from course.errors import UserError
from course.files import atomic_write
from course.runrecord import RecordError, read_record
from grader import cluster as cluster_mod
from grader import tasks
from grader.grade import load_spec, spec_file
from grader.layers.execution import without_test_cells
from grader.results import ResultsError, StudentResult
from notebooks import sandbox

# `--device cpu`: the full code path on the smoke-sized synthetic course with a tiny model, for tests and CI.
CPU_CHECK_ENV = {
    "COURSE_PROFILE": "full",
    "COURSE_COURSE": "synthetic-small",
    "COURSE_MODEL_NAME": "tiny-modernbert",
    "COURSE_MAX_TRAIN_EXAMPLES": "2000",
    "COURSE_DEVICE": "cpu",
}
PASSED_ON = ("COURSE_DATA_DIR", "COURSE_CONTRACT_DIR", "HF_HOME")  # the worker's offline data and models
FULL_TIMEOUT_S = 4 * 3600


@dataclass(frozen=True)
class Candidate:
    """One full-evidence run of one student: what was submitted and which band judges it."""

    student: str
    run: str
    notebook: str
    band: str  # "week/pipeline"
    submitted: float  # the record's val macro-F1
    flagged: bool  # results.json has a statistics finding for it


def candidates(root: Path, week: str, spec: dict, profile: str) -> list[Candidate]:
    """Every submitted record of the week's runs whose settings say `profile` (the student's own run)."""
    found = []
    for folder in sorted(p for p in (root / "submitted").glob(f"*/{week}") if p.is_dir()):
        student = folder.parent.name
        findings = _statistics_findings(root / "results" / week / student / "results.json")
        for run, run_spec in spec["runs"].items():
            try:
                record = read_record(folder / "runs" / f"{run}.json")
                submitted = record.val_macro_f1
            except RecordError:
                continue  # no usable full record: grading reports that, there is nothing to reproduce
            if record.settings.get("profile") == profile:
                band = run_spec.get("full_band", run_spec.get("band", ""))
                flagged = any(f.run in (None, run) for f in findings)
                found.append(Candidate(student, run, run_spec["notebook"], band, submitted, flagged))
    return found


def _statistics_findings(path: Path) -> list:
    try:
        return [f for f in StudentResult.read(path).findings if f.layer == "statistics"] if path.is_file() else []
    except ResultsError:
        return []


def choose(found: list[Candidate], flagged: bool, sample: float | None, seed: int = 0) -> list[Candidate]:
    """The flagged runs (with `flagged`) plus a seeded random `sample` fraction of the rest; all if neither."""
    if not flagged and sample is None:
        return found
    chosen = [c for c in found if flagged and c.flagged]
    rest = [c for c in found if c not in chosen]
    if sample is not None:
        if not 0 <= sample <= 1:
            raise UserError(f"--sample {sample}: expected a fraction between 0 and 1")
        chosen += random.Random(seed).sample(rest, round(sample * len(rest)))
    return sorted(chosen, key=lambda c: (c.student, c.run))


def rerun_task(
    submission: tasks.Submission,
    notebook: str,
    run: str,
    env: dict[str, str],
    timeout_s: float,
    memory_mb: int,
    isolation: str,
) -> dict:
    """Worker side: the notebook without its test cells, in the sandbox; the val macro-F1 it records."""
    with tasks.scratch_folder("rerun", submission.week, submission.student) as scratch:
        tasks.unpack(submission.data, scratch / "submitted")
        code = without_test_cells(scratch / "submitted" / notebook, scratch / "code" / notebook)
        passed = {k: os.environ[k] for k in PASSED_ON if k in os.environ}
        env = {"COURSE_MODE": "grading", "COURSE_RUNS_DIR": "runs", "COURSE_CACHE": str(cache_root()), **passed, **env}
        ran = sandbox.execute_notebook(
            code,
            scratch / "run",
            env=env,
            timeout_s=timeout_s,
            cell_timeout_s=timeout_s,
            memory_mb=memory_mb,
            isolation=isolation,
        )
        try:
            record = read_record(scratch / "run" / "runs" / f"{run}.json")
            return {"reproduced": record.val_macro_f1, "message": ""}
        except RecordError as err:
            return {"reproduced": None, "message": ran.message if ran.status != "ok" else str(err)}


def tolerance(band: dict | None) -> float | None:
    """2 x the band's spread: max(seed std, bootstrap SE), or a quarter of lower..upper for published
    numbers that came without one."""
    if band is None:
        return None
    spread = max(band.get("std") or 0.0, band.get("boot_se") or 0.0) or (band["upper"] - band["lower"]) / 4
    return 2 * spread


def verdict(c: Candidate, reproduced: float | None, message: str, band: dict | None, bands_profile: str) -> dict:
    """One line of reruns.json: "reproduced", or "review" with both numbers and why."""
    allowed = tolerance(band)
    entry = {**asdict(c), "reproduced": reproduced, "difference": None, "allowed": allowed, "outcome": "review"}
    if reproduced is None:
        entry["reason"] = f"the re-run wrote no usable record: {message}"
    elif allowed is None:
        entry["reason"] = f"no {bands_profile} band {c.band!r} to judge the difference by"
    else:
        entry["difference"] = round(reproduced - c.submitted, 4)
        close = abs(reproduced - c.submitted) <= allowed
        entry["outcome"] = "reproduced" if close else "review"
        entry["reason"] = (
            f"submitted {c.submitted:.4f}, reproduced {reproduced:.4f}: "
            f"{'within' if close else 'beyond'} the allowed {allowed:.4f}"
        )
    return entry


def rerun_week(
    root: Path,
    week: str,
    profile: str = "full",
    device: str = "cuda",
    cluster: str | None = None,
    flagged: bool = False,
    sample: float | None = None,
    seed: int = 0,
    env: dict[str, str] | None = None,
    bands_profile: str | None = None,
    task_timeout: float | None = None,
) -> list[dict]:
    """Re-run the chosen submissions and write reruns.json. `env` overrides the notebook's COURSE_* knobs
    (`CPU_CHECK_ENV` with `device="cpu"`); `bands_profile` (default `profile`) names the bands to judge by."""
    if device == "cuda" and (cluster is None or cluster.startswith("local:")):
        _require_local_gpu()
    spec = load_spec(week, spec_file(root))
    chosen = choose(candidates(root, week, spec, profile), flagged, sample, seed)
    env = {"COURSE_PROFILE": profile, **(env or {})}
    timeout = task_timeout or (FULL_TIMEOUT_S if device == "cuda" else spec.get("timeout_s", 600))
    memory_mb = 0 if device == "cuda" else spec.get("memory_mb", 6144)
    # Sealed on CPU and GPU alike: the sandbox passes the NVIDIA device files through (notebooks.isolation).
    isolation = "sealed"
    needs = {"GPU": 1} if device == "cuda" else {}
    entries: dict[tuple[str, str], dict] = {}
    by_key = {f"{c.student}/{c.run}": c for c in chosen}

    def store(job: cluster_mod.Job, value: dict | None, error: BaseException | None) -> bool:
        c = by_key[job.label]
        found = value or {"reproduced": None, "message": f"{type(error).__name__}: {error}"}
        band = bands.lookup(bands_profile or profile, *c.band.split("/")) if "/" in c.band else None
        entries[(c.student, c.run)] = verdict(c, found["reproduced"], found["message"], band, bands_profile or profile)
        return entries[(c.student, c.run)]["outcome"] != "reproduced"

    with cluster_mod.runner(1, cluster, worker_resources=needs or None) as run:
        if needs and isinstance(run, cluster_mod.Dask):
            cluster_mod.require_resource(run.client, "GPU")
        jobs = [
            cluster_mod.Job(
                f"rerun-{week}-{c.student}-{c.run}-{uuid.uuid4().hex[:6]}",
                f"{c.student}/{c.run}",
                rerun_task,
                functools.partial(_task_args, root, week, c, env, timeout, memory_mb, isolation),
                needs,
            )
            for c in chosen
        ]
        cluster_mod.run_all(run, jobs, store)
    results = [entries[k] for k in sorted(entries)]
    atomic_write(root / "results" / week / "reruns.json", json.dumps(results, indent=1))
    return results


def _task_args(root: Path, week: str, c: Candidate, env: dict, timeout: float, memory_mb: int, isolation: str) -> tuple:
    return tasks.package_submission(root, week, c.student), c.notebook, c.run, env, timeout, memory_mb, isolation


def _require_local_gpu() -> None:
    import torch

    if not torch.cuda.is_available():
        raise UserError(
            "no GPU here (torch.cuda.is_available() is False): use --cluster with GPU workers, "
            "or --device cpu for a CPU check of the re-run path"
        )


def format_table(entries: list[dict]) -> str:
    lines = ["| student | run | submitted | reproduced | allowed | outcome |", "|---|---|---|---|---|---|"]
    for e in entries:
        got = "–" if e["reproduced"] is None else f"{e['reproduced']:.4f}"
        allowed = "–" if e["allowed"] is None else f"±{e['allowed']:.4f}"
        outcome = e["outcome"] if e["outcome"] == "reproduced" else f"**review**: {e['reason']}"
        lines.append(f"| {e['student']} | {e['run']} | {e['submitted']:.4f} | {got} | {allowed} | {outcome} |")
    return "\n".join(lines) + "\n"
