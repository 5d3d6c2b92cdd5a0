"""The last layer: the week's checks and their points, from what the other layers found.

Points per check are explicit in grading.yaml; 0 means 0. Integrity: 0 with a critical finding of an
integrity layer, half with a major one. Metric points rise linearly from the floor to the band's lower
edge (DESIGN.md "Bands and scores").
"""

from __future__ import annotations

import numpy as np

from grader.findings import Finding
from grader.grading import Grading, RunEvidence
from grader.results import Check

SCORED_INTEGRITY_LAYERS = ("static", "access-log", "invariance", "evidence")


def metric_points(value: float, floor: float, lower: float, points: float) -> float:
    """Linear from the floor (0 points) to the band's lower edge (full points); clipped to [0, points].

    >>> metric_points(0.15, 0.05, 0.25, 30), metric_points(0.30, 0.05, 0.25, 30), metric_points(0.01, 0.05, 0.25, 30)
    (15.0, 30.0, 0.0)
    """
    if lower <= floor:
        return points if value >= lower else 0.0
    return float(np.clip((value - floor) / (lower - floor), 0.0, 1.0) * points)


def metric_check(e: RunEvidence, profile: str) -> Check:
    """Val macro-F1 scored from the floor band's mean (0 points) to the band's lower edge (full points)."""
    name, points = f"{e.name}: val macro-F1", e.spec["points"]
    if not e.check.usable:
        return Check(name, 0.0, points, "no usable run record")
    profile = e.band_profile or profile
    if e.band is None:
        return Check(name, 0.0, points, f"no {profile} band for {e.spec['band']}: ask the instructor")
    value = e.measured["val"]["macro_f1"]
    low = e.floor["mean"] if e.floor else 0.0
    return Check(
        name,
        metric_points(value, low, e.band["lower"], points),
        points,
        f"{'your full run: ' if e.band_profile else ''}val macro-F1 {value:.4f}; 0 points at the floor {low:.4f}, "
        f"full points at the {profile} band's lower edge {e.band['lower']:.4f}",
    )


def integrity_points(findings: list[Finding], points: float) -> float:
    """0 with a critical finding of an integrity layer, half with a major one (a review that dismisses a
    finding recomputes this without it)."""
    severities = {f.severity for f in findings if f.layer in SCORED_INTEGRITY_LAYERS}
    return 0.0 if "critical" in severities else points / 2 if "major" in severities else points


def scoring(g: Grading) -> None:
    checks, result = g.spec["checks"], g.result
    result.checks += [metric_check(e, g.profile) for e in g.runs.values() if e.scored]
    fixed_ok = not any(f.severity in ("critical", "major") for e in g.runs.values() for f in e.check.findings)
    consistency_ok = not any(f.layer == "consistency" for f in result.findings)
    integrity = integrity_points(result.findings, checks["integrity"])
    result.checks.append(
        Check(
            "fixed split",
            checks["fixed_split"] if fixed_ok else 0.0,
            checks["fixed_split"],
            "fingerprints and prediction ids match the course"
            if fixed_ok
            else "the run record does not match the fixed split (see findings)",
        )
    )
    result.checks.append(
        Check(
            "integrity",
            integrity,
            checks["integrity"],
            "no test-set use found"
            if integrity == checks["integrity"]
            else "test-set use or leakage found (see findings)",
        )
    )
    result.checks.append(
        Check(
            "consistency",
            checks["consistency"] if consistency_ok else 0.0,
            checks["consistency"],
            "printed and cited numbers match the run"
            if consistency_ok
            else "some printed or cited numbers match no measurement (see findings)",
        )
    )
