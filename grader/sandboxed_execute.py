"""nbgrader's Execute step, run in the grading sandbox instead of in nbgrader's own process.

nbgrader autograde restores the hidden tests and then executes the notebook; by default its kernel
would run the student's code with the grader's own view of the disk (other students' work, the
instructor's source, the grader's cache). This preprocessor takes Execute's place in
`Autograde.autograde_preprocessors`: the notebook runs in `notebooks.sandbox` (sealed where the
machine allows), every cell even after an error (each test cell is scored on its own), and the run
records it writes come back beside the autograded notebook, where the record layers read them.

The grading run passes its settings through the environment of the nbgrader command: COURSE_* for the
kernel, GRADER_ISOLATION, GRADER_SCRATCH, GRADER_TIMEOUT_S and GRADER_MEMORY_MB.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import nbformat
from nbgrader.preprocessors import Execute

from notebooks import sandbox


class SandboxedExecute(Execute):
    def preprocess(self, nb, resources):
        folder = Path(resources.get("metadata", {}).get("path") or ".")
        name = resources.get("unique_key", "notebook")
        scratch = Path(os.environ.get("GRADER_SCRATCH") or tempfile.mkdtemp(prefix="autograde-"))
        workdir = scratch / f"autograde-{name}"
        if workdir.exists():
            shutil.rmtree(workdir)
        source = scratch / f"{name}.ipynb"
        scratch.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, source)
        env = {k: v for k, v in os.environ.items() if k.startswith("COURSE_")}
        cache = os.environ.get("COURSE_CACHE")
        run = sandbox.execute_notebook(
            source,
            workdir,
            env=env,
            timeout_s=float(os.environ.get("GRADER_TIMEOUT_S", 600)),
            cell_timeout_s=float(self.timeout or 300),
            memory_mb=int(os.environ.get("GRADER_MEMORY_MB", 6144)),
            isolation=os.environ.get("GRADER_ISOLATION", "auto"),
            writable=[Path(cache)] if cache else [],  # this run's own copy (the tokenizer cache is there)
            allow_errors=True,
        )
        if run.output_path is None:
            raise RuntimeError(f"{name}: the sandbox executed nothing: {run.message}")
        if (workdir / "runs").is_dir():
            shutil.copytree(workdir / "runs", folder / "runs", dirs_exist_ok=True)
        return nbformat.read(run.output_path, as_version=4), resources
