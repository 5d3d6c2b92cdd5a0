"""A student's install: the API, the public checks and the self-check work without the instructor's tools.

`pip install course-harness` on Kaggle or Colab brings only pyproject's `dependencies`; nbgrader, Jinja2,
ONNX, peft, bitsandbytes and Dask come with the `instructor` extra. Here a process that cannot import
any of them runs what a student runs: the student API on the smoke course, a public check and
`course check` on a notebook.
"""

import os
import subprocess
import sys
import textwrap

import nbformat

INSTRUCTOR_ONLY = (
    "nbgrader",
    "jinja2",
    "onnx",
    "onnxruntime",
    "peft",
    "bitsandbytes",
    "distributed",
    "dask",
    "tabulate",
    "reference_solutions",
    "leaderboard",
)

BLOCK = textwrap.dedent(f"""
    import sys
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {INSTRUCTOR_ONLY!r}:
                raise ImportError(f"{{name}} is not part of a student's install")
    sys.meta_path.insert(0, Block())
""")


def run(code: str, tmp_path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "COURSE_PROFILE": "smoke",
        "COURSE_MODE": "self-check",
        "COURSE_RUNS_DIR": str(tmp_path / "runs"),
    }
    return subprocess.run(
        [sys.executable, "-c", BLOCK + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=600,
    )


def test_the_student_api_and_public_checks_need_no_instructor_tools(tmp_path):
    proc = run(
        """
        import numpy as np
        from course import load_course_data, evaluate, final_evaluation, settings, LABELS, NUM_LABELS
        from grader.checks import check_metrics, check_run
        train_ds, val_ds = load_course_data()
        majority = int(np.bincount(train_ds["label"], minlength=NUM_LABELS).argmax())
        check_metrics(evaluate(val_ds["label"], [majority] * len(val_ds)))
        final_evaluation(lambda texts: [majority] * len(texts), run="majority")
        check_run("majority")
        try:
            import reference_solutions
        except ImportError as err:
            print("blocked:", err)
    """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "blocked: reference_solutions is not part of a student's install" in proc.stdout


def test_the_self_check_needs_no_instructor_tools(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import numpy as np\nfrom course import load_course_data, final_evaluation\n"
            "train_ds, val_ds = load_course_data()\nmajority = int(np.bincount(train_ds['label']).argmax())\n"
            "final_evaluation(lambda texts: [majority] * len(texts), run='majority')"
        )
    ]
    nbformat.write(nb, tmp_path / "mine.ipynb")
    proc = run(
        """
        from harness.cli import main
        raise SystemExit(main(["check", "mine.ipynb"]))
    """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "notebook runs" in proc.stdout and "Hidden checks" in proc.stdout
