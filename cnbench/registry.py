"""Task discovery: every ``*.py`` in ``tasks/`` that defines ``TASK``, plus installed plug-ins.

Sources, in order: the ``tasks/`` folder of this checkout; folders listed in ``CNBENCH_TASKS_PATH``
(``os.pathsep``-separated); entry points in the ``cnbench.tasks`` group (each resolving to a
``Task``). A module that fails to run (a bad declaration, a typo), one without ``TASK``, a ``TASK``
that is not a ``Task``, a file not named after its task, or two tasks with one name is a
``CnbenchError`` naming the file (and line).
"""

from __future__ import annotations

import importlib.util
import os
import traceback
from functools import lru_cache
from importlib.metadata import entry_points
from pathlib import Path

from cnbench.errors import CnbenchError
from cnbench.task import Task

# The checkout's task modules (paths.py asks the registry for task folders, so this one stands alone).
BUILT_IN_TASKS = Path(__file__).resolve().parents[1] / "tasks"


def _task_folders() -> list[Path]:
    folders = [BUILT_IN_TASKS]
    extra = os.environ.get("CNBENCH_TASKS_PATH", "")
    folders += [Path(item) for item in extra.split(os.pathsep) if item]
    return folders


def _load_file(path: Path) -> Task:
    spec = importlib.util.spec_from_file_location(f"cnbench_tasks.{path.stem}", path)
    assert spec is not None and spec.loader is not None  # always so for a .py file
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # the user's task file: say where it failed, not a traceback
        raise CnbenchError(f"{_line_in(path, err)}: cannot load the task: {_reason(err)}") from err
    task = getattr(module, "TASK", None)
    if not isinstance(task, Task):
        raise CnbenchError(f"{path}: a task module must define TASK = cnbench.task.Task(...)")
    if task.name != path.stem:  # one name to find a task by: `--task X` is the file tasks/X.py
        raise CnbenchError(
            f"{path}: the task is named {task.name!r}; a task file carries its task's name "
            f"(rename the file to {task.name}.py or the task to {path.stem!r})"
        )
    return task


def _reason(err: Exception) -> str:
    """A ``CnbenchError``'s own message (it says what was expected), else the exception's type too."""
    return str(err) if isinstance(err, CnbenchError) else f"{type(err).__name__}: {err}"


def _line_in(path: Path, err: Exception) -> str:
    """``path:line`` of the innermost traceback frame (or syntax error) in the task file, else ``path``."""
    if isinstance(err, SyntaxError) and err.lineno is not None:
        return f"{path}:{err.lineno}"
    frames = [frame for frame in traceback.extract_tb(err.__traceback__) if Path(frame.filename) == path]
    return f"{path}:{frames[-1].lineno}" if frames else str(path)


def new_task_folder() -> Path:
    """Where ``cnbench new-task`` writes: the first folder in ``CNBENCH_TASKS_PATH``, else ``tasks/``."""
    folders = _task_folders()
    return folders[1] if len(folders) > 1 else folders[0]


@lru_cache(maxsize=1)
def all_tasks() -> dict[str, Task]:
    found: dict[str, tuple[Task, str]] = {}

    def add(task: Task, origin: str) -> None:
        if task.name in found:
            raise CnbenchError(f"task {task.name!r} is defined twice: {found[task.name][1]} and {origin}")
        found[task.name] = (task, origin)

    for folder in _task_folders():
        for path in sorted(folder.glob("*.py")):
            if not path.name.startswith("_"):
                add(_load_file(path), str(path))
    for entry in entry_points(group="cnbench.tasks"):
        origin = f"entry point {entry.name} = {entry.value}"
        try:
            task = entry.load()
        except Exception as err:  # an installed plug-in's bug must not read as a cnbench traceback
            raise CnbenchError(f"{origin}: cannot load the task: {_reason(err)}") from err
        if not isinstance(task, Task):
            raise CnbenchError(f"{origin}: expected a cnbench.task.Task, got {type(task).__name__}")
        add(task, origin)
    return {name: task for name, (task, _) in sorted(found.items())}


def get_task(name: str) -> Task:
    tasks = all_tasks()
    if name not in tasks:
        raise CnbenchError(f"unknown task {name!r}; choose one of: {', '.join(tasks)}")
    return tasks[name]
