"""``cnbench sweep --executor ray`` on a private local Ray instance writes what the local executor
writes; the Ray-only options are checked before anything starts."""

from __future__ import annotations

import json

import pytest
import torch

SWEEP = (
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
    "2",
)


@pytest.fixture
def one_thread():
    """The Ray workers run with --cpus-per-run 1 torch thread; the local sweep runs alike, so the
    two compute the same sums in the same order and must agree exactly."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_a_ray_sweep_writes_the_files_a_local_sweep_writes(cnbench, tmp_path, toy_task, one_thread):
    sweep = (*SWEEP, "--data-dir", toy_task)
    local = cnbench(*sweep, "--output", tmp_path / "local")
    assert local.code == 0, local.err
    ray_args = ("--executor", "ray", "--address", "local", "--cpus-per-run", "1", "--output", tmp_path / "ray")
    remote = cnbench(*sweep, *ray_args)
    assert remote.code == 0, remote.err
    assert "sweep: 4 ran, 0 already done, 0 could not start" in remote.out
    assert remote.out.count(": completed dev ") == 4  # one line per run as it finishes
    assert "sweep 4/4 runs: 4 done, 0 running, 0 failed, 0 waiting" in remote.out
    assert "sweep results (4 written)" in remote.out

    local_files, ray_files = sorted((tmp_path / "local").glob("*.json")), sorted((tmp_path / "ray").glob("*.json"))
    assert [f.name for f in ray_files] == [f.name for f in local_files] and len(ray_files) == 4
    for local_file, ray_file in zip(local_files, ray_files, strict=True):
        expected, got = json.loads(local_file.read_text()), json.loads(ray_file.read_text())
        for key in ("run_key", "status", "hparams", "metrics", "predictions", "best_epoch", "command"):
            assert got[key] == expected[key], (ray_file.name, key)
        assert [h["train_loss"] for h in got["history"]] == [h["train_loss"] for h in expected["history"]]

    again = cnbench(*sweep, *ray_args)
    assert "sweep: 0 ran, 4 already done" in again.out and "ray:" not in again.out  # Ray not even started


@pytest.mark.parametrize(
    "args, message",
    [
        (("--gpus-per-run", "1"), "--gpus-per-run: only with --executor ray"),
        (("--executor", "ray", "--gpus-per-run", "2"), "--gpus-per-run 2: a run uses at most one GPU"),
    ],
)
def test_ray_options_are_checked_before_anything_runs(cnbench, tmp_path, args, message):
    result = cnbench(*SWEEP, *args, "--output", tmp_path)
    assert result.code == 2 and message in result.err
    assert not list(tmp_path.glob("*.json"))


def test_the_ray_driver_reads_written_results_by_runs_rule(tmp_path):
    from cnbench.executors import RayExecutor
    from cnbench.train import RunConfig, plan

    planned = plan(RunConfig(task="chnsenticorp", model="scratch-tiny", output_dir=str(tmp_path)))
    executor = RayExecutor()
    for not_a_result in ("[1, 2]", '{"hparams": {"precision": "fp32"}}', "{half a docu"):
        planned.path.write_text(not_a_result, encoding="utf-8")
        assert executor.written(planned) is None  # run would replace it, so the sweep runs it
    planned.path.write_text('{"status": "completed", "hparams": {"precision": "bf16"}}', encoding="utf-8")
    assert executor.written(planned)["status"] == "completed"  # either precision: workers decide theirs
