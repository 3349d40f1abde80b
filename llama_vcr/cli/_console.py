"""Where the ``llama-vcr`` command line writes, and how: colour, terminal width, tables, annotations.

Terminal output goes through `rich <https://rich.readthedocs.io>`_, imported on the first line
printed (so ``llama-vcr --help`` stays light). ``--json`` output is plain :func:`json.dumps`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

if TYPE_CHECKING:
    import rich.console

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2

COLOR_MODES = ("auto", "always", "never")
#: The console width when output is not trimmed (no terminal and no ``COLUMNS``): tables keep
#: their natural width.
_UNBOUNDED = 10_000
#: Spaces between table columns, and how narrow a flexible column gets before the others are cut.
_GAP = 2
_MIN_FLEXIBLE = 6


class UsageError(Exception):
    """Bad arguments or unreadable input: reported as ``llama-vcr: <message>``, exit status 2."""


class Styled(NamedTuple):
    """Part of a line in a rich style (``"bold"``, ``"red"``, ``"dim"``...); see :meth:`Console.style`."""

    text: str
    style: str


def wants_color(mode: str, stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Whether to colour ``stream``: ``--color always|never`` decide; ``auto`` colours a terminal.

    In ``auto`` mode a non-empty ``NO_COLOR`` turns colour off and a non-empty ``FORCE_COLOR``
    turns it on (``NO_COLOR`` wins when both are set); otherwise only a TTY (not ``TERM=dumb``)
    gets colour.
    """
    if mode == "always":
        return True
    if mode == "never" or environ.get("NO_COLOR"):
        return False
    if environ.get("FORCE_COLOR"):
        return True
    return _isatty(stream) and environ.get("TERM") != "dumb"


def terminal_width(stream: TextIO, environ: Mapping[str, str]) -> int | None:
    """``COLUMNS`` if set to a positive number, else the terminal's width, else None (no terminal)."""
    columns = environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if _isatty(stream):
        try:
            return os.get_terminal_size(stream.fileno()).columns or None
        except (OSError, ValueError, AttributeError):
            return None
    return None


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def annotation(level: str, message: str, *, file: str, title: str, line: int | None = None) -> str:
    """A GitHub Actions workflow command: ``::error file=PATH,title=TITLE::message``."""
    where = f"file={_property(file)}" + (f",line={line}" if line else "")
    return f"::{level} {where},title={_property(title)}::{_data(message)}"


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


@dataclass
class Console:
    """Where a command writes: ``out`` for results, ``err`` for ``llama-vcr: ...`` messages.

    ``width`` trims tables (None: no limit). Plain lines are never wrapped or cut.
    """

    out: TextIO
    err: TextIO
    color: bool = False
    width: int | None = None
    _rich: rich.console.Console | None = field(default=None, init=False, repr=False)

    @classmethod
    def for_terminal(cls, color: str = "auto") -> Console:
        """The process's stdout/stderr, coloured and trimmed as :func:`wants_color` and
        :func:`terminal_width` say for stdout."""
        out = sys.stdout
        return cls(out, sys.stderr, wants_color(color, out, os.environ), terminal_width(out, os.environ))

    @property
    def rich(self) -> rich.console.Console:
        if self._rich is None:
            self._rich = _rich_console(self.out, self.color, self.width or _UNBOUNDED)
        return self._rich

    def style(self, text: str, *styles: str) -> Styled:
        return Styled(text, " ".join(styles))

    def print(self, *parts: str | Styled) -> None:
        """One line: the parts joined, each ``str`` as it is (no markup), each :class:`Styled` styled."""
        from rich.text import Text

        self.rich.print(Text.assemble(*parts), soft_wrap=True)

    def error(self, message: str) -> None:
        self.err.write(f"llama-vcr: {message}\n")

    def json(self, value: Any) -> None:
        self.out.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")

    def table(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[str]],
        *,
        right: Collection[int] = (),
        flexible: Collection[int] = (),
        groups: Sequence[str] | None = None,
    ) -> None:
        """An aligned table, header in bold, one line per row, trimmed to ``width``.

        Columns in ``right`` are right-aligned; when the table is too wide the ``flexible``
        columns are cut first (with ``…``, widest first, down to a few characters), then all of
        them. ``groups`` (one label per row) prints a label line before the first row of each run
        of equal labels.
        """
        from rich.cells import cell_len
        from rich.table import Column, Table
        from rich.text import Text

        natural = [max(cell_len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
        widths = fit_widths(natural, flexible, (self.width or _UNBOUNDED) - _GAP * (len(header) - 1))
        columns = [
            Column(
                header=Text(name, no_wrap=True, overflow="ellipsis"),
                justify="right" if index in right else "left",
                no_wrap=True,
                overflow="ellipsis",
                max_width=widths[index],
            )
            for index, name in enumerate(header)
        ]
        grid = Table(*columns, box=None, padding=(0, 1), pad_edge=False, show_edge=False, header_style="bold")
        for row in rows:
            grid.add_row(*(Text(str(cell), no_wrap=True, overflow="ellipsis") for cell in row))
        width = self.width or _UNBOUNDED
        lines = [
            Text.assemble(*((segment.text, segment.style or "") for segment in line if not segment.control))
            for line in self.rich.render_lines(grid, self.rich.options.update_width(width), pad=False)
        ]
        for line in lines:
            line.rstrip()
        if groups is None or len(lines) != len(rows) + 1:
            for line in lines:
                self.rich.print(line, soft_wrap=True)
            return
        self.rich.print(lines[0], soft_wrap=True)
        previous = None
        for label, line in zip(groups, lines[1:], strict=True):
            if label != previous:
                text = Text(label, style="cyan")
                if self.width:
                    text.truncate(self.width, overflow="ellipsis")
                self.rich.print(text, soft_wrap=True)
                previous = label
            self.rich.print(line, soft_wrap=True)


def fit_widths(natural: Sequence[int], flexible: Collection[int], budget: int) -> list[int]:
    """Column widths within ``budget``: the widest ``flexible`` column loses a character until the
    total fits or every flexible column is down to ``_MIN_FLEXIBLE`` (the rest is rich's to cut)."""
    widths = list(natural)
    excess = sum(widths) - budget
    while excess > 0:
        candidates = [index for index in flexible if widths[index] > _MIN_FLEXIBLE]
        if not candidates:
            break
        widths[max(candidates, key=lambda index: widths[index])] -= 1
        excess -= 1
    return widths


def _rich_console(out: TextIO, color: bool, width: int) -> rich.console.Console:
    """A rich console writing to ``out`` with exactly the colour decided here (not rich's own
    reading of the environment), no highlighting, markup or emoji codes."""
    from rich.console import Console as RichConsole

    class _Console(RichConsole):
        def on_broken_pipe(self) -> None:  # rich exits the process; let the command line decide
            self.quiet = True
            raise BrokenPipeError

    return _Console(
        file=out,
        width=width,
        color_system="standard" if color else None,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        markup=False,
        emoji=False,
        legacy_windows=False,
        soft_wrap=True,
    )
