"""The checks that notebook test cells call, so nbgrader, `course check` and pytest run the same code.

Each check raises `AssertionError` with a message a student can act on (what failed, where, how to
fix it) and returns what it verified. Public checks appear in released notebooks; hidden checks are
added back at grading (nbgrader's hidden-test regions) and compare against the reference bands.
"""

from __future__ import annotations

from pathlib import Path

from course import api
from grader import artifacts
from reference_solutions import bands


def _record_path(run: str) -> Path:
    return Path(api.settings.runs_dir) / f"{run}.json"


def check_run(run: str) -> dict:
    """The run record exists and is complete: fixed split, every val and test id once, sane labels."""
    path = _record_path(run)
    assert path.is_file(), (
        f"no run record {path}: call final_evaluation(predict, run={run!r}) once, at the end of the notebook")
    check = artifacts.check_record(path, api.store().data)
    problems = [f"[{f.rule}] {f.message}" for f in check.findings]
    assert not problems, f"run record {path} has problems:\n  " + "\n  ".join(problems)
    return check.record


def check_metrics(m: dict) -> None:
    """`m` is what `evaluate` returns: keys present, values in [0, 1], macro-F1 over all labels."""
    assert isinstance(m, dict), f"expected the dict returned by evaluate(...), got {type(m).__name__}"
    missing = [k for k in ("accuracy", "macro_f1", "weighted_f1", "zero_f1_classes") if k not in m]
    assert not missing, f"missing metric(s) {missing}: compute them with course.evaluate(y_true, y_pred)"
    for key in ("accuracy", "macro_f1", "weighted_f1"):
        assert 0.0 <= m[key] <= 1.0, f"{key} = {m[key]} is not in [0, 1]"


def check_val_above(run: str, minimum: float) -> float:
    """Val macro-F1 of a run is above `minimum` (e.g. clearly better than the majority class)."""
    value = check_run(run)["metrics"]["val"]["macro_f1"]
    assert value > minimum, (
        f"val macro-F1 of {run!r} is {value:.4f}, not above {minimum:.4f}: the model learned little; "
        f"check that you fit on train_ds and predict the texts you are given")
    return value


def check_band(run: str, week: str, pipeline: str) -> float:
    """Hidden check: val macro-F1 reaches the lower edge of the week's reference band for this profile."""
    value = check_run(run)["metrics"]["val"]["macro_f1"]
    band = bands.lookup(api.settings.profile, week, pipeline)
    assert band is not None, f"no {api.settings.profile} band for {week}/{pipeline}: ask the instructor"
    assert value >= band["lower"], (
        f"val macro-F1 {value:.4f} is below the reference band [{band['lower']:.4f}, {band['upper']:.4f}] "
        f"for {week}/{pipeline}")
    return value
