"""One BIO well-formedness rule for every source of tagged data (local files, Hub rows, downloads),
so a task is scored against the same gold whichever source its sentences came from."""

from __future__ import annotations


def repair_bio(tags: list[str] | tuple[str, ...]) -> tuple[list[str], list[tuple[int, str, str]]]:
    """Return ``(tags, repairs)``: each ``I-X`` that does not continue an ``X`` entity (at sentence
    start, after ``O`` or after another type) becomes ``B-X``; ``repairs`` lists
    ``(position, original tag, context)`` for each, so a caller can count them or refuse them."""
    fixed: list[str] = []
    repairs = []
    for position, tag in enumerate(tags):
        if tag.startswith("I-"):
            previous = fixed[-1] if fixed else "O"
            if previous == "O" or previous[2:] != tag[2:]:
                context = "sentence start" if not fixed else repr(previous)
                repairs.append((position, tag, context))
                tag = "B-" + tag[2:]
        fixed.append(tag)
    return fixed, repairs
