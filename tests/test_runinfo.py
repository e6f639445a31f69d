import os

import pytest
import torch

from cnbench.runinfo import peak_memory_mb, reset_peak_memory


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK), reason="needs Linux's clear_refs")
def test_each_run_gets_its_own_cpu_peak():
    cpu = torch.device("cpu")
    big = torch.ones(400 * 2**20 // 4)  # 400 MiB, touched; freed at once by munmap when deleted
    during = peak_memory_mb(cpu)
    del big
    reset_peak_memory(cpu)
    after = peak_memory_mb(cpu)
    assert after < during - 300, (during, after)


def test_a_new_task_module_makes_the_code_dirty_and_a_new_result_file_does_not(tmp_path, monkeypatch):
    import subprocess

    from cnbench import runinfo

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "lcqmc.py").write_text("TASK = None\n", encoding="utf-8")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    monkeypatch.setattr(runinfo, "REPO_ROOT", tmp_path)

    def dirty() -> bool:
        runinfo.code_version.cache_clear()
        try:
            return runinfo.code_version()["git_dirty"]
        finally:
            runinfo.code_version.cache_clear()

    assert dirty() is False
    (tmp_path / "leaderboard" / "results").mkdir(parents=True)
    (tmp_path / "leaderboard" / "results" / "new.json").write_text("{}", encoding="utf-8")
    assert dirty() is False  # runs write results into the checkout before they are committed
    (tmp_path / "tasks" / "afqmc.py").write_text("TASK = None\n", encoding="utf-8")
    assert dirty() is True
    (tmp_path / "tasks" / "afqmc.py").unlink()
    (tmp_path / "tasks" / "lcqmc.py").write_text("TASK = 1\n", encoding="utf-8")
    assert dirty() is True
