"""Watching long work: progress bars on a terminal, progress lines elsewhere, training curves.

A ``Display`` decides how one ``cnbench`` process shows its work:

- ``"bars"`` (the default when stdout is a terminal): rich progress bars, redrawn in place and
  erased when done; log lines (header, epoch results) are printed above them. Training shows an
  epoch bar and a run bar, evaluation a bar per split, a sweep a bar over its runs.
- ``"lines"`` (the default otherwise: pipes, files, CI logs, Ray workers): plain lines, flushed as
  they are written and never carriage returns: a training line every ``LINE_PERCENT`` % of an
  epoch or every ``LINE_SECONDS`` seconds, whichever comes first; an evaluation line every
  ``LINE_SECONDS`` seconds (so short evaluations print nothing).
- ``"quiet"``: nothing per run; only what the command prints at the end (its summary).

``verbose`` adds one line per training step (loss, gradient norm, learning rate); they are read
at the loop's sync points, so they arrive in bursts of up to ``SYNC_EVERY`` lines.
Under a data-parallel launcher only rank 0 shows anything.

The training loop reads device values on the host only every ``SYNC_EVERY`` steps and at the end
of an epoch (``sync_step``). Everything shown between syncs (step, examples, tokens, throughput,
learning rate, times) is counted on the host; the loss shown is the mean over the steps between
the last two syncs.

``RunMonitor`` also records the run's training curve, stored in the result as ``curve`` (see
``RunMonitor.curve``): one point every ``every`` steps, ``every`` chosen from the run's length so
that a run has at most ``CURVE_POINTS`` points, plus one for a last partial window. With
``tensorboard`` set, the same scalars go to ``<tensorboard>/<result file name>`` through torch's
``SummaryWriter`` (needs the ``tensorboard`` package: ``pip install 'cnbench[tensorboard]'``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from rich import box
from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn
from rich.table import Table
from rich.text import Text

from cnbench import distributed
from cnbench.errors import CnbenchError

SYNC_EVERY = 100  # steps between the training loop's host syncs
CURVE_POINTS = 200  # at most this many curve points per run (plus a last partial window)
LINE_PERCENT = 10  # "lines": a training line every this many percent of an epoch ...
LINE_SECONDS = 60.0  # ... or after this many seconds without one
MODES = ("bars", "lines", "quiet")


def sync_step(step: int, steps: int) -> bool:
    """Whether the training loop reads its loss on the host after ``step`` of an epoch of ``steps``."""
    return step % SYNC_EVERY == 0 or step == steps


class Display:
    """How this process shows progress: ``mode`` is one of ``MODES``, or ``None`` for bars on a
    terminal and lines elsewhere. Use it as a context manager (or call ``close``) so that a bar
    still shown when an error ends the command is taken down. Raises ``CnbenchError`` when
    ``tensorboard`` is set but the ``tensorboard`` package is missing."""

    def __init__(self, mode: str | None = None, verbose: bool = False, tensorboard: str | Path | None = None):
        if mode is not None and mode not in MODES:
            raise ValueError(f"mode {mode!r}: expected one of {MODES}")
        self.console = Console(highlight=False)
        terminal = self.console.is_terminal and not self.console.is_dumb_terminal
        self.mode = mode or ("bars" if terminal else "lines")
        self.verbose = verbose and self.mode != "quiet"
        self.tensorboard = Path(tensorboard) if tensorboard else None
        if self.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter  # noqa: F401
            except ImportError:
                raise CnbenchError(
                    "--tensorboard needs the tensorboard package: pip install 'cnbench[tensorboard]'"
                ) from None
        self._bars: Progress | None = None

    def __enter__(self) -> Display:
        return self

    def __exit__(self, *error) -> None:
        self.close()

    @property
    def shows(self) -> bool:
        return self.mode != "quiet" and distributed.is_main()

    def log(self, line: str) -> None:
        """Print one line (above the bars while they are shown); nothing when quiet."""
        if not self.shows:
            return
        if self._bars is not None:
            self._bars.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            print(line, flush=True)

    def bar(self, description: str, total: int, status: Callable[[], str]):
        """A bar with a status text made by ``status`` at each redraw; its id, or None when this
        display draws no bars."""
        if self.mode != "bars" or not distributed.is_main():
            return None
        if self._bars is None:
            self._bars = Progress(
                TextColumn("{task.description:<9}"),
                BarColumn(bar_width=24),
                _StatusColumn(),
                console=self.console,
                transient=True,
                refresh_per_second=4,
            )
            self._bars.start()
        bar = self._bars.add_task(description, total=max(total, 1), status=status)
        self._bars.refresh()
        return bar

    def advance(self, bar, completed: float) -> None:
        if bar is not None:
            assert self._bars is not None  # a bar comes from self.bar, which opened the display
            self._bars.update(bar, completed=completed)

    def refresh(self) -> None:
        """Redraw the bars now rather than at the next timed redraw."""
        if self._bars is not None:
            self._bars.refresh()

    def drop(self, bar) -> None:
        """Remove a bar; the last one removed takes the live display down."""
        if bar is None:
            return
        assert self._bars is not None  # a bar comes from self.bar, which opened the display
        self._bars.remove_task(bar)
        if not self._bars.tasks:
            self.close()

    def close(self) -> None:
        if self._bars is not None:
            self._bars.stop()
            self._bars = None

    @contextmanager
    def counting(self, description: str, total: int, unit: str) -> Iterator[Callable[[int], None]]:
        """Show work of ``total`` items (an evaluation) while the block runs; yields
        ``advance(n)`` to call as ``n`` more items are done."""
        state = {"done": 0, "start": time.perf_counter(), "line": time.perf_counter()}

        def status() -> str:
            elapsed = time.perf_counter() - state["start"]
            rate = state["done"] / elapsed if elapsed > 0 else 0.0
            left = (total - state["done"]) / rate if rate else None
            return f"{state['done']}/{total} {unit}  {clock(elapsed)}<{clock(left)}  {rate:,.0f} {unit}/s"

        bar = self.bar(description, total, status)

        def advance(count: int) -> None:
            state["done"] = min(total, state["done"] + count)
            self.advance(bar, state["done"])
            now = time.perf_counter()
            if self.mode == "lines" and now - state["line"] >= LINE_SECONDS:
                state["line"] = now
                self.log(f"{description} {100 * state['done'] // max(total, 1)}%  {status()}")

        try:
            yield advance
        finally:
            self.drop(bar)

    def watch_run(
        self,
        name: str,
        optimizer,
        lengths: list[int],
        steps_per_epoch: int,
        epochs: int,
        first_epoch: int,
        points: list,
    ) -> RunMonitor:
        return RunMonitor(self, name, optimizer, lengths, steps_per_epoch, epochs, first_epoch, points)

    def watch_sweep(self, total: int) -> SweepMonitor:
        return SweepMonitor(self, total)


class _StatusColumn(ProgressColumn):
    def render(self, task) -> Text:
        return Text(task.fields["status"](), no_wrap=True, overflow="ellipsis")


class RunMonitor:
    """One run's training progress and curve. The loop calls ``start_epoch``, ``step`` after
    every optimiser step, ``synced`` at each ``sync_step``, ``evaluating`` around evaluations and
    ``finish`` at the end. ``points`` is the list curve points are appended to (the checkpoint's,
    so a resumed run keeps the points made before the interruption)."""

    def __init__(
        self,
        display: Display,
        name: str,
        optimizer,
        lengths: list[int],
        steps_per_epoch: int,
        epochs: int,
        first_epoch: int,
        points: list,
    ):
        self.display, self.optimizer, self.lengths, self.points = display, optimizer, lengths, points
        self.steps_per_epoch, self.epochs = steps_per_epoch, epochs
        self.total_steps = steps_per_epoch * epochs
        self.every = max(1, math.ceil(self.total_steps / CURVE_POINTS))
        self.global_step = self.first_step = (first_epoch - 1) * steps_per_epoch
        self.epoch, self.step_in_epoch, self.epoch_steps = first_epoch, 0, steps_per_epoch
        self.loss: float | None = None
        self.eval_seconds: float | None = None  # the last dev evaluation's duration, for the run's ETA
        self._train_seconds = 0.0  # training time of this process so far (evaluations excluded)
        self._clock: float | None = None  # when the training clock last started; None while paused
        self._run_started = self._last_line = time.perf_counter()
        self._epoch_seconds_before = 0.0
        self._epoch_examples = self._epoch_tokens = 0
        self._synced_total, self._synced_step = 0.0, 0
        self._window = _Window()
        self._pending: list[tuple[dict, torch.Tensor]] = []  # curve points whose device values await a sync
        self._steps: list[tuple[int, int, float, torch.Tensor, torch.Tensor]] = []  # verbose: per step
        self._writer = None
        if display.tensorboard and distributed.is_main():
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(display.tensorboard / name))
        self._run_bar = display.bar("run", self.total_steps, self._run_status)
        self._epoch_bar = None

    # -- hooks -----------------------------------------------------------------------------------
    def start_epoch(self, epoch: int, steps: int) -> None:
        self.epoch, self.epoch_steps, self.step_in_epoch = epoch, steps, 0
        self._synced_total, self._synced_step = 0.0, 0
        self._clock = self._last_line = time.perf_counter()
        self._epoch_seconds_before = self._train_seconds
        self._epoch_examples = self._epoch_tokens = 0
        self._epoch_bar = self.display.bar(f"epoch {epoch}/{self.epochs}", steps, self._epoch_status)

    def step(self, batch: list[int], loss: torch.Tensor, grad_norm: torch.Tensor) -> None:
        """After one optimiser step on the global ``batch``; ``loss`` and ``grad_norm`` stay on the device."""
        self.global_step += 1
        self.step_in_epoch += 1
        tokens = sum(self.lengths[i] for i in batch)
        self._epoch_examples += len(batch)
        self._epoch_tokens += tokens
        self._window.add(len(batch), tokens, loss, grad_norm)
        if self.display.verbose:
            self._steps.append((self.global_step, self.step_in_epoch, self._first_lr(), loss, grad_norm))
        if self.global_step % self.every == 0:
            self._close_window()
        self.display.advance(self._epoch_bar, self.step_in_epoch)
        self.display.advance(self._run_bar, self.global_step)
        if self.step_in_epoch == 1:  # the first step shows at once, however short the epoch
            self.display.refresh()
        if not sync_step(self.step_in_epoch, self.epoch_steps):  # a sync step's line waits for its loss
            self._maybe_line()

    def synced(self, step: int, epoch_loss: torch.Tensor) -> None:
        """At a sync point: ``epoch_loss`` is the sum of this epoch's step losses (process mean)."""
        total = epoch_loss.item()
        self.loss = (total - self._synced_total) / max(1, step - self._synced_step)
        self._synced_total, self._synced_step = total, step
        self._read_pending()
        self._maybe_line()

    @contextmanager
    def evaluating(self, split: str, count: int) -> Iterator[Callable[[int], None]]:
        """Around the evaluation of ``count`` sequences of ``split``: pauses the training clock."""
        self._pause()
        self.display.drop(self._epoch_bar)
        self._epoch_bar = None
        start = time.perf_counter()
        with self.display.counting(split, count, "seq") as advance:
            yield advance
        if split == "dev":
            self.eval_seconds = time.perf_counter() - start

    def finish(self) -> dict:
        """Close the last partial window, take the bars down, close the TensorBoard file; returns the curve."""
        self._pause()
        if self._window.steps:
            self._close_window()
        self._read_pending()
        self.display.drop(self._epoch_bar)
        self.display.drop(self._run_bar)
        if self._writer is not None:
            self._writer.close()
        return self.curve()

    def curve(self) -> dict:
        """The curve as columns: ``every`` (steps per point), and per point ``step`` (global, 1-based),
        ``epoch``, ``loss`` (mean training loss of the window's steps; under several processes
        rank 0's share), ``grad_norm`` and ``grad_norm_max`` (mean and max over the window of the
        total gradient norm before clipping), ``lr`` (``{group: [...]}``, at the window's last step),
        ``examples_per_second`` and ``tokens_per_second`` (the window's training throughput). A value
        that was not finite is stored as null."""
        columns: dict[str, Any] = {"every": self.every}
        for key in ("step", "epoch", "loss", "grad_norm", "grad_norm_max"):
            columns[key] = [point[key] for point in self.points]
        groups = dict.fromkeys(group for point in self.points for group in point["lr"])
        columns["lr"] = {group: [point["lr"].get(group) for point in self.points] for group in groups}
        for key in ("examples_per_second", "tokens_per_second"):
            columns[key] = [point[key] for point in self.points]
        return columns

    # -- inside --------------------------------------------------------------------------------
    def _pause(self) -> None:
        if self._clock is not None:
            elapsed = time.perf_counter() - self._clock
            self._train_seconds += elapsed
            self._window.seconds += elapsed
            self._clock = None

    def _trained(self) -> float:
        """Training seconds so far, the running stretch included."""
        return self._train_seconds + (time.perf_counter() - self._clock if self._clock is not None else 0.0)

    def _close_window(self) -> None:
        running = self._clock is not None
        self._pause()
        if running:
            self._clock = time.perf_counter()
        window, self._window = self._window, _Window()
        losses, norms = torch.stack(window.losses).float(), torch.stack(window.norms).float()
        point = {
            "step": self.global_step,
            "epoch": self.epoch,
            "lr": self._lrs(),
            "examples_per_second": round(window.examples / window.seconds, 2) if window.seconds else None,
            "tokens_per_second": round(window.tokens / window.seconds, 1) if window.seconds else None,
        }
        self._pending.append((point, torch.stack([losses.mean(), norms.mean(), norms.max()])))

    def _read_pending(self) -> None:
        """Copy the pending points' device values to the host in one transfer."""
        if self._pending:
            values = torch.stack([value for _, value in self._pending]).tolist()
            for (point, _), (loss, norm, norm_max) in zip(self._pending, values, strict=True):
                point.update(loss=_finite(loss, 6), grad_norm=_finite(norm, 4), grad_norm_max=_finite(norm_max, 4))
                self.points.append(point)
                self._write_tensorboard(point)
            self._pending = []
            if self._writer is not None:
                self._writer.flush()
        if self._steps:
            values = torch.stack([torch.stack([loss.float(), norm.float()]) for *_, loss, norm in self._steps]).tolist()
            for (global_step, step, lr, _, _), (loss, norm) in zip(self._steps, values, strict=True):
                self.display.log(
                    f"  step {step}/{self.epoch_steps} (epoch {self.epoch}, global {global_step})  "
                    f"loss {loss:.4f}  grad norm {norm:.3g}  lr {lr:.3g}"
                )
            self._steps = []

    def _write_tensorboard(self, point: dict) -> None:
        if self._writer is None:
            return
        scalars = {
            "train/loss": point["loss"],
            "train/grad_norm": point["grad_norm"],
            "train/grad_norm_max": point["grad_norm_max"],
            "throughput/examples_per_second": point["examples_per_second"],
            "throughput/tokens_per_second": point["tokens_per_second"],
            **{f"lr/{group}": lr for group, lr in point["lr"].items()},
        }
        for tag, value in scalars.items():
            if value is not None:
                self._writer.add_scalar(tag, value, point["step"])

    def _lrs(self) -> dict:
        """``{group name: current lr}``; groups without a ``name`` are named by position."""
        rates: dict[str, float] = {}
        for index, group in enumerate(self.optimizer.param_groups):
            rates.setdefault(group.get("name", f"group{index}"), float(f"{group['lr']:.6g}"))
        return rates

    def _first_lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def _maybe_line(self) -> None:
        if self.display.mode != "lines" or not self.display.shows:
            return
        now = time.perf_counter()
        steps = max(1, self.epoch_steps)
        crossed = (self.step_in_epoch * 100 // steps) // LINE_PERCENT > (
            (self.step_in_epoch - 1) * 100 // steps
        ) // LINE_PERCENT
        if crossed or now - self._last_line >= LINE_SECONDS:
            self._last_line = now
            percent = self.step_in_epoch * 100 // steps
            self.display.log(
                f"epoch {self.epoch}/{self.epochs} {percent:3d}%  {self._epoch_status()}  |  run {self._run_status()}"
            )

    def _times(self) -> tuple[float, float | None, float | None]:
        """(this epoch's training seconds, epoch ETA, run ETA), ETAs None until a step was timed."""
        trained = self._trained()
        epoch_seconds = trained - self._epoch_seconds_before
        steps_done = self.global_step - self.first_step
        if not steps_done or not self.step_in_epoch:
            return epoch_seconds, None, None
        epoch_left = (self.epoch_steps - self.step_in_epoch) * epoch_seconds / self.step_in_epoch
        # the remaining steps at this process's rate, plus the epochs' dev evaluations and the final
        # dev + test evaluation at the last dev evaluation's duration
        evaluations = (self.epochs - self.epoch + 3) * (self.eval_seconds or 0.0)
        run_left = (self.total_steps - self.global_step) * trained / steps_done + evaluations
        return epoch_seconds, epoch_left, run_left

    def _epoch_status(self) -> str:
        epoch_seconds, epoch_left, _ = self._times()
        rate = "- ex/s"
        if epoch_seconds > 0:
            rate = f"{self._epoch_examples / epoch_seconds:,.1f} ex/s  {_si(self._epoch_tokens / epoch_seconds)} tok/s"
        loss = "-" if self.loss is None else f"{self.loss:.4f}"
        return (
            f"step {self.step_in_epoch}/{self.epoch_steps}  {clock(epoch_seconds)}<{clock(epoch_left)}  "
            f"{rate}  loss {loss}  lr {self._first_lr():.3g}"
        )

    def _run_status(self) -> str:
        _, _, run_left = self._times()
        elapsed = time.perf_counter() - self._run_started
        return f"{self.global_step}/{self.total_steps} steps  {clock(elapsed)}<{clock(run_left)}"


def _finite(value: float, digits: int) -> float | None:
    return round(value, digits) if math.isfinite(value) else None


class _Window:
    """The steps since the last curve point: host counts, device losses and gradient norms."""

    def __init__(self):
        self.steps = self.examples = self.tokens = 0
        self.seconds = 0.0
        self.losses: list[torch.Tensor] = []
        self.norms: list[torch.Tensor] = []

    def add(self, examples: int, tokens: int, loss: torch.Tensor, norm: torch.Tensor) -> None:
        self.steps += 1
        self.examples += examples
        self.tokens += tokens
        self.losses.append(loss)
        self.norms.append(norm)


def clock(seconds: float | None) -> str:
    """``1:02:03`` / ``2:03``; ``-:--`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "-:--"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _si(value: float) -> str:
    for limit, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.0f}"


class SweepMonitor:
    """A sweep's runs as they go: finished / running / failed / waiting, the latest result, and an
    ETA from the measured run times (the mean run time, times the unfinished runs, over the runs
    that go at once: ``slots``, which the executor sets)."""

    def __init__(self, display: Display, total: int):
        self.display, self.total = display, total
        self.started = self.completed = self.failed = 0
        self.slots = 1
        self.seconds: list[float] = []
        self._start = self._last_line = time.perf_counter()
        self._bar = display.bar("sweep", total, self.status)

    @property
    def finished(self) -> int:
        return self.completed + self.failed

    def start(self) -> None:
        """A run began (local) or was submitted (Ray)."""
        self.started += 1

    def finish(self, failed: bool, seconds: float | None) -> None:
        """A run ended; ``seconds`` is its run time (None if it never ran)."""
        if failed:
            self.failed += 1
        else:
            self.completed += 1
        if seconds is not None:
            self.seconds.append(seconds)
        self.display.advance(self._bar, self.finished)
        self._last_line = time.perf_counter()

    def heartbeat(self) -> None:
        """While waiting on runs elsewhere: a status line every ``LINE_SECONDS`` (lines mode)."""
        now = time.perf_counter()
        if self.display.mode == "lines" and now - self._last_line >= LINE_SECONDS:
            self._last_line = now
            self.display.log(f"sweep {self.status()}")

    def status(self) -> str:
        running = min(self.started - self.finished, self.slots)
        waiting = self.total - self.finished - running
        unfinished = self.total - self.finished
        eta = sum(self.seconds) / len(self.seconds) * unfinished / self.slots if self.seconds else None
        return (
            f"{self.finished}/{self.total} runs: {self.completed} done, {running} running, {self.failed} failed, "
            f"{waiting} waiting  {clock(time.perf_counter() - self._start)}<{clock(eta if unfinished else 0)}"
        )

    def close(self) -> None:
        self.display.drop(self._bar)


def sweep_table(results: list[dict]) -> Table:
    """One row per result a sweep wrote: the run, its status, dev and test main metric, its time in
    seconds and run key (the file name holds it)."""
    table = Table(
        title=f"sweep results ({len(results)} written)", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False
    )
    for column in ("task", "model", "head", "lr", "batch", "epochs", "seed", "status", "dev", "test", "s", "run key"):
        table.add_column(column, no_wrap=column == "run key")
    for result in results:
        metric, hparams = result["task"]["main_metric"], result["hparams"]
        dev, test = (result["metrics"][split].get(metric) for split in ("dev", "test"))
        table.add_row(
            result["task"]["name"],
            result["model"]["alias"],
            result["head"],
            f"{hparams['lr']:g}",
            str(hparams["batch_size"]),
            str(hparams["epochs"]),
            str(result["seed"]),
            result["status"],
            "-" if dev is None else f"{dev:.4f}",
            "-" if test is None else f"{test:.4f}",
            f"{result['timing']['total_seconds']:.0f}",
            result["run_key"],
        )
    return table
