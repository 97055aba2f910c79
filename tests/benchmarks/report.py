"""Print benchmark results as Markdown tables (pasteable into the README and closing notes)."""

from __future__ import annotations

from collections.abc import Sequence

VENDOR_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def vendor_name(vendor: str) -> str:
    """Return the display name of a Django database vendor."""
    return VENDOR_NAMES.get(vendor, vendor)


def print_table(
    header: Sequence[str], rows: Sequence[Sequence[object]], *, text_columns: int = 1
) -> None:
    """Print a Markdown table; the first ``text_columns`` are left-aligned, the rest right."""
    cells = [[str(c) for c in header], *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: list[str]) -> str:
        padded = (
            cell.ljust(width) if i < text_columns else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    print(line(cells[0]))
    print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    for row in cells[1:]:
        print(line(row))
