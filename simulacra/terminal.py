"""Tables and lines that read in any terminal width and when piped (80 columns), never cutting a number or an id.

`print_table(console, table)` prints a rich table as it is when it fits; narrower, with every column wrapped at
spaces (each column at least as wide as its longest word, so a number, an interval bound or an id stays whole;
a column declared with `overflow="fold"` and a `min_width` may be folded down to that width, never cut);
narrower still, as plain lines, one row a line ("first cell  header value  header value ..."), wrapped between
fields. `print_wrapped(console, line)` prints a plain line wrapped at field gaps (two or more spaces), then at
spaces, with a hanging indent; a single word wider than the terminal is printed whole, never cut.

Used by every command that prints a table (reports, the reference table, compare, behavioral experiments, study
status, agents, doctor). Only rich; no other dependency.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from rich.cells import cell_len
from rich.errors import MarkupError
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

HANGING_INDENT = "    "
_FIELD_GAP = re.compile(r"(?<=\S) {2,}(?=\S)")


def _plain(cell: Any) -> str:
    if isinstance(cell, Text):
        return cell.plain
    if isinstance(cell, str):
        try:
            return Text.from_markup(cell).plain
        except MarkupError:
            return cell
    return "" if cell is None else str(cell)


def _longest_word(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=0)


def _longest_line(text: str) -> int:
    return max((cell_len(line) for line in text.splitlines()), default=0)


def wrap_line(line: str, width: int, indent: str = HANGING_INDENT) -> list[str]:
    """`line` as lines of at most `width` cells: broken between fields (runs of 2+ spaces) where it can, else at
    spaces; continuation lines get `indent` more than the first. A word is never broken: one wider than a line
    (a long path) stays beside the word before it, printed whole."""
    if cell_len(line) <= width or not line.strip():
        return [line]
    lead = line[: len(line) - len(line.lstrip(" "))]
    prefix, current, out = lead, "", []

    def fits_nowhere(word: str) -> bool:  # wider than a continuation line: kept beside its label, not moved
        return " " not in word and cell_len(lead + indent + word) > width

    for field in _FIELD_GAP.split(line.strip()):
        joined = f"{current}  {field}" if current else field
        if cell_len(prefix) + cell_len(joined) <= width or fits_nowhere(field):
            current = joined
            continue
        if current:
            out.append(prefix + current)
            prefix, current = lead + indent, ""
        if cell_len(prefix) + cell_len(field) <= width:
            current = field
            continue
        for word in field.split():  # a field wider than the line: at its spaces
            joined = f"{current} {word}" if current else word
            if not current or cell_len(prefix) + cell_len(joined) <= width or fits_nowhere(word):
                current = joined
            else:
                out.append(prefix + current)
                prefix, current = lead + indent, word
    if current:
        out.append(prefix + current)
    return out


def print_wrapped(console: Any, line: str, style: str | None = None, indent: str = HANGING_INDENT) -> None:
    """Print plain text (no markup) wrapped to the console width by `wrap_line`, each of its lines apart."""
    for part in line.split("\n"):
        for piece in wrap_line(part, console.width, indent):
            console.print(piece, style=style, markup=False, highlight=False, soft_wrap=True)


def print_lines(console: Any, lines: Iterable[str], style: str | None = None) -> None:
    for line in lines:
        print_wrapped(console, line, style=style)


def table_lines(table: Table) -> list[tuple[str, str | None]]:
    """The table as plain lines with their row styles: the title, then one line a row, the first cell first and
    every other non-empty cell as `header value`, fields two spaces apart."""
    headers = [_plain(c.header) for c in table.columns]
    cells = [[_plain(cell) for cell in c.cells] for c in table.columns]
    rows = len(table.rows)
    width = max((cell_len(cells[0][r]) for r in range(rows)), default=0) if cells else 0
    lines: list[tuple[str, str | None]] = []
    if table.title:
        lines.append((_plain(table.title), None))
    for r in range(rows):
        first = " ".join(cells[0][r].split()) if cells else ""
        parts = [first + " " * (width - cell_len(first))] if table.show_header else [first]
        for c in range(1, len(cells)):
            value = " ".join(cells[c][r].split())
            if value:
                parts.append(f"{headers[c]} {value}" if table.show_header and headers[c] else value)
        style = table.rows[r].style
        lines.append(("  ".join(parts), style if isinstance(style, str) else None))
    if table.caption:
        lines.append((_plain(table.caption), None))
    return lines


def _overhead(console: Any, table: Table) -> int:
    """Cells the table needs beyond its columns' text: borders and padding."""
    saved = [(c.width, c.min_width, c.max_width) for c in table.columns]
    try:
        for column in table.columns:
            column.width, column.min_width, column.max_width = 1, None, None
        measured = Measurement.get(console, console.options.update_width(100_000), table).maximum
    finally:
        for column, (w, lo, hi) in zip(table.columns, saved):
            column.width, column.min_width, column.max_width = w, lo, hi
    return measured - len(table.columns)


def print_table(console: Any, table: Table, **print_kwargs: Any) -> str:
    """Print `table` so it reads at the console's width; returns how: "table", "wrapped" or "lines"."""
    width = console.width
    natural = Measurement.get(console, console.options.update_width(100_000), table).maximum
    if natural <= width or not table.columns:
        console.print(table, **print_kwargs)
        return "table"
    overhead = _overhead(console, table)
    texts = [[_plain(column.header)] + [_plain(cell) for cell in column.cells] for column in table.columns]
    lows = [column.min_width if column.overflow == "fold" and column.min_width else  # the caller allows folding here
            max(max((_longest_word(t) for t in text), default=1), column.min_width or 0, 1)
            for column, text in zip(table.columns, texts)]
    highs = [max(low, max((_longest_line(t) for t in column), default=1)) for low, column in zip(lows, texts)]
    room = width - overhead
    if sum(lows) > room:
        for line, style in table_lines(table):
            print_wrapped(console, line, style=style)
        return "lines"
    widths = list(lows)
    spare = room - sum(widths)
    while spare > 0:  # give each column what it lacks, the one lacking most first
        lacking = [high - w for high, w in zip(highs, widths)]
        i = max(range(len(widths)), key=lambda k: lacking[k])
        if lacking[i] <= 0:
            break
        widths[i] += 1
        spare -= 1
    title = table.title
    if title is not None and _longest_word(_plain(title)) > sum(widths) + overhead:
        print_wrapped(console, _plain(title))  # an id or a path in the title is printed whole above the table
        table.title = None
    for column, w in zip(table.columns, widths):
        column.width, column.min_width, column.max_width = w, None, None
        column.no_wrap, column.overflow = False, "fold"
    console.print(table, **print_kwargs)
    table.title = title
    return "wrapped"




def print_markdown(console: Any, text: str) -> None:
    """Print markdown-ish text (prose lines and `| a | b |` tables) so it reads at the console's width: prose
    wrapped between words, each table through `print_table`."""
    block: list[list[str]] = []

    def flush() -> None:
        if not block:
            return
        table = Table(padding=(0, 1))
        header, *rows = block
        for i, name in enumerate(header):
            table.add_column(name, justify="left" if i == 0 else "right")
        for row in rows:
            table.add_row(*(row + [""] * (len(header) - len(row)))[: len(header)])
        print_table(console, table, markup=False, highlight=False)
        block.clear()

    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("|") and stripped.endswith("|"):
            cells = [cell.strip() for cell in stripped[1:-1].split("|")]
            if not all(set(cell) <= set("-: ") for cell in cells):  # the |---|---| rule
                block.append(cells)
            continue
        flush()
        print_wrapped(console, line)
    flush()


__all__ = ["print_markdown", "print_table", "print_wrapped", "print_lines", "table_lines", "wrap_line"]
