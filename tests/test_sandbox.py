"""The grading sandbox on real kernels, no mocks: each way a submission can go wrong (an exception, a hang, a
memory bomb, a download, a dead kernel, a corrupt file) ends as one status that names the cell, the grader
survives it, and nothing the notebook started is left running."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import nbformat
import psutil
import pytest

from notebooks import sandbox
from notebooks.isolation import netns_prefix, sealed_available
from notebooks.sandbox import ExecResult, execute_notebook

NOTEBOOKS = Path(__file__).parent / "fixture_notebooks" / "sandbox"
ISOLATIONS = ["sealed", "netns", "socket-guard"]


def run(name: str, workdir: Path, **options) -> ExecResult:
    options = {"timeout_s": 60, "cell_timeout_s": 30} | options
    return execute_notebook(NOTEBOOKS / name, workdir, **options)


def outputs(result: ExecResult) -> list[str]:
    """Every stream and result text of the executed notebook, in order."""
    nb = nbformat.read(result.output_path, as_version=4)
    texts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text") or output.get("data", {}).get("text/plain", ""))
    return texts


@pytest.fixture(params=ISOLATIONS)
def isolation(request) -> str:
    if request.param == "netns" and not netns_prefix():
        pytest.skip("network namespaces are not available here (unshare missing or not permitted)")
    if request.param == "sealed" and not sealed_available():
        pytest.skip("bubblewrap cannot seal here (.ci/run installs it)")
    return request.param


@pytest.fixture(autouse=True)
def nothing_left_running():
    before = {p.pid for p in psutil.Process().children(recursive=True)}  # e.g. multiprocessing's own helpers
    yield
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    assert left == [], [" ".join(p.cmdline()) for p in left]


@pytest.fixture(scope="module")
def ok_run(tmp_path_factory) -> tuple[ExecResult, bytes, float]:
    """One clean run shared by the tests of the normal path, with the original's bytes and mtime before."""
    original = NOTEBOOKS / "ok.ipynb"
    before, mtime = original.read_bytes(), original.stat().st_mtime
    result = run(
        "ok.ipynb",
        tmp_path_factory.mktemp("ok") / "work",
        env={"COURSE_MODE": "grading"},
        copy_files=[NOTEBOOKS / "extra_file.txt"],
    )
    return result, before, mtime


def test_ok_notebook_runs_with_outputs_saved(ok_run):
    result, _, _ = ok_run
    assert (result.status, result.cell) == ("ok", None), result.message
    assert result.isolation in ISOLATIONS
    assert result.output_path.is_file() and result.output_path.parent.name == "work"
    texts = outputs(result)
    assert "42" in texts
    assert "extra file for the sandbox\n\n" in texts  # copy_files reached the scratch folder
    assert f"course from {sandbox.PROJECT_ROOT}\n" in texts  # `import course` works in the kernel


def test_original_untouched_and_cwd_is_scratch(ok_run):
    result, before, mtime = ok_run
    original = NOTEBOOKS / "ok.ipynb"
    assert original.read_bytes() == before and original.stat().st_mtime == mtime
    workdir = result.output_path.parent
    assert (workdir / "written_by_notebook.txt").read_text() == "scratch"
    assert not (NOTEBOOKS / "written_by_notebook.txt").exists()
    assert not (Path.cwd() / "written_by_notebook.txt").exists()
    texts = outputs(result)
    assert f"cwd {workdir}\nhome {workdir / '.home'}\n" in texts


def test_env_reaches_the_kernel(ok_run):
    result, _, _ = ok_run
    assert "mode grading\n" in outputs(result)


def test_cell_error_names_cell_and_exception_and_keeps_outputs(tmp_path):
    result = run("error.ipynb", tmp_path / "work")
    assert (result.status, result.cell) == ("error", 1)
    assert "Cell 1" in result.message and "ZeroDivisionError: division by zero" in result.message
    assert "helper" in result.message  # where it happened: the traceback's last frame
    nb = nbformat.read(result.output_path, as_version=4)
    assert nb.cells[0].execution_count == 1
    assert nb.cells[1].outputs[0].ename == "ZeroDivisionError"
    assert nb.cells[2].outputs == []  # execution stopped at the failing cell


def test_cell_that_never_ends_times_out(tmp_path):
    result = run("slow_cell.ipynb", tmp_path / "work", cell_timeout_s=3)
    assert (result.status, result.cell) == ("timeout", 1), result.message
    assert "per-cell limit of 3 s" in result.message
    assert result.seconds < 20
    assert outputs(result)[0] == "started\n"


@pytest.mark.parametrize("name, cell", [("memory_bomb.ipynb", 0), ("memory_growth.ipynb", 1)])
def test_memory_bomb_is_reported_as_memory(tmp_path, name, cell):
    result = run(name, tmp_path / "work", memory_mb=1024)
    assert (result.status, result.cell) == ("memory", cell), result.message
    assert "1024 MB" in result.message


@pytest.mark.parametrize("name, cell", [("network_socket.ipynb", 1), ("network_urlopen.ipynb", 0)])
def test_network_is_refused(tmp_path, isolation, name, cell):
    result = run(name, tmp_path / "work", isolation=isolation)
    assert (result.status, result.cell, result.isolation) == ("network", cell, isolation), result.message
    assert "disabled during grading" in result.message


def test_loopback_still_works(tmp_path, isolation):
    result = run("loopback.ipynb", tmp_path / "work", isolation=isolation)
    assert result.status == "ok", result.message
    assert outputs(result) == ["loopback ok\n"]


def test_killed_kernel_is_dead_kernel(tmp_path):
    result = run("kernel_killer.ipynb", tmp_path / "work")
    assert (result.status, result.cell) == ("dead-kernel", 1), result.message
    assert "SIGKILL" in result.message


@pytest.mark.parametrize(
    "name",
    [
        "corrupt_json.ipynb",
        "not_a_notebook.ipynb",
        "no_cells.ipynb",
        "nbformat3.ipynb",
        "bad_schema.ipynb",
        "absent.ipynb",
    ],
)
def test_corrupt_notebook_is_reported_not_raised(tmp_path, name):
    result = run(name, tmp_path / "work")
    assert (result.status, result.cell, result.output_path) == ("corrupt", None, None)
    assert name in result.message


def test_total_timeout_kills_everything_the_notebook_started(tmp_path, isolation):
    seconds = f"{900 + uuid.uuid4().int % 10**6 / 10**6:.6f}"  # a `sleep` this test can recognise
    result = run(
        "detached_sleeper.ipynb",
        tmp_path / "work",
        isolation=isolation,
        timeout_s=6,
        cell_timeout_s=300,
        env={"SLEEPER_SECONDS": seconds},
    )
    assert (result.status, result.cell) == ("timeout", 1), result.message
    assert "total limit of 6 s" in result.message
    assert result.seconds < 6 + sandbox.GRACE_S
    assert outputs(result) == ["sleeper started\n"]
    assert not [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", seconds]]


def test_frozen_notebook_runner_is_killed_at_the_total_limit(tmp_path, isolation):
    """A cell that stops nbclient: in a PID namespace the signal cannot reach it (the cell times out as
    usual); with the socket guard the parent's backstop kills the whole tree after the grace period."""
    result = run("frozen_grader.ipynb", tmp_path / "work", isolation=isolation, timeout_s=4)
    assert result.status == "timeout", result.message
    assert result.seconds < 4 + sandbox.GRACE_S + 3
    if isolation == "netns":
        assert result.cell == 1
    else:
        assert result.cell is None and "was killed" in result.message


def test_a_bad_notebook_does_not_affect_the_next_run(tmp_path):
    assert run("kernel_killer.ipynb", tmp_path / "bad").status == "dead-kernel"
    assert run("memory_bomb.ipynb", tmp_path / "worse", memory_mb=1024).status == "memory"
    result = run("loopback.ipynb", tmp_path / "good")
    assert result.status == "ok", result.message


def test_workdir_must_be_fresh(tmp_path):
    (tmp_path / "leftover.txt").write_text("from an earlier run")
    with pytest.raises(ValueError, match="new or empty"):
        run("ok.ipynb", tmp_path)


def test_importing_the_guard_patches_nothing():
    """The guard is meant to load as the kernel's sitecustomize; imported by the grader it must stay inert."""
    connect = socket.socket.connect
    import notebooks.kernel_guard  # noqa: F401

    assert socket.socket.connect is connect


def test_torch_training_runs_under_the_memory_limit(tmp_path):
    """RLIMIT_AS counts reserved address space, not memory used: torch must still import and train under it."""
    result = run("torch_train.ipynb", tmp_path / "work", memory_mb=2048)
    assert result.status == "ok", result.message
    assert outputs(result) == ["trained True\n"]
