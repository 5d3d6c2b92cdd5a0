"""How strongly a sandboxed notebook is kept apart from the machine: the isolation modes and their probes.

- "sealed" (bubblewrap): new namespaces (network with loopback only, PID, IPC, UTS, mount), no
  capabilities, a fresh /tmp, and only these folders mounted: the system's and Python's own
  (read-only), the notebook's folder, and what the caller lets it read (the perturbed course copy).
  Other students' work, the instructor's source, the grader's cache and home are not there at all.
- "netns" (`unshare`): network and PID namespaces; the disk is the grader's, as far as permissions go.
- "socket-guard": a Python socket guard only, where no namespace can be made.
Grading requires "sealed" unless the instructor allows weaker isolation (`course grade
--allow-weak-sandbox`), and then every result says which ran.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


ISOLATIONS = ("sealed", "netns", "socket-guard")  # strongest first


def choose_isolation(isolation: str) -> str:
    """The mode to run in: the one asked for (which must work here), or under "auto" the strongest that does."""
    if isolation not in ("auto", *ISOLATIONS):
        raise ValueError(f"isolation must be 'auto' or one of {', '.join(ISOLATIONS)}, not {isolation!r}")
    available = {"sealed": sealed_available(), "netns": bool(netns_prefix()), "socket-guard": True}
    if isolation == "auto":
        return next(mode for mode in ISOLATIONS if available[mode])
    if not available[isolation]:
        raise SandboxUnavailable(
            "a sealed sandbox needs bubblewrap (apt-get install bubblewrap) and permission to create namespaces"
            if isolation == "sealed"
            else "network namespaces are not available here (unshare missing or not permitted)"
        )
    return isolation


class SandboxUnavailable(RuntimeError):
    """The isolation asked for cannot be had on this machine."""


# What a sealed notebook may read besides its own folder: the system and Python, read-only. Parts of the
# project a student must not see are masked even where they lie inside those folders.
SYSTEM_PATHS = ("/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc", "/opt")
IMPORTABLE = ("course", "grader", "notebooks")  # what a notebook and its hidden tests import
MASKED = ("reference_solutions", "leaderboard", "harness", "assignments", "tests", "benchmarks", ".git")


def _python_paths() -> list[Path]:
    """Folders the interpreter and the importable packages live in: a venv, its base Python, any other
    site-packages on the path (a .pth can add one), and the project's importable packages."""
    paths = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    paths |= {Path(p).resolve() for p in sys.path if p and Path(p).name in ("site-packages", "dist-packages")}
    paths |= {PROJECT_ROOT / name for name in IMPORTABLE}  # siblings of this package, checkout or wheel
    return sorted(p for p in paths if not any(p.is_relative_to(s) for s in SYSTEM_PATHS))


def sealed_prefix(writable: Sequence[Path], readable: Sequence[Path]) -> list[str]:
    """A bubblewrap command line: new namespaces (network with loopback only, PID, IPC, UTS, mount), no
    capabilities, a fresh /tmp, and only the listed folders mounted (plus the NVIDIA device files, where
    there are any, so a GPU re-run is sealed too)."""
    args = [
        shutil.which("bwrap") or "bwrap",
        "--die-with-parent",
        "--unshare-all",
        "--cap-drop",
        "ALL",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
    ]
    for path in [*(Path(p) for p in SYSTEM_PATHS), *_python_paths()]:
        if path.exists():
            args += ["--ro-bind", str(path), str(path)]
    for path in map(Path, readable):  # at the path the notebook is told, even where that is a symlink
        if path.exists():
            args += ["--ro-bind", str(path.resolve()), str(path.absolute())]
    for root in {p.parent for p in _python_paths()}:  # the project beside an editable install's packages
        args += [arg for name in MASKED if (root / name).is_dir() for arg in ("--tmpfs", str(root / name))]
    for path in map(Path, writable):
        args += ["--bind", str(path.resolve()), str(path.absolute())]
    for device in sorted(glob.glob("/dev/nvidia*")):  # a GPU worker's devices: CUDA needs them, nothing else
        args += ["--dev-bind", device, device]
    return args


@functools.cache
def sealed_available() -> bool:
    """Whether bubblewrap can seal a process here (probed once per process)."""
    if shutil.which("bwrap") is None:
        return False
    try:
        probe = subprocess.run(
            [*sealed_prefix([], []), sys.executable, "-P", "-c", "pass"], capture_output=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


@functools.cache
def netns_prefix() -> tuple[str, ...]:
    """An `unshare` command that gives the child new network, PID and mount namespaces, or () if none works.

    Plain `unshare` needs root; `--user --map-root-user` lets an ordinary user do the same where user
    namespaces are enabled. Probed once per process by bringing loopback up inside, as the child will.
    """
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    for user in ((), ("--user", "--map-root-user")):
        prefix = (unshare, *user, "--net", "--pid", "--mount-proc", "--fork", "--kill-child")
        try:
            probe = subprocess.run(
                [*prefix, sys.executable, "-P", "-m", "notebooks.sandbox", "--probe"],
                env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(PROJECT_ROOT)},
                capture_output=True,
                timeout=30,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return prefix
    return ()
