"""The fast read of a CSV chunk whose every row is plain: one unquoted line per row, every cell present, and
every value one that schema validation passes without a look (`plainly_valid`). Such a chunk is read by
column, a few C calls per column instead of Python per cell, and needs no validation pass.

It gives exactly the rows the general reader (`files.chunk_rows_read`) and validation (`instances_prepare`)
give such a chunk: the same cells (the text between commas), converted by the same functions and checked by
the same tests. Anything else (quotes, a carriage return, a NUL, a blank line, a missing or extra cell, a
value that does not convert or is not plainly valid, a row past the size limit) answers None, and the chunk
goes through the general reader, which reports each problem on its row.
"""

import math
from dataclasses import dataclass

from batch.files import CSV_CONVERTERS
from predictions.registry.schema import plainly_valid


@dataclass(frozen=True)
class PlainRows:
    """A plain chunk's rows as the model is given them (objects in schema order); row N of the chunk is data
    row `first_row + N`, on line `first_line + N`."""

    first_row: int
    first_line: int
    rows: list[dict]


def _lines(data: bytes, max_row_bytes: int) -> list[str] | None:
    if b'"' in data or b"\r" in data or b"\x00" in data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = (text[:-1] if text.endswith("\n") else text).split("\n")
    if len(data) >= max_row_bytes:  # a record's size counts its newline, in bytes
        sizes = map(len, lines) if data.isascii() else (len(line.encode()) for line in lines)
        if max(sizes) + 1 > max_row_bytes:
            return None
    return lines


def plain_csv_rows(
    *, data: bytes, columns: list[str], features: list[dict], first_row: int, first_line: int, max_row_bytes: int
) -> PlainRows | None:
    """The rows of a chunk's bytes (`data`: whole lines after the header) when the chunk is plain, else None.

    `columns` is the header as checked at submission (every feature once, nothing else)."""
    lines = _lines(data, max_row_bytes)
    if lines is None:
        return None
    width, commas = len(columns), len(columns) - 1
    if any(line.count(",") != commas for line in lines):  # a cell short or over, or a blank line
        return None
    cells = ",".join(lines).split(",")
    by_name = {feature["name"]: feature for feature in features}
    converted = {}
    for position, name in enumerate(columns):
        column = cells[position::width]
        if "" in column:  # a missing value: REQUIRED, or None for a nullable feature
            return None
        feature = by_name[name]
        free_number = feature["type"] == "number" and feature.get("allowed") is None
        try:
            # `float` is the number converter without its finiteness check, which the sum below makes
            values = list(map(float if free_number else CSV_CONVERTERS[feature["type"]], column))
        except ValueError:
            return None
        # A sum of floats is finite only when every one is (an inf or a NaN carries through; an overflow of
        # finite values only sends the chunk the general way).
        if not (math.isfinite(sum(values)) if free_number else all(map(plainly_valid(feature), values))):
            return None
        converted[name] = values
    names = [feature["name"] for feature in features]
    rows = [dict(zip(names, values, strict=True)) for values in zip(*(converted[n] for n in names), strict=True)]
    return PlainRows(first_row, first_line, rows)
