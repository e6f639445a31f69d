"""The CI definitions, which cannot run here, are checked as far as they can be offline: the GitHub
workflows validate against GitHub's workflow schema and run the README's commands as written, in the
order .ci/run runs them; the pre-commit configuration is valid; and the one leaderboard staleness check
(scripts/check_leaderboard.sh) passes and fails when it should, on a throwaway git repository with a
stand-in for ``cnbench leaderboard``."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
# the venv's console scripts sit beside its python (not resolved: the venv's python is a symlink)
BIN = Path(sys.executable).parent
TESTS_WORKFLOW = REPO / ".github" / "workflows" / "tests.yml"
LEADERBOARD_WORKFLOW = REPO / ".github" / "workflows" / "leaderboard.yml"
WORKFLOWS = [TESTS_WORKFLOW, LEADERBOARD_WORKFLOW]
CHECK_SCRIPT = REPO / "scripts" / "check_leaderboard.sh"
PRE_COMMIT_CONFIG = REPO / ".pre-commit-config.yaml"


def readme_command(heading: str) -> str:
    """The one-line fenced bash block under the README heading ``heading`` (at any level)."""
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if re.fullmatch(rf"#+\s+{re.escape(heading)}\s*", line)]
    assert len(starts) == 1, f"README.md has {len(starts)} headings {heading!r}"
    for i in range(starts[0] + 1, len(lines)):
        assert not lines[i].startswith("#"), f"no bash block under the README heading {heading!r}"
        if lines[i].strip() == "```bash":
            block = lines[i + 1 : lines.index("```", i + 1)]
            assert len(block) == 1, f"the block under {heading!r} is no longer one command: {block}"
            return block[0]
    raise AssertionError(f"no bash block under the README heading {heading!r}")


def install_and_quickstart() -> str:
    return readme_command("Set up and run")


def install_only() -> str:
    """The README's install, without the quick start that follows it on the same line."""
    parts = install_and_quickstart().split(" && ")
    quickstart = next(i for i, part in enumerate(parts) if part.startswith(".venv/bin/cnbench "))
    return " && ".join(parts[:quickstart])


def ci_commands() -> list[str]:
    """What CI runs, in order, in .ci/run and in the tests workflow alike."""
    return [
        install_and_quickstart(),
        ".venv/bin/ruff check .",
        ".venv/bin/ruff format --check .",
        ".venv/bin/mypy",
        "scripts/check_leaderboard.sh",
        readme_command("Test"),
    ]


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def run_lines(workflow: dict) -> list[str]:
    """Every line of every ``run:`` step, stripped, in the order the steps come."""
    return [
        line.strip()
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if "run" in step
        for line in step["run"].splitlines()
    ]


def missing_in_order(expected: list[str], lines: list[str]) -> list[str]:
    """The commands of ``expected`` not found as whole lines of ``lines`` after the one before them."""
    missing, position = [], 0
    for command in expected:
        if command in lines[position:]:
            position = lines.index(command, position) + 1
        else:
            missing.append(command)
    return missing


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", schema, path], capture_output=True, text=True, check=False
    )


# --- the workflows against GitHub's schema ---------------------------------------------------------


@pytest.mark.parametrize("schema", ["vendor.github-workflows", "custom.github-workflows-require-timeout"])
@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_workflow_matches_schema(workflow, schema):
    result = check_jsonschema(schema, workflow)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "schema, old, new",
    [
        ("vendor.github-workflows", "runs-on:", "runs_on:"),  # a misspelt key
        ("custom.github-workflows-require-timeout", "timeout-minutes:", "# timeout-minutes:"),  # no time limit
    ],
)
def test_schema_check_rejects_a_broken_workflow(tmp_path, schema, old, new):
    text = TESTS_WORKFLOW.read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / "broken.yml"
    broken.write_text(text.replace(old, new), encoding="utf-8")
    assert check_jsonschema(schema, broken).returncode != 0


def test_dependabot_matches_schema():
    result = check_jsonschema("vendor.dependabot", REPO / ".github" / "dependabot.yml")
    assert result.returncode == 0, result.stdout + result.stderr


# --- the workflows and .ci/run run the README's commands ------------------------------------------


def test_tests_workflow_runs_the_ci_commands_in_order():
    assert missing_in_order(ci_commands(), run_lines(load(TESTS_WORKFLOW))) == []


def test_ci_run_runs_the_ci_commands_in_order():
    lines = [line.strip() for line in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    assert missing_in_order(ci_commands(), lines) == []


def test_leaderboard_workflow_installs_as_the_readme_and_uses_the_staleness_check():
    lines = run_lines(load(LEADERBOARD_WORKFLOW))
    assert install_only() in lines
    assert install_and_quickstart() not in lines  # regenerating the page needs no training run
    assert any(line.startswith("scripts/check_leaderboard.sh ") for line in lines)


def test_workflows_grant_least_privilege_and_pin_actions():
    tests, leaderboard = load(TESTS_WORKFLOW), load(LEADERBOARD_WORKFLOW)
    assert tests["permissions"] == {"contents": "read"}
    assert leaderboard["permissions"] == {}
    assert leaderboard["jobs"]["regenerate"]["permissions"] == {"contents": "write", "pull-requests": "write"}
    # the lab turns it on; until then every run is skipped
    assert "vars.CNBENCH_LEADERBOARD_PR == 'true'" in leaderboard["jobs"]["regenerate"]["if"]
    for workflow in (tests, leaderboard):
        for job in workflow["jobs"].values():
            for step in job["steps"]:
                if "uses" in step:
                    assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]


# --- pre-commit ----------------------------------------------------------------------------------


def test_pre_commit_config_is_valid():
    result = subprocess.run(
        [BIN / "pre-commit", "validate-config", PRE_COMMIT_CONFIG], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_pre_commit_hooks_call_the_venv_tools_and_the_staleness_check():
    hooks = {hook["id"]: hook for repo in load(PRE_COMMIT_CONFIG)["repos"] for hook in repo["hooks"]}
    assert hooks["ruff-check"]["entry"].startswith(".venv/bin/ruff check")
    assert hooks["ruff-format"]["entry"].startswith(".venv/bin/ruff format")
    assert "--check" not in hooks["ruff-format"]["entry"]
    leaderboard = hooks["leaderboard"]
    assert leaderboard["entry"] == "scripts/check_leaderboard.sh"
    assert leaderboard["pass_filenames"] is False
    files = re.compile(leaderboard["files"])
    for path in ("leaderboard/results/x.json", "leaderboard/README.md", "cnbench/leaderboard/render.py"):
        assert files.search(path), path
    for path in ("cnbench/cli.py", "tests/test_leaderboard.py", "docs/leaderboard.md"):
        assert not files.search(path), path


def test_scripts_are_executable_and_parse():
    for script in (CHECK_SCRIPT, REPO / ".ci" / "run"):
        assert os.access(script, os.X_OK), f"{script.name} is not executable"
        result = subprocess.run(["bash", "-n", script], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr


# --- the staleness check on a throwaway repository -------------------------------------------------

# Stands in for `cnbench leaderboard`: the page lists the result files, so it is stale whenever they change.
FAKE_CNBENCH = """#!/bin/sh
[ "$1" = leaderboard ] || { echo "unexpected arguments: $*" >&2; exit 3; }
ls leaderboard/results > leaderboard/README.md
"""


def executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def checkout(tmp_path) -> tuple[Path, dict[str, str]]:
    """A git repository with the staleness script, a stand-in cnbench in .venv and an up-to-date page."""
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    shutil.copy2(CHECK_SCRIPT, root / "scripts" / CHECK_SCRIPT.name)
    shutil.copy2(PRE_COMMIT_CONFIG, root / PRE_COMMIT_CONFIG.name)
    executable(root / ".venv" / "bin" / "cnbench", FAKE_CNBENCH)
    (root / ".gitignore").write_text(".venv/\n", encoding="utf-8")
    (root / "leaderboard" / "results").mkdir(parents=True)
    (root / "leaderboard" / "results" / "a.json").write_text("{}\n", encoding="utf-8")
    (root / "leaderboard" / "README.md").write_text("a.json\n", encoding="utf-8")
    # no user or system git configuration, and pre-commit's store inside tmp_path
    env = dict(
        os.environ,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="test",
        GIT_AUTHOR_EMAIL="test@example.invalid",
        GIT_COMMITTER_NAME="test",
        GIT_COMMITTER_EMAIL="test@example.invalid",
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"),
    )
    git(root, env, "init", "-q")
    git(root, env, "add", "-A")
    git(root, env, "commit", "-q", "-m", "initial")
    return root, env


def git(root: Path, env: dict[str, str], *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True, check=True).stdout


def check(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    # run from outside the checkout: the script finds its repository from its own path
    return subprocess.run(
        [root / "scripts" / "check_leaderboard.sh"],
        cwd=root.parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_check_passes_when_the_page_is_up_to_date(checkout):
    root, env = checkout
    result = check(root, env)
    assert result.returncode == 0, result.stderr
    assert "leaderboard: up to date" in result.stdout
    assert git(root, env, "status", "--porcelain") == ""


def test_check_fails_on_a_stale_page_and_leaves_the_regenerated_one(checkout):
    root, env = checkout
    (root / "leaderboard" / "README.md").write_text("an edit by hand\n", encoding="utf-8")
    git(root, env, "commit", "-q", "-am", "stale page")
    result = check(root, env)
    assert result.returncode == 1
    assert "leaderboard/ differs from what 'cnbench leaderboard' generates" in result.stderr
    assert " M leaderboard/README.md" in result.stderr
    assert (root / "leaderboard" / "README.md").read_text(encoding="utf-8") == "a.json\n"


def test_check_fails_on_a_result_file_git_does_not_hold(checkout):
    root, env = checkout
    (root / "leaderboard" / "results" / "b.json").write_text("{}\n", encoding="utf-8")
    result = check(root, env)
    assert result.returncode == 1
    assert "?? leaderboard/results/b.json" in result.stderr


def test_check_passes_a_result_staged_with_its_page(checkout):
    root, env = checkout
    (root / "leaderboard" / "results" / "b.json").write_text("{}\n", encoding="utf-8")
    (root / "leaderboard" / "README.md").write_text("a.json\nb.json\n", encoding="utf-8")
    git(root, env, "add", "leaderboard")
    result = check(root, env)
    assert result.returncode == 0, result.stderr


def test_check_reports_a_failing_cnbench_apart_from_a_stale_page(checkout):
    root, env = checkout
    executable(root / ".venv" / "bin" / "cnbench", "#!/bin/sh\necho 'error: no such task' >&2\nexit 2\n")
    result = check(root, env)
    assert result.returncode == 2
    assert "'cnbench leaderboard' failed" in result.stderr


def test_pre_commit_hook_stops_a_result_committed_without_its_page(checkout):
    root, env = checkout
    (root / "leaderboard" / "results" / "b.json").write_text("{}\n", encoding="utf-8")
    git(root, env, "add", "leaderboard/results/b.json")

    def hook() -> subprocess.CompletedProcess:
        return subprocess.run(
            [BIN / "pre-commit", "run", "leaderboard"], cwd=root, env=env, capture_output=True, text=True, check=False
        )

    stopped = hook()
    assert stopped.returncode != 0
    assert "leaderboard/ differs" in stopped.stdout + stopped.stderr
    git(root, env, "add", "leaderboard")  # the regenerated page the hook left behind
    passed = hook()
    assert passed.returncode == 0, passed.stdout + passed.stderr
