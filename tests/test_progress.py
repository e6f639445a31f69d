"""Watching runs: bars on a terminal, lines through a pipe, --quiet/--verbose, the training curve
in every result, TensorBoard scalars, and the sweep's status and table."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
import torch
from conftest import only_result

from cnbench.progress import CURVE_POINTS, SYNC_EVERY, Display, SweepMonitor

REPO = Path(__file__).resolve().parents[1]
# 200 training examples in batches of 8: 25 steps, a few seconds on one CPU thread
RUN = (
    "run",
    "--task",
    "chnsenticorp",
    "--model",
    "scratch-tiny",
    "--epochs",
    "1",
    "--limit",
    "200",
    "--batch-size",
    "8",
    "--max-len",
    "64",
)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(autouse=True)
def one_torch_thread():
    """In-process runs use one thread, like the subprocesses: on a few shared cores, OpenMP threads
    waiting on each other make a seconds-long run take minutes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _command(tmp_path) -> tuple[list[str], dict]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    return [sys.executable, "-m", "cnbench", *RUN, "--output", str(tmp_path / "results")], env


@pytest.mark.slow
def test_a_terminal_shows_bars_that_move_before_the_epoch_ends(tmp_path):
    command, env = _command(tmp_path)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    output = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    assert process.wait(timeout=600) == 0, output.decode(errors="replace")[-2000:]
    text = output.decode("utf-8", errors="replace")
    assert "\x1b[" in text and "\r" in text  # drawn in place, not printed line after line
    plain = ANSI.sub("", text)
    epoch_end = plain.index("epoch 1: train loss")
    drawn = [int(step) for step in re.findall(r"step (\d+)/25 ", plain[:epoch_end])]
    moving = sorted({step for step in drawn if 0 < step < 25})
    assert moving, plain[:epoch_end]  # a step of the epoch was drawn before the epoch ended
    assert len(set(drawn)) >= 2  # and the bar was redrawn as steps went by
    assert re.search(r"ex/s +[\d.]+k? tok/s +loss", plain[:epoch_end])
    assert re.search(r"run +\S* *\d+/25 steps", plain)
    assert "result:" in plain[epoch_end:]
    assert (tmp_path / "results").glob("*.json")


@pytest.mark.slow
def test_a_pipe_gets_whole_lines_as_the_epoch_goes(tmp_path):
    command, env = _command(tmp_path)
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    for stream in (finished.stdout, finished.stderr):
        assert "\r" not in stream and "\x1b[" not in stream
    lines = finished.stdout.splitlines()
    epoch_end = next(i for i, line in enumerate(lines) if line.startswith("epoch 1: train loss"))
    progress = [line for line in lines[:epoch_end] if line.startswith("epoch 1/1 ")]
    percents = [int(re.match(r"epoch 1/1 +(\d+)%", line).group(1)) for line in progress]
    # one line per tenth of the epoch: 25 steps cross 10 %, 20 %, ..., 100 % at 10 distinct steps
    assert percents == sorted(percents) and len(percents) == 10 and percents[-1] == 100
    assert all("ex/s" in line and "tok/s" in line and "run " in line for line in progress)
    assert re.search(r"loss \d\.\d{4}", progress[-1])  # the epoch's last step is a sync: its loss is known


@pytest.mark.slow
def test_quiet_prints_only_the_summary_and_verbose_every_step(cnbench, tmp_path):
    quiet = cnbench(*RUN, "--output", tmp_path / "q", "--quiet")
    assert quiet.code == 0, quiet.err
    assert "epoch 1" not in quiet.out and "chnsenticorp | scratch-tiny" not in quiet.out
    assert "result:" in quiet.out and "chnsenticorp: accuracy" in quiet.out

    verbose = cnbench(*RUN, "--output", tmp_path / "v", "--verbose")
    assert verbose.code == 0, verbose.err
    steps = re.findall(r"^  step (\d+)/25 \(epoch 1, global \d+\)  loss (\S+)  grad norm (\S+)", verbose.out, re.M)
    assert [int(step) for step, _, _ in steps] == list(range(1, 26))
    losses = [float(loss) for _, loss, _ in steps]
    curve = only_result(tmp_path / "v")["curve"]
    assert curve["every"] == 1 and curve["loss"] == pytest.approx(losses, abs=1e-4)  # the same values, read once

    both = cnbench(*RUN, "--output", tmp_path / "b", "--quiet", "--verbose")
    assert both.code == 2 and "--quiet and --verbose" in both.err


@pytest.mark.slow
def test_every_result_holds_its_training_curve(cnbench, tmp_path):
    result = cnbench(
        "run",
        "--task",
        "chnsenticorp",
        "--model",
        "scratch-tiny",
        "--epochs",
        "2",
        "--limit",
        "96",
        "--batch-size",
        "16",
        "--max-len",
        "64",
        "--head-lr",
        "1e-3",
        "--output",
        tmp_path,
    )
    assert result.code == 0, result.err
    doc = only_result(tmp_path)
    curve = doc["curve"]
    assert curve["step"] == list(range(1, 13)) and curve["epoch"] == [1] * 6 + [2] * 6
    assert set(curve["lr"]) == {"encoder", "head"} == set(doc["hparams"]["lr_groups"])
    assert max(curve["lr"]["head"]) == pytest.approx(1e-3) and max(curve["lr"]["encoder"]) == pytest.approx(5e-4)
    for key in ("loss", "grad_norm", "grad_norm_max", "examples_per_second", "tokens_per_second"):
        assert len(curve[key]) == 12 and all(value > 0 for value in curve[key]), key
    # the curve's losses average to the per-epoch training loss of the history
    for epoch, record in enumerate(doc["history"], start=1):
        losses = [loss for loss, at in zip(curve["loss"], curve["epoch"], strict=True) if at == epoch]
        assert sum(losses) / len(losses) == pytest.approx(record["train_loss"], rel=1e-4)


class _Optimizer:
    def __init__(self):
        self.param_groups = [{"lr": 1e-3, "name": "encoder"}, {"lr": 1e-3, "name": "encoder"}, {"lr": 2e-3}]


def test_a_long_run_keeps_a_bounded_curve_of_window_means(tmp_path):
    steps_per_epoch, epochs = 997, 3
    monitor = Display("quiet").watch_run("r", _Optimizer(), [10] * 8, steps_per_epoch, epochs, 1, [])
    total = 0.0
    for epoch in range(1, epochs + 1):
        monitor.start_epoch(epoch, steps_per_epoch)
        for step in range(1, steps_per_epoch + 1):
            loss = float(step % 7)
            total += loss
            norm = float("inf") if (epoch, step) == (2, 5) else float(step)
            monitor.step([0, 1], torch.tensor(loss), torch.tensor(norm))
            if step % SYNC_EVERY == 0 or step == steps_per_epoch:
                monitor.synced(step, torch.tensor(total))
        total = 0.0
    curve = monitor.finish()
    every = curve["every"]
    assert every == -(-steps_per_epoch * epochs // CURVE_POINTS)
    assert len(curve["step"]) <= CURVE_POINTS + 1 and curve["step"][-1] == steps_per_epoch * epochs
    assert curve["lr"] == {"encoder": [1e-3] * len(curve["step"]), "group2": [2e-3] * len(curve["step"])}
    # the first point is the mean over its window's steps; the max norm is the window's last step
    assert curve["loss"][0] == pytest.approx(sum(step % 7 for step in range(1, every + 1)) / every)
    assert curve["grad_norm_max"][0] == every
    holding_inf = next(i for i, step in enumerate(curve["step"]) if step >= steps_per_epoch + 5)
    assert curve["grad_norm"][holding_inf] is None and curve["grad_norm_max"][holding_inf] is None
    assert all(value is not None for value in curve["loss"])


@pytest.mark.slow
def test_tensorboard_gets_the_curve(cnbench, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = cnbench(*RUN, "--output", tmp_path / "results", "--tensorboard", tmp_path / "tb")
    assert result.code == 0, result.err
    doc = only_result(tmp_path / "results")
    folder = tmp_path / "tb" / next((tmp_path / "results").glob("*.json")).stem
    events = EventAccumulator(str(folder))
    events.Reload()
    assert {"train/loss", "train/grad_norm", "lr/encoder", "lr/head", "throughput/tokens_per_second"} <= set(
        events.Tags()["scalars"]
    )
    written = events.Scalars("train/loss")
    assert [event.step for event in written] == doc["curve"]["step"]
    assert [event.value for event in written] == pytest.approx(doc["curve"]["loss"], rel=1e-5)


def test_sweep_status_counts_runs_and_estimates_from_their_times():
    watch = SweepMonitor(Display("quiet"), total=5)
    watch.slots = 2
    for _ in range(4):
        watch.start()
    assert "0/5 runs: 0 done, 2 running, 0 failed, 3 waiting" in watch.status()
    assert watch.status().endswith("<-:--")  # no run has finished: no estimate yet
    watch.finish(failed=False, seconds=100.0)
    watch.finish(failed=True, seconds=200.0)
    status = watch.status()
    assert "2/5 runs: 1 done, 2 running, 1 failed, 1 waiting" in status
    assert status.endswith("<3:45")  # mean 150 s x 3 unfinished runs / 2 at once


@pytest.mark.slow
def test_a_sweep_reports_its_state_after_each_run_and_a_table_at_the_end(cnbench, tmp_path, toy_task):
    result = cnbench(
        "sweep",
        "--models",
        "scratch-tiny",
        "--tasks",
        "toy",
        "--lr",
        "5e-4,1e-3",
        "--batch-size",
        "16",
        "--epochs",
        "1",
        "--seeds",
        "1",
        "--data-dir",
        toy_task,
        "--output",
        tmp_path / "r",
    )
    assert result.code == 0, result.err
    assert re.search(
        r"\[1/2\] .*: completed dev .* \| +sweep 1/2 runs: 1 done, 0 running, 0 failed, 1 waiting", result.out
    )
    assert "sweep 2/2 runs: 2 done, 0 running, 0 failed, 0 waiting" in result.out
    table = result.out[result.out.index("sweep results (2 written)") :]
    for path in (tmp_path / "r").glob("*.json"):
        assert path.name.split("--")[3] in table  # the run key
    assert "0.0005" in table and "0.001" in table

    quiet = cnbench(
        "sweep",
        "--models",
        "scratch-tiny",
        "--tasks",
        "toy",
        "--lr",
        "2e-4",
        "--batch-size",
        "16",
        "--epochs",
        "1",
        "--seeds",
        "1",
        "--data-dir",
        toy_task,
        "--output",
        tmp_path / "r",
        "--quiet",
    )
    assert quiet.code == 0, quiet.err
    assert "runs:" not in quiet.out and "epoch" not in quiet.out.split("sweep results")[0]
    assert "sweep results" in quiet.out and "sweep: 1 ran, 0 already done" in quiet.out
