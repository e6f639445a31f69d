"""The one exception type users see.

Anything raised as ``CnbenchError`` is printed by the CLI as a plain message (no traceback)
and exits with status 2. Messages name the file, line and what was expected where that applies.
"""


class CnbenchError(Exception):
    """A problem with the user's input, data or environment, explained in the message."""


class DataError(CnbenchError):
    """Malformed or missing data. ``str(err)`` starts with ``path:line:`` when a line is known."""

    def __init__(self, path, line: int | None, message: str):
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


def first_line(err: BaseException) -> str:
    """An exception's message cut to its first line, for one-line reports ("" when it has none)."""
    message = str(err).strip()
    return message.splitlines()[0] if message else ""
