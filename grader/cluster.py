"""Where a batch of tasks runs: in this process, on a local process pool, or on a Dask cluster.

The three runners take the same `Job`s and hand back the same values, so a week graded on a cluster
is the week graded here. `run_all` keeps a bounded number of jobs in flight (a job's packages are built
only when it is submitted), stores each result as it arrives (an interrupt keeps what was done), and
draws a progress bar on stderr. Dask is imported only on the cluster path: `course grade --workers N`
needs nothing beyond the standard library. Worker deaths are Dask's to handle: a task on a worker that
dies runs again elsewhere (the scheduler's `allowed-failures`), and a task that raises is retried.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field

from tqdm import tqdm

from course.errors import InputError, UserError

RETRIES = 2


@dataclass
class Job:
    """One task: `fn(*make_args())`, under `key` in Dask's dashboard, for `label` (a student)."""

    key: str
    label: str
    fn: Callable
    make_args: Callable[[], tuple]
    resources: dict[str, float] = field(default_factory=dict)  # Dask worker resources, e.g. {"GPU": 1}


class Inline:
    """One job at a time in this process (`--workers 1`)."""

    def slots(self) -> int:
        return 1

    def share(self, value, key: str):
        return value

    def submit(self, job: Job) -> Future:
        future: Future = Future()
        try:
            future.set_result(job.fn(*job.make_args()))
        except Exception as err:  # the batch goes on; on_done records it for this job
            future.set_exception(err)
        return future

    def wait(self, futures: list):
        return wait(futures, return_when=FIRST_COMPLETED)

    def cancel(self, futures: list) -> None:
        pass

    def release(self, future) -> None:
        pass


class Pool(Inline):
    """A local process pool (`--workers N`)."""

    def __init__(self, pool: ProcessPoolExecutor, workers: int):
        self.pool, self.workers = pool, workers

    def slots(self) -> int:
        return 2 * self.workers

    def submit(self, job: Job) -> Future:
        return self.pool.submit(job.fn, *job.make_args())

    def cancel(self, futures: list) -> None:
        for future in futures:
            future.cancel()


class Dask:
    """A Dask cluster (`--cluster ADDRESS` or `local:N`)."""

    def __init__(self, client):
        self.client = client

    def slots(self) -> int:
        return max(8, 2 * sum(self.client.nthreads().values()))  # a cluster that is still scaling up gets 8

    def share(self, value, key: str):
        """Sent once, kept by the cluster under `key`; a task that needs it fetches it from a peer. As a
        task (not scattered data) it is recomputed if the worker holding it dies."""
        return self.client.submit(_identity, value, key=key, pure=False)

    def submit(self, job: Job):
        return self.client.submit(
            job.fn, *job.make_args(), key=job.key, pure=False, retries=RETRIES, resources=job.resources or None
        )

    def wait(self, futures: list):
        from distributed import wait as dask_wait

        return dask_wait(futures, return_when="FIRST_COMPLETED")

    def cancel(self, futures: list) -> None:
        self.client.cancel(futures)

    def release(self, future) -> None:
        """Forget a collected result: the worker frees it, and a later worker death does not recompute it."""
        future.release()


def _identity(value):
    return value


@contextmanager
def runner(workers: int = 1, cluster: str | None = None, worker_resources: dict | None = None) -> Iterator:
    """The runner for `--cluster` if given, else a pool of `workers` processes, else this process."""
    if cluster:
        with connect(cluster, worker_resources) as client:
            yield Dask(client)
    elif workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            yield Pool(pool, workers)
    else:
        yield Inline()


@contextmanager
def connect(address: str, worker_resources: dict | None = None) -> Iterator:
    """A client of the scheduler at `address`, or of a new `LocalCluster` for "local:N" (N single-threaded
    worker processes on this machine, each advertising `worker_resources`)."""
    try:
        from distributed import Client
    except ImportError as err:
        raise UserError("--cluster needs Dask distributed: pip install 'course-harness[cluster]'") from err
    if address.startswith("local:"):
        n = address.removeprefix("local:")
        if not n.isdigit() or int(n) < 1:
            raise InputError(f"--cluster {address!r}: expected local:N, N worker processes (N >= 1)")
        client = Client(
            n_workers=int(n),
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
            resources=worker_resources,
        )
    else:
        try:
            client = Client(address, timeout="20s")
        except (OSError, TimeoutError) as err:
            raise UserError(f"cannot reach the Dask scheduler at {address}: {err}") from err
    print(f"Dask dashboard: {client.dashboard_link}", file=sys.stderr)
    try:
        yield client
    finally:
        client.close()


def _resources(dask_scheduler) -> dict[str, dict]:
    return {address: dict(ws.resources) for address, ws in dask_scheduler.workers.items()}


def require_resource(client, name: str) -> None:
    """Refuse, before submitting anything, work that needs a resource no worker has: it would wait forever."""
    workers = client.run_on_scheduler(_resources)
    if not any(resources.get(name, 0) > 0 for resources in workers.values()):
        raise UserError(
            f"no worker of the Dask cluster at {client.scheduler.address} advertises a {name} resource "
            f"({len(workers)} worker(s)); start GPU workers with `--resources {name}=1`"
        )


def run_all(runner, jobs: list[Job], on_done: Callable[[Job, object, BaseException | None], bool]) -> None:
    """Every job through `runner`; `on_done(job, value, error)` stores one result and says if it failed."""
    queue, pending, failed = list(reversed(jobs)), {}, 0
    with tqdm(total=len(jobs), unit="task", file=sys.stderr, disable=None, dynamic_ncols=True) as bar:
        try:
            while queue or pending:
                while queue and len(pending) < runner.slots():
                    job = queue.pop()
                    pending[runner.submit(job)] = job
                done, _ = runner.wait(list(pending))
                for future in done:
                    job = pending.pop(future)
                    try:
                        value, error = future.result(), None
                    except Exception as err:  # the task itself broke (or its worker died too often)
                        value, error = None, err
                    runner.release(future)
                    failed += bool(on_done(job, value, error))
                    bar.update(1)
                    bar.set_postfix(done=bar.n - failed, failed=failed, remaining=len(queue) + len(pending))
        except KeyboardInterrupt:
            runner.cancel(list(pending))
            raise
