"""The course's contract and student API.

    from course import load_course_data, evaluate, final_evaluation, settings, LABELS, NUM_LABELS

Names are resolved on first use (PEP 562): importing `course.metrics` or `course.slices` does not
load pandas-heavy data code, and `LABELS` / `NUM_LABELS` are read from the active course's contract
only when a notebook asks for them.
"""

__all__ = ["load_course_data", "evaluate", "final_evaluation", "settings", "LABELS", "NUM_LABELS"]


def __getattr__(name: str):
    if name not in __all__:  # submodule look-ups must fall through to the import system
        raise AttributeError(f"module 'course' has no attribute {name!r}")
    import importlib

    api = importlib.import_module("course.api")
    if name in ("LABELS", "NUM_LABELS"):
        labels = api.course_labels()
        return labels if name == "LABELS" else len(labels)
    return getattr(api, name)
