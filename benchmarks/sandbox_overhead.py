"""What the grading sandbox costs: plain nbclient against `notebooks.sandbox.execute_notebook`, side by side.

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sandbox_overhead.py [--repeats 5]

Both run the same trivial notebook (one print) with the same kernel, alternating, after one warm-up run of
each (the first sandbox call also probes `unshare` once per process). Kernel start-up dominates both; the
sandbox adds a Python child process, the namespaces (or the socket guard) and the copy. Prints the median
seconds of each, and the ratio sandbox / plain, for each isolation mode available here.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from notebooks import isolation, sandbox


def plain(path: Path) -> float:
    start = time.monotonic()
    NotebookClient(nbformat.read(path, as_version=4), kernel_name="python3").execute()
    return time.monotonic() - start


def sandboxed(path: Path, scratch: Path, isolation: str) -> float:
    start = time.monotonic()
    result = sandbox.execute_notebook(path, Path(tempfile.mkdtemp(dir=scratch)) / "work", isolation=isolation)
    assert result.status == "ok", result.message
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    modes = ["netns", "socket-guard"] if isolation.netns_prefix() else ["socket-guard"]
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "trivial.ipynb"
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('hi')")]), path)
        plain(path)
        for mode in modes:
            sandboxed(path, Path(scratch), mode)
        times: dict[str, list[float]] = {"plain": [], **{mode: [] for mode in modes}}
        for _ in range(args.repeats):
            times["plain"].append(plain(path))
            for mode in modes:
                times[mode].append(sandboxed(path, Path(scratch), mode))
    base = statistics.median(times["plain"])
    print(f"plain nbclient        {base:6.2f} s (median of {args.repeats})")
    for mode in modes:
        seconds = statistics.median(times[mode])
        print(f"sandbox {mode:<13} {seconds:6.2f} s   ratio {seconds / base:4.2f}   overhead {seconds - base:+.2f} s")


if __name__ == "__main__":
    main()
