"""Tables that fit where they go.

On a terminal, a rich table whose name columns never wrap or shrink (other columns give way). Anywhere
else (a pipe, a file, a CI log, where rich would assume 80 columns and cut cells short), plain lines
with the columns aligned by spaces and every cell printed in full, easy to read and to grep.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click
from rich.cells import cell_len  # display width: a Chinese character takes two columns


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], names: Sequence[str] = ()) -> None:
    """Print ``rows`` under ``columns`` with a title line; ``names`` are the columns (task and model
    names, ids) that must stay whole on a terminal, where other cells may wrap between words."""
    texts = [[str(cell) for cell in row] for row in rows]
    if sys.stdout.isatty() and _print_rich(title, columns, texts, names):
        return
    widths = [max(cell_len(cell) for cell in column) for column in zip(columns, *texts, strict=True)]
    click.echo(title)
    for row in (columns, *texts):
        cells = [cell + " " * (width - cell_len(cell)) for cell, width in zip(row, widths, strict=True)]
        click.echo("  ".join(cells).rstrip())
    click.echo()


def _print_rich(title: str, columns: Sequence[str], rows: list[list[str]], names: Sequence[str]) -> bool:
    """Print a rich table if it fits the terminal without cutting a word; False if it does not."""
    from rich.console import Console
    from rich.table import Table

    minimum = []  # names whole; other cells wrap at spaces, so their longest word
    for index, column in enumerate(columns):
        cells = [column, *(row[index] for row in rows)]
        words = cells if column in names else [word for cell in cells for word in cell.split()]
        minimum.append(max(map(cell_len, words), default=1))
    console = Console()
    if sum(minimum) + 3 * len(columns) + 1 > console.width:  # one space of padding each side, one border each
        return False
    table = Table(title=title, title_justify="left")
    for column, width in zip(columns, minimum, strict=True):
        table.add_column(column, no_wrap=column in names, min_width=width)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    return True
