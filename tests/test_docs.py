"""The documentation holds together: every relative link in README.md and docs/*.md reaches a file (and a
heading, when it names one), the README links every docs page, and the README keeps its two commands, the ones
that CI copies, as one bash block each."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from cnbench.paths import REPO_ROOT

README = REPO_ROOT / "README.md"
PAGES = sorted((REPO_ROOT / "docs").glob("*.md"))

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
# an inline link or image: [text](target "optional title"); the text may wrap onto the next line
LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN = re.compile(r"`+[^`\n]*`+")


def prose(text: str) -> str:
    """The text outside fenced code blocks and inline code, where a bracket can be a link."""
    kept, fence = [], None
    for line in text.splitlines():
        opening = FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)[0]
        elif fence is not None and opening and opening.group(1)[0] == fence:
            fence = None
        elif fence is None:
            kept.append(CODE_SPAN.sub("", line))
    return "\n".join(kept)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its visible text lower-cased, punctuation dropped, spaces as hyphens."""
    visible = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    return re.sub(r"[^\w\- ]", "", visible.lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a page; a repeated heading gets -1, -2, ... as GitHub numbers them."""
    seen: dict[str, int] = {}
    found = set()
    for line in prose(path.read_text(encoding="utf-8")).splitlines():
        match = HEADING.match(line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[str]:
    return LINK.findall(prose(path.read_text(encoding="utf-8")))


def broken_links(path: Path) -> list[str]:
    """The relative links of a page whose file, or heading within it, does not exist."""
    broken = []
    for target in links(path):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, https:, mailto: ...
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / unquote(file_part)).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and unquote(anchor).lower() not in anchors(linked):
            broken.append(f"{target}: {linked.name} has no heading with that anchor")
    return broken


def section(text: str, title: str) -> str:
    """The body of the '## title' section, up to the next heading of that level or above; a '#' line inside a
    code block (a shell comment) is not a heading."""
    body: list[str] | None = None
    fence = None
    for line in text.splitlines(keepends=True):
        opening = FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)[0]
        elif fence is not None and opening and opening.group(1)[0] == fence:
            fence = None
        elif fence is None and re.match(r"#{1,2} ", line):
            if body is not None:
                break
            if line[2:].strip() == title and line.startswith("## "):
                body = []
                continue
        if body is not None:
            body.append(line)
    assert body is not None, f"README.md has no '## {title}' section"
    return "".join(body)


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(info string, content) of each fenced code block."""
    return [
        (info.strip(), body)
        for info, body in re.findall(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", text, re.MULTILINE | re.DOTALL)
    ]


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_every_relative_link_reaches_an_existing_file_and_heading(page):
    assert broken_links(page) == []


def test_the_link_check_reports_a_missing_file_and_a_missing_heading(tmp_path):
    (tmp_path / "other.md").write_text("# Other page\n\n## Models, checked\n\n## Models, checked\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "See [it](other.md#models-checked), [again](other.md#models-checked-1), [here](#a-title) and\n"
        "[the web](https://example.org/x). Broken: [gone](missing.md), [no heading](other.md#nowhere).\n\n"
        "# A title\n\n```\n[not a link](inside-a-code-block.md)\n```\n\n`[nor](inside-code.md)`\n",
        encoding="utf-8",
    )
    assert broken_links(page) == [
        "missing.md: no such file",
        "other.md#nowhere: other.md has no heading with that anchor",
    ]


@pytest.mark.parametrize(
    "heading, anchor",
    [
        ("Models, checked", "models-checked"),
        ("Reading comprehension (span tasks)", "reading-comprehension-span-tasks"),
        ("The `--tuning` flag", "the---tuning-flag"),
        ("See [the docs](docs/README.md)", "see-the-docs"),
    ],
)
def test_heading_anchors_follow_githubs_rule(heading, anchor):
    assert slug(heading) == anchor


def test_the_readme_links_every_docs_page_and_the_index_lists_them():
    assert PAGES, "docs/ holds no pages"
    from_readme = {(REPO_ROOT / unquote(target.partition("#")[0])).resolve() for target in links(README)}
    index = REPO_ROOT / "docs" / "README.md"
    from_index = {(index.parent / unquote(target.partition("#")[0])).resolve() for target in links(index)}
    assert [page.name for page in PAGES if page.resolve() not in from_readme] == []
    assert [page.name for page in PAGES if page != index and page.resolve() not in from_index] == []


def test_the_readme_keeps_its_set_up_and_test_commands_as_one_bash_block_each():
    text = README.read_text(encoding="utf-8")

    set_up = fenced_blocks(section(text, "Set up and run"))
    assert [info for info, _ in set_up] == ["bash"]
    command = set_up[0][1].strip()
    assert "\n" not in command and command.startswith("python3 -m venv .venv && ")
    assert "pip install" in command and ".venv/bin/cnbench run " in command

    test = fenced_blocks(section(text, "Test"))
    assert test == [("bash", ".venv/bin/python -m pytest -q\n")]
