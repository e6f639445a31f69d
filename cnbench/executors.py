"""Where a sweep's runs are carried out: ``LocalExecutor`` (the default) or ``RayExecutor``.

An executor says which runs are written already (``written``, asked before the sweep starts),
gets the sweep's pending runs (each already planned, none repeated) and yields ``(job, result,
error)`` for each one as it finishes: the result document after its file is written to
``job.plan.path`` (a run that crashed once training had started is such a document, status
"failed"), or the one-line reason it could not run or crashed before training. It tells the sweep's
``SweepMonitor`` (``watch``) when each run starts and how many run at once.

- ``LocalExecutor`` runs them one after another in this process; ``run`` writes each result and
  shows its progress on the sweep's display. A run that raises anything but ``CnbenchError``
  before its training starts (a GPU out of memory while loading, a bug) is reported as that
  run's error, and the next run goes on.
- ``RayExecutor`` submits each as a Ray task with its resource request (``cpus_per_run``,
  ``gpus_per_run``) to a Ray cluster, and yields results in the order they finish. The task runs
  in a scratch folder on its node and returns the result document; the driver (this process)
  writes it with ``write_json_atomic``. Workers therefore need no shared file system, the
  results folder is written by one process only, and a run is written once: Ray retries a task
  whose worker died (up to ``max_retries`` times), never one that returned. A retried task on the
  same node continues from the run's last end-of-epoch checkpoint in that scratch folder. Every
  node needs cnbench (same version: the driver checks the run key), the task files and the data
  at the same paths; ``ray`` is imported only by this executor (``pip install 'cnbench[ray]'``).
  A run's own progress lines stay in Ray's worker logs; the driver prints a sweep status line
  every ``LINE_SECONDS`` while it waits (when it shows lines).
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from cnbench import distributed
from cnbench.errors import CnbenchError, first_line
from cnbench.progress import Display, SweepMonitor
from cnbench.results import write_json_atomic
from cnbench.train import RunConfig, RunPlan, plan, read_result, resolve_precision, run, written_result

HEARTBEAT_SECONDS = 5.0  # how often the driver wakes while it waits on Ray runs


@dataclass
class Job:
    label: str  # "[3/12] bert lcqmc linear seed 2", for progress lines
    config: RunConfig
    plan: RunPlan


Outcome = tuple[Job, dict | None, str | None]


class LocalExecutor:
    """One run after another in this process."""

    def written(self, planned: RunPlan) -> dict | None:
        """The result ``run`` would find written already, by its own rule: a result made in the
        other precision raises ``CnbenchError``, as ``run`` does, and is not skipped."""
        return written_result(planned.path, _precision_here(planned.config.precision))

    def execute(self, jobs: list[Job], log, watch: SweepMonitor) -> Iterator[Outcome]:
        for job in jobs:
            watch.start()
            log(job.label)
            try:
                result, error = run(job.config, log=log, display=watch.display), None
            except CnbenchError as err:
                result, error = None, str(err)
            except Exception as err:  # an out-of-memory or a bug ends this run, not the sweep
                result, error = None, f"{type(err).__name__}: {first_line(err) or '(no message)'}"
            # Yielded outside the except clause: the exception, and the tensors its traceback
            # holds, are freed before the next run starts.
            yield job, result, error


@cache
def _precision_here(requested: str) -> str:
    """What ``--precision`` resolves to on this machine, as ``run`` resolves it."""
    return resolve_precision(distributed.setup(), requested)


class RayExecutor:
    """Each run a Ray task, on the cluster at ``address``.

    ``address``: ``"auto"`` joins the cluster started on this machine with ``ray start`` (error if
    there is none), ``"local"`` starts a private Ray instance for this sweep, ``host:port`` joins the
    cluster whose head is there, ``None`` does what ``ray.init()`` does (``$RAY_ADDRESS``, else a
    cluster started here, else a private instance). ``cpus_per_run`` is also the run's torch
    thread count; ``gpus_per_run`` is 0 (CPU) up to 1 (a fraction shares a GPU between runs).
    Raises ``CnbenchError`` for a request that cannot be served (more than one GPU per run: a
    multi-GPU run is ``accelerate launch``'s job), when Ray is not installed, and when there is no
    cluster at ``address``.
    """

    def __init__(
        self, address: str | None = None, cpus_per_run: float = 1, gpus_per_run: float = 0, max_retries: int = 2
    ):
        if not 0 <= gpus_per_run <= 1:
            raise CnbenchError(
                f"--gpus-per-run {gpus_per_run:g}: a run uses at most one GPU (0 to 1); "
                "for a run on several GPUs use accelerate launch"
            )
        if cpus_per_run <= 0:
            raise CnbenchError(f"--cpus-per-run {cpus_per_run:g}: expected a positive number")
        if importlib.util.find_spec("ray") is None:
            raise CnbenchError("--executor ray needs Ray: pip install 'cnbench[ray]'")
        self.address, self.cpus_per_run, self.gpus_per_run, self.max_retries = (
            address,
            cpus_per_run,
            gpus_per_run,
            max_retries,
        )

    def written(self, planned: RunPlan) -> dict | None:
        """The result written already, if any. Each worker resolves ``--precision auto`` on its own
        hardware, which is not known here, so a result in either precision counts as written."""
        return read_result(planned.path)

    def execute(self, jobs: list[Job], log, watch: SweepMonitor) -> Iterator[Outcome]:
        if not jobs:
            return
        import ray

        # Quiet: no dashboard, and the runs' epoch lines stay in Ray's worker logs; the driver
        # prints one line per finished run.
        try:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        except ConnectionError as err:  # --address auto without a cluster, or an unreachable one
            raise CnbenchError(f"--address {self.address}: {err}") from None
        try:
            task = ray.remote(_run_on_worker).options(
                num_cpus=self.cpus_per_run, num_gpus=self.gpus_per_run, max_retries=self.max_retries
            )
            threads = max(1, int(self.cpus_per_run))
            pending = {task.remote(job.config, threads): job for job in jobs}
            cluster = ray.cluster_resources()
            log(
                f"ray: {len(pending)} runs submitted ({self.cpus_per_run:g} CPU, {self.gpus_per_run:g} GPU each) "
                f"to a cluster of {cluster.get('CPU', 0):g} CPUs, {cluster.get('GPU', 0):g} GPUs"
            )
            for _ in pending:
                watch.start()
            watch.slots = self._slots(cluster)
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1, timeout=HEARTBEAT_SECONDS)
                if not done:
                    watch.heartbeat()
                    continue
                job = pending.pop(done[0])
                try:
                    document, error = ray.get(done[0])
                except ray.exceptions.RayError as err:  # the worker died max_retries + 1 times, or a bug
                    yield job, None, f"Ray task failed: {str(err).strip().splitlines()[-1]}"
                    continue
                if error is None and document["run_key"] != job.plan.key:
                    error = (
                        f"the worker computed run key {document['run_key']}, this machine {job.plan.key}: "
                        "install the same cnbench and task files on every node"
                    )
                if error is not None:
                    yield job, None, error
                    continue
                write_json_atomic(job.plan.path, document)
                yield job, {**document, "_path": str(job.plan.path)}, None
        finally:
            ray.shutdown()

    def _slots(self, cluster: dict) -> int:
        """How many runs the cluster's resources let go at once (at least one)."""
        slots = cluster.get("CPU", 0) // self.cpus_per_run
        if self.gpus_per_run:
            slots = min(slots, cluster.get("GPU", 0) // self.gpus_per_run)
        return max(1, int(slots))


def _run_on_worker(config: RunConfig, threads: int) -> tuple[dict | None, str | None]:
    """A Ray task's body: ``(result document, None)``, or ``(None, reason)`` for a run that could
    not start (a ``CnbenchError``: retrying would not help, so it is returned, not raised)."""
    import torch

    torch.set_num_threads(threads)  # what the task reserved, whatever this worker ran before
    scratch = Path(tempfile.gettempdir()) / "cnbench-ray" / plan(config).path.stem
    try:
        # Lines, not bars: a worker's output goes to Ray's log files
        result = run(replace(config, output_dir=str(scratch), resume=config.save_checkpoints), display=Display("lines"))
    except CnbenchError as err:
        return None, str(err)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result.pop("_path")
    return result, None
