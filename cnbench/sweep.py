"""``cnbench sweep``: every (model, task, head, config, seed) of a grid, resumable.

The grid is lr × batch size × epochs (defaults from common fine-tuning practice: 2e-5/3e-5/5e-5,
16/32, 2/3/4) over any set of models, tasks and heads, each config run with every seed. A run
whose result file already exists — completed or failed — is skipped, so an interrupted sweep
continues where it stopped and never repeats finished work. A run that fails with a
``CnbenchError`` (e.g. a task without data) is reported and the sweep goes on.

The leaderboard then picks, per (model, task, head), the config with the best *mean dev* score.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

from cnbench.errors import CnbenchError
from cnbench.train import RunConfig, plan, run

DEFAULT_GRID = {"lr": (2e-5, 3e-5, 5e-5), "batch_size": (16, 32), "epochs": (2, 3, 4)}


@dataclass
class SweepOutcome:
    ran: list[dict]
    skipped: list[str]  # result paths that already existed
    errors: list[str]  # one line per run that could not start


def expand(models, tasks, heads, seeds, grid: dict, base: RunConfig) -> list[RunConfig]:
    """All run configs, in a stable order: model, task, head, grid point, seed."""
    keys = sorted(grid)
    configs = []
    for model, task, head in itertools.product(models, tasks, heads):
        for point in itertools.product(*(grid[key] for key in keys)):
            for seed in seeds:
                configs.append(replace(base, model=model, task=task, head=head, seed=seed, **dict(zip(keys, point))))
    return configs


def run_sweep(configs: list[RunConfig], log=print, run_fn=run) -> SweepOutcome:
    outcome = SweepOutcome([], [], [])
    for number, config in enumerate(configs, start=1):
        prefix = f"[{number}/{len(configs)}] {config.model} {config.task} {config.head} seed {config.seed}"
        try:
            planned = plan(config)
        except CnbenchError as err:
            outcome.errors.append(f"{prefix}: {err}")
            log(f"{prefix}: error: {err}")
            continue
        if planned.path.exists():
            outcome.skipped.append(str(planned.path))
            log(f"{prefix}: done already ({planned.path.name})")
            continue
        log(prefix)
        try:
            outcome.ran.append(run_fn(config, log=log))
        except CnbenchError as err:
            outcome.errors.append(f"{prefix}: {err}")
            log(f"{prefix}: error: {err}")
    return outcome
