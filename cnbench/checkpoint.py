"""End-of-epoch checkpoints, so an interrupted run continues where it stopped (``run --resume``),
and the up-front checks that a run can write its outputs at all.

A run's checkpoint is one file, ``<results folder>/.checkpoints/<run key>/last.pt``, replaced
atomically after every epoch but the last (the result file records the last). It holds the
trained part of the model (a parameter-efficient run's frozen weights are not stored: the resumed
run loads or seeds them as the first did), the optimiser and scheduler states, the RNG states of
python, numpy, torch and the data-order generator of every process (a data-parallel run's
processes draw different dropout masks), and the loop's ``Progress`` (epoch, best dev score,
epoch and weights, history, timing so far). Restoring all of it makes the continued run the one
that was never interrupted: same hardware and seed, same metrics and predictions, on a CPU, and on a
GPU only under ``--deterministic`` (``cnbench.determinism``: CUDA's atomics otherwise reorder
sums). The run key names the folder, so the same config and seed find it; the folder is removed
once the run's result is written. Checkpoints are ``.pt`` files, never ``*.json``, so
``load_results`` never takes one for a result, and ``.checkpoints`` holds a ``.gitignore`` of
``*`` so git never takes them for source.

``ensure_writable`` and ``ensure_disk_space`` raise ``CnbenchError`` before any training starts,
rather than after hours of it. ``Checkpoint.restore`` raises ``CnbenchError`` for a checkpoint
that cannot be read or was made from other data or another model.
"""

from __future__ import annotations

import math
import random
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cnbench import distributed
from cnbench.atomic import atomic_file
from cnbench.errors import CnbenchError

FORMAT = "cnbench.checkpoint/2"


@dataclass
class Progress:
    """What the training loop has accumulated after ``epoch`` complete epochs."""

    epoch: int = 0
    history: list = field(default_factory=list)
    best: float = -math.inf
    best_epoch: int | None = None
    best_state: dict | None = None
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    tokens_seen: int = 0
    examples_seen: int = 0
    elapsed_seconds: float = 0.0  # wall time of the run up to the checkpoint, over all its processes
    resumed_after: list = field(default_factory=list)  # epochs after which the run was continued
    curve: list = field(default_factory=list)  # training-curve points so far (cnbench.progress)


class Checkpoint:
    """The checkpoint of one run: ``results_folder/.checkpoints/<key>/last.pt``."""

    def __init__(self, results_folder: Path, key: str):
        self.path = Path(results_folder) / ".checkpoints" / key / "last.pt"

    def exists(self) -> bool:
        return self.path.is_file()

    def save(
        self, progress: Progress, model: nn.Module, optimizer, scheduler, order: torch.Generator, fingerprint: str
    ) -> None:
        """Atomically replace the checkpoint: a crash while writing leaves the previous one intact.
        Every process calls this (it collects their random states); the main process writes."""
        rng = distributed.all_objects(_rng_states(order))
        if not distributed.is_main():
            return
        saved_progress = dict(vars(progress))
        if progress.best_epoch == progress.epoch:  # the best weights are the model's: store them once
            saved_progress["best_state"] = None
        state = {
            "format": FORMAT,
            "fingerprint": fingerprint,
            "progress": saved_progress,
            "model": trained_state(model),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": rng,  # one entry per process, by rank
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        ignore = self.path.parent.parent / ".gitignore"
        if not ignore.exists():  # results folders live in the repository: keep gigabytes out of commits
            ignore.write_text("*\n")
        with atomic_file(self.path) as handle:
            torch.save(state, handle)

    def restore(self, model: nn.Module, optimizer, scheduler, order: torch.Generator, fingerprint: str) -> Progress:
        """Load every state ``save`` wrote back into its owner; returns the loop's progress. Each
        process takes its own random state, or rank 0's when the number of processes changed."""
        try:
            # everything in a checkpoint is tensors and plain containers: no pickled code is run
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as err:  # truncated by a failing disk, or not a checkpoint at all
            raise CnbenchError(
                f"{self.path}: cannot read this checkpoint ({err}); run without --resume to start the run over"
            ) from None
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise CnbenchError(f"{self.path}: not a {FORMAT} checkpoint; run without --resume to start over")
        if state["fingerprint"] != fingerprint:
            raise CnbenchError(
                f"{self.path}: this checkpoint was made from other data files, model weights or "
                "precision (bf16/fp32) than this run has; run without --resume to start over"
            )
        try:
            load_weights(model, state["model"])
        except ValueError as err:  # made by a version of cnbench whose model had other parameters
            raise CnbenchError(f"{self.path}: {err}; run without --resume to start over") from None
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        rng = state["rng"]
        _restore_rng(rng[distributed.rank()] if len(rng) == distributed.world_size() else rng[0], order)
        progress = Progress(**state["progress"])
        if progress.best_state is None:
            progress.best_state = model_weights(model)
        else:
            device = next(model.parameters()).device
            progress.best_state = {name: value.to(device) for name, value in progress.best_state.items()}
        progress.resumed_after.append(progress.epoch)
        return progress

    def discard(self) -> None:
        """Remove the run's checkpoint folder, with temporary files a killed process left there."""
        shutil.rmtree(self.path.parent, ignore_errors=True)


def _frozen(model: nn.Module) -> set[str]:
    return {name for name, parameter in model.named_parameters() if not parameter.requires_grad}


def trained_state(model: nn.Module) -> dict:
    """The model's state without its frozen parameters: all that training can change."""
    frozen = _frozen(model)
    return {name: value for name, value in model.state_dict().items() if name not in frozen}


def model_weights(model: nn.Module) -> dict:
    """A detached copy of ``trained_state`` (the best-dev weights kept during training)."""
    return {name: value.detach().clone() for name, value in trained_state(model).items()}


def load_weights(model: nn.Module, state: dict) -> None:
    """Load a ``trained_state``; raises ``ValueError`` unless it covers exactly the trained part."""
    outcome = model.load_state_dict(state, strict=False)
    if outcome.unexpected_keys or set(outcome.missing_keys) != _frozen(model):
        raise ValueError(
            f"weights do not match the trained parameters: missing {outcome.missing_keys[:3]}, "
            f"unexpected {outcome.unexpected_keys[:3]}"
        )


def ensure_writable(folder: Path) -> None:
    """Create ``folder`` if needed and write a file there, or raise ``CnbenchError`` naming it."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise CnbenchError(f"results folder {folder} is not writable: {err.strerror or err}") from None


def ensure_disk_space(folder: Path, model: nn.Module) -> None:
    """Raise ``CnbenchError`` unless ``folder``'s file system has room for this run's checkpoints.

    A checkpoint holds the trained weights, AdamW's two moments per trainable weight and the
    best-dev weights: about four times the trained parameter bytes. The previous checkpoint stays
    until the next one is complete (that is what makes replacing it atomic), so twice that must be free.
    """
    weights = sum(value.numel() * value.element_size() for value in trained_state(model).values())
    moments = 2 * sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    checkpoint = 2 * weights + moments
    needed, free = 2 * checkpoint, shutil.disk_usage(folder).free
    if free < needed:
        raise CnbenchError(
            f"{folder}: {_mb(free)} free, but this run's checkpoints need about {_mb(needed)} "
            f"(two copies of {_mb(checkpoint)}: weights, AdamW moments and best-dev weights); free some space, "
            "choose another --output, or pass --no-checkpoint"
        )


def _mb(size: int) -> str:
    return f"{size / 2**20:,.0f} MiB"


def _rng_states(order: torch.Generator) -> dict:
    state = np.random.get_state(legacy=True)
    assert isinstance(state, tuple)  # a dict only where the global generator is not MT19937
    name, keys, position, has_gauss, gauss = state
    return {
        "python": random.getstate(),
        "numpy": (name, keys.tolist(), position, has_gauss, gauss),  # plain values load with weights_only
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "order": order.get_state(),
    }


def _restore_rng(states: dict, order: torch.Generator) -> None:
    random.setstate(states["python"])
    name, keys, position, has_gauss, gauss = states["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), position, has_gauss, gauss))
    torch.set_rng_state(states["torch"])
    if states["cuda"]:
        torch.cuda.set_rng_state_all(states["cuda"])
    order.set_state(states["order"])
