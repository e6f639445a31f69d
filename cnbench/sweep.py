"""``cnbench sweep``: every (model, task, head, config, seed) of a grid, resumable.

The grid is lr × batch size × epochs × tuning strategy (defaults from common fine-tuning practice:
2e-5/3e-5/5e-5, 16/32, 2/3/4; full fine-tuning) over any set of models, tasks and heads, each
config run with every seed. A run whose result is written already — completed or failed, but not
crashed (out of memory, a bug), which runs again — is skipped, as is a run listed twice, so an
interrupted sweep continues where it stopped and never repeats finished work. "Written" is
``run``'s own rule (the executor's ``written``): a result made in the other precision is not
this run's, and is reported, not skipped; so is a result made on other data (another
``--data-dir``, a split now read from the Hub), which the sweep tells by loading each task's
data once, as ``run`` would. A setting out of range anywhere in the grid stops the
sweep before anything runs; a run that cannot start for another reason (a ``CnbenchError``, e.g. a
task without data) or crashes is reported and the sweep goes on.

The runs are carried out by an executor (``cnbench.executors``): one after another in this
process by default, or as Ray tasks across a cluster (``RayExecutor``); either way the result
files land in the same folder under the same names, and a line is logged as each run finishes,
with the state of the sweep (runs done, running, failed and waiting, and an ETA:
``cnbench.progress.SweepMonitor``).

The leaderboard then picks, per (model, task, head), the config with the best *mean dev* score.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, fields, replace
from pathlib import Path

from cnbench.errors import CnbenchError
from cnbench.executors import Job, LocalExecutor
from cnbench.progress import Display
from cnbench.results import crashed
from cnbench.train import RunConfig, RunPlan, check_settings, plan, read_splits, refuse_other_data

DEFAULT_GRID = {"lr": (2e-5, 3e-5, 5e-5), "batch_size": (16, 32), "epochs": (2, 3, 4), "tuning": ("full",)}


@dataclass
class SweepOutcome:
    ran: list[dict]
    skipped: list[str]  # result paths that already existed
    errors: list[str]  # one line per run that could not start, or crashed before training
    crashed: list[str]  # one line per run that crashed once training had started (in ``ran`` too)


def expand(models, tasks, heads, seeds, grid: dict, base: RunConfig) -> list[RunConfig]:
    """All run configs, in a stable order: model, task, head, grid point, seed."""
    keys = sorted(grid)
    configs = []
    for model, task, head in itertools.product(models, tasks, heads):
        for point in itertools.product(*(grid[key] for key in keys)):
            for seed in seeds:
                configs.append(
                    replace(base, model=model, task=task, head=head, seed=seed, **dict(zip(keys, point, strict=True)))
                )
    return configs


def _grid_fields(configs: list[RunConfig]) -> list[str]:
    """The settings other than model, task, head and seed that differ between ``configs``: what
    tells a run's grid point apart in its label."""
    named = {"model", "task", "head", "seed"}
    return [
        field.name
        for field in fields(RunConfig)
        if field.name not in named and len({repr(getattr(config, field.name)) for config in configs}) > 1
    ]


class _DataIdentities:
    """Each task's data identity, label and scored gold as ``run`` would load the data, read once
    per sweep (many runs share it); a load that fails raises its ``CnbenchError`` again, unretried."""

    def __init__(self):
        self._known: dict[tuple, tuple[str, str, dict] | CnbenchError] = {}

    def __call__(self, planned: RunPlan) -> tuple[str, str, dict]:
        config = planned.config
        where = (config.task, config.data_dir, config.train_on_dev, config.limit, config.source)
        if where not in self._known:
            try:
                data = read_splits(planned.task, config)
                self._known[where] = (data.identity(), data.label(), data.scored_gold())
            except CnbenchError as err:
                self._known[where] = err
        known = self._known[where]
        if isinstance(known, CnbenchError):
            raise known
        return known


def run_sweep(configs: list[RunConfig], log=print, executor=None, display: Display | None = None) -> SweepOutcome:
    """Run every config that has no result yet with ``executor`` (default ``LocalExecutor()``);
    ``display`` shows the sweep's progress (default: none shown beyond ``log``)."""
    for config in configs:  # a typo in the grid stops the sweep before any of it runs
        check_settings(config)
    executor = executor or LocalExecutor()
    outcome = SweepOutcome([], [], [], [])
    jobs: dict[Path, Job] = {}  # by result path: a run listed twice is run once
    varying = _grid_fields(configs)
    data_of = _DataIdentities()
    for number, config in enumerate(configs, start=1):
        point = "".join(f" {name}={getattr(config, name)}" for name in varying)
        label = f"[{number}/{len(configs)}] {config.model} {config.task} {config.head}{point} seed {config.seed}"
        try:
            planned = plan(config)
            written = None if planned.path in jobs else executor.written(planned)
            if written is not None:
                refuse_other_data(planned.path, written, planned.task, *data_of(planned))
            done = written is not None and not crashed(written)
            skip = "listed twice" if planned.path in jobs else "done already" if done else None
        except CnbenchError as err:
            outcome.errors.append(f"{label}: {err}")
            log(f"{label}: error: {err}")
            continue
        if skip is not None:
            outcome.skipped.append(str(planned.path))
            log(f"{label}: {skip} ({planned.path.name})")
            continue
        jobs[planned.path] = Job(label, config, planned)
    watch = (display or Display("quiet")).watch_sweep(len(jobs))
    try:
        for job, result, error in executor.execute(list(jobs.values()), log=log, watch=watch):
            if error is not None:
                outcome.errors.append(f"{job.label}: {error}")
                watch.finish(failed=True, seconds=None)
                log(f"{job.label}: error: {error}  |  sweep {watch.status()}")
                continue
            outcome.ran.append(result)
            if crashed(result):  # written as a failed seed, and reported
                outcome.crashed.append(f"{job.label}: {result['failure']}")
            metric = result["task"]["main_metric"]
            scores = " ".join(
                f"{split} {result['metrics'][split][metric]:.4f}"
                for split in ("dev", "test")
                if metric in result["metrics"][split]
            )
            status = result["status"] if result["status"] == "completed" else f"failed ({result['failure']})"
            seconds = result["timing"]["total_seconds"]
            watch.finish(failed=result["status"] != "completed", seconds=seconds)
            log(f"{job.label}: {status} {scores} ({seconds:.0f} s) -> {job.plan.path.name}  |  sweep {watch.status()}")
    finally:
        watch.close()
    return outcome
