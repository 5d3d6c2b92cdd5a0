"""Layer 10: a full-evidence run is scored on the student's own full-profile record, verified.

For a run that says `evidence: full` in grading.yaml, the submitted record (`runs/<run>.json` beside
the executed notebook) is checked against the full course (`grader.evidence.verify`), and its
recomputed metrics replace the smoke re-run's on the results, the boards and the metric check. The
smoke re-run stays what it was: the certificate that the code never let test data in. Its verdict,
per run: "passed", "failed" (a critical static, access-log or invariance finding, which also withholds
the run's metric points pending review) or "not run" (the re-run wrote no usable record).
"""

from __future__ import annotations

import os

from course import bands
from course.catalog import CourseData, cached_course
from course.profiles import from_env
from grader import evidence as verifier
from grader.artifacts import RecordCheck
from grader.findings import Finding
from grader.grading import Grading, RunEvidence

CERTIFYING_LAYERS = ("static", "access-log", "invariance")


def full_course(profile: str) -> CourseData:
    """The course a full-profile record must belong to, with the grader's own labels (COURSE_DATA_DIR and
    COURSE_CONTRACT_DIR point at the real course's raw files and contract)."""
    s = from_env({**os.environ, "COURSE_PROFILE": profile, "COURSE_MODE": "submit"})
    return cached_course(
        s.course, str(s.data_dir) if s.data_dir else None, str(s.contract_dir) if s.contract_dir else None
    )


def certificate(g: Grading, e: RunEvidence) -> str:
    """The smoke re-run's verdict on the code that wrote this run."""

    def concerns(f: Finding) -> bool:
        return f.run == e.name or f.notebook == e.spec["notebook"] or (f.run is None and f.notebook is None)

    found = [f for f in g.result.findings if f.layer in CERTIFYING_LAYERS and concerns(f)]
    if any(f.severity == "critical" for f in found):
        return "failed"
    if not e.check.usable or any(f.rule == "invariance-missing" for f in found):
        return "not run"
    return "passed"


def full_evidence(g: Grading) -> None:
    """Verify each full-evidence run's submitted record; its recomputed metrics become the run's."""
    profile = g.spec.get("full_evidence", {}).get("profile", "full")
    for e in [e for e in g.runs.values() if e.spec.get("evidence", "smoke") == "full"]:
        band_name = e.spec.get("full_band", e.spec.get("band"))
        band = bands.lookup(profile, *band_name.split("/")) if band_name else None
        floor = bands.lookup(profile, *e.spec["floor"].split("/")) if "floor" in e.spec else None
        smoke_val = e.measured["val"]["macro_f1"] if e.measured else None
        verdict = certificate(g, e)
        record_path = g.submitted / "runs" / f"{e.name}.json"
        full = verifier.verify(record_path, g.submitted / e.spec["notebook"], full_course(profile), profile, band)
        g.add(full.findings)
        e.check = RecordCheck(full.check.record, e.check.findings + full.check.findings, full.check.predictions)
        e.band, e.floor, e.band_profile, e.measured = band, floor, profile, full.measured
        if full.measured is None:
            g.result.metrics.pop(e.name, None)
            continue
        record = full.check.record
        full.measured.update(
            evidence="full",
            certificate=verdict,
            smoke_val_macro_f1=smoke_val,
            band=band,
            latency_ms=record.ms_per_example("test"),
            trainable_parameters=record.extra.get("trainable_parameters"),
            device=record.provenance.get("device"),
        )
        g.result.metrics[e.name] = full.measured
