"""The shape of the package: no import circles, and task kinds asked rather than named."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cnbench"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Every cnbench module -> the cnbench modules it imports anywhere (top level, inside functions,
    under TYPE_CHECKING): a circle through any of them is one a reader has to untangle."""
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cnbench"):
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names if alias.name.startswith("cnbench"))
        graph[name] = {module for module in found if module in modules and module != name}
    return graph


def _cycle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A path start -> ... -> start, if the import graph has one."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for following in graph[node]:
            if following == start:
                return path + [start]
            if following not in seen:
                seen.add(following)
                stack.append((following, path + [following]))
    return None


def test_the_layers_named_in_the_brief_import_each_other_one_way_only():
    graph = _imports()
    for low, high in (("cnbench.data.readers", "cnbench.task"), ("cnbench.registry", "cnbench.paths")):
        assert high not in graph[low], f"{low} imports {high}"
    assert "cnbench.kinds" not in graph["cnbench.data.readers"]  # the kinds read through the readers


def test_no_module_of_the_data_path_sits_on_an_import_circle():
    graph = _imports()
    data_path = [
        "cnbench.task",
        "cnbench.kinds",
        "cnbench.kinds.classification",
        "cnbench.kinds.tagging",
        "cnbench.kinds.span",
        "cnbench.data.readers",
        "cnbench.data.squad",
        "cnbench.data.load",
        "cnbench.features",
        "cnbench.batching",
        "cnbench.registry",
        "cnbench.paths",
        "cnbench.mrc_metric",
    ]
    circles = {name: _cycle_through(graph, name) for name in data_path}
    assert {name: circle for name, circle in circles.items() if circle} == {}


def test_only_the_kinds_test_a_task_kinds_name():
    """Code outside ``cnbench/kinds`` asks the task's kind (``task.kind_rules``) instead of
    comparing ``kind`` with a name; a new kind then needs no edit elsewhere."""
    naming = re.compile(
        r"""kind\s*[!=]=\s*["'](single|pair|tagging|span|classification)["']|"""
        r"""["'](single|pair|tagging|span|classification)["']\s*[!=]=\s*\w*kind"""
    )
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{number}"
        for path in PACKAGE.rglob("*.py")
        if "kinds" not in path.parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if naming.search(line)
    ]
    assert offenders == []
