"""Input files: format detection, the submission-time scan (rows, chunk byte ranges) and reading a chunk back.

Both formats are UTF-8 (a leading BOM is ignored); blank lines are skipped and are not rows.
- CSV: comma separated, a header row naming the features, RFC 4180 quoting (a quoted value may span
  lines). Values arrive as text and are converted to each feature's schema type; an empty cell is a
  missing value.
- JSONL: one JSON object per line, typed as in an online prediction's `features`.

Row numbers count data rows from 1; line numbers are the file's physical lines from 1 (the CSV header
is line 1), the line a row starts on.
"""

import codecs
import csv
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from batch.error_codes import BatchErrorCode
from batch.models import FileFormat
from mlapi.errors import ApplicationError, FieldError
from predictions.error_codes import PredictionErrorCode

SUFFIXES = {"csv": FileFormat.CSV, "jsonl": FileFormat.JSONL, "ndjson": FileFormat.JSONL}
BOM = codecs.BOM_UTF8
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})


def file_format_detect(*, filename: str, declared: str | None = None) -> str:
    """The declared format when given, else the file name's suffix (.csv, .jsonl or .ndjson)."""
    if declared:
        value = declared.strip().lower()
        if value not in FileFormat.values:
            raise ApplicationError.single(
                BatchErrorCode.UNSUPPORTED_FORMAT, f"format must be one of {FileFormat.values}.", field="format"
            )
        return value
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix not in SUFFIXES:
        raise ApplicationError.single(
            BatchErrorCode.UNSUPPORTED_FORMAT,
            "Upload a .csv or .jsonl file, or give format (csv or jsonl).",
            field="file",
        )
    return SUFFIXES[suffix]


@dataclass(frozen=True)
class ChunkSpan:
    index: int
    first_row: int
    first_line: int
    row_count: int
    start_offset: int
    end_offset: int


@dataclass(frozen=True)
class FileScan:
    columns: list[str]
    rows_total: int
    chunks: list[ChunkSpan]


class FileTooLargeError(ApplicationError):
    http_status = 413


def _file_error(code: BatchErrorCode, message: str) -> ApplicationError:
    return ApplicationError.single(code, message, field="file")


class _Lines:
    """Decoded lines of a binary stream, keeping count of lines and bytes consumed (csv.reader reads no further
    than the end of the record it returns, so `consumed` is where the next record starts)."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.lines = 0
        self.consumed = 0
        self.line_start = 0

    def __iter__(self) -> Iterator[str]:
        # The underlying file object: Django's File iterates on \r too, Python's binary files on \n only.
        for raw in getattr(self.stream, "file", self.stream):
            if self.lines == 0 and raw.startswith(BOM):
                self.consumed += len(BOM)
                raw = raw[len(BOM):]
            self.lines += 1
            self.line_start = self.consumed
            self.consumed += len(raw)
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                raise _file_error(BatchErrorCode.INVALID_ENCODING, f"Line {self.lines} is not UTF-8.") from None


class _ChunkCutter:
    def __init__(self, chunk_rows: int, max_rows: int):
        self.chunk_rows = chunk_rows
        self.max_rows = max_rows
        self.rows = 0
        self.chunks: list[ChunkSpan] = []
        self._start: tuple[int, int, int] | None = None  # (first_row, first_line, start_offset)

    def row(self, *, line: int, offset_before: int, offset_after: int) -> None:
        self.rows += 1
        if self.rows > self.max_rows:
            raise _file_error(BatchErrorCode.TOO_MANY_ROWS, f"The file has more than {self.max_rows} rows.")
        if self._start is None:
            self._start = (self.rows, line, offset_before)
        self._end = offset_after
        if self.rows - self._start[0] + 1 == self.chunk_rows:
            self._cut()

    def _cut(self) -> None:
        first_row, first_line, start = self._start
        self.chunks.append(
            ChunkSpan(len(self.chunks), first_row, first_line, self.rows - first_row + 1, start, self._end)
        )
        self._start = None

    def finish(self) -> list[ChunkSpan]:
        if self._start is not None:
            self._cut()
        if not self.rows:
            raise _file_error(BatchErrorCode.EMPTY_FILE, "The file has no data rows.")
        return self.chunks


def _header_check(header: list[str], feature_names: list[str]) -> list[str]:
    columns = [c.strip() for c in header]
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    missing = [n for n in feature_names if n not in columns]
    unknown = [c for c in columns if c not in feature_names]
    problems = []
    if duplicates:
        problems.append(f"duplicate columns {duplicates[:10]}")
    if missing:
        problems.append(f"missing feature columns {missing[:10]}")
    if unknown:
        problems.append(f"unknown columns {unknown[:10]}")
    if problems:
        raise _file_error(
            BatchErrorCode.INVALID_HEADER,
            f"The CSV header must name the model's features ({feature_names[:20]}): " + "; ".join(problems) + ".",
        )
    return columns


def file_scan(
    *, stream: BinaryIO, file_format: str, feature_names: list[str], chunk_rows: int, max_rows: int
) -> FileScan:
    """Counts rows and cuts the file into byte ranges of `chunk_rows` rows, in one pass."""
    lines = _Lines(stream)
    cutter = _ChunkCutter(chunk_rows, max_rows)
    columns: list[str] = []
    if file_format == FileFormat.CSV:
        reader = csv.reader(iter(lines))
        header = None
        while True:
            offset_before, lines_before = lines.consumed, lines.lines
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                raise _file_error(BatchErrorCode.MALFORMED_ROW, f"Line {lines.lines}: {error}.") from None
            if not record:
                continue
            if header is None:
                header = record
                columns = _header_check(header, feature_names)
                continue
            cutter.row(line=lines_before + 1, offset_before=offset_before, offset_after=lines.consumed)
        if header is None:
            raise _file_error(BatchErrorCode.EMPTY_FILE, "The file has no header row.")
    else:
        for text in lines:
            if text.strip():
                cutter.row(line=lines.lines, offset_before=lines.line_start, offset_after=lines.consumed)
    return FileScan(columns=columns, rows_total=cutter.rows, chunks=cutter.finish())


# --- Reading a chunk back -------------------------------------------------------------------------


@dataclass
class RawRow:
    """One data row as read: `values` (JSON types) or the `errors` that stop it from being scored."""

    row_number: int
    line: int
    values: Any = None
    errors: list[FieldError] = field(default_factory=list)


def chunk_rows_read(
    *, data: bytes, file_format: str, columns: list[str], features: list[dict], first_row: int, first_line: int
) -> list[RawRow]:
    """The rows of one chunk's bytes; CSV values converted to each feature's type (failures are row errors)."""
    text_lines = _lines(data.decode("utf-8"))
    rows: list[RawRow] = []
    if file_format == FileFormat.CSV:
        types = {f["name"]: f["type"] for f in features}
        converters = [(name, _CONVERTERS[types[name]]) for name in columns]
        reader = csv.reader(text_lines)
        while True:
            lines_before = reader.line_num
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as error:  # cannot happen after a successful scan; kept as a row error
                rows.append(_malformed(first_row + len(rows), first_line + lines_before, str(error)))
                continue
            if cells:
                rows.append(_csv_row(first_row + len(rows), first_line + lines_before, cells, converters))
        return rows
    for offset, text in enumerate(text_lines):
        if not text.strip():
            continue
        row_number, line = first_row + len(rows), first_line + offset
        try:
            rows.append(RawRow(row_number, line, json.loads(text)))
        except ValueError as error:
            rows.append(_malformed(row_number, line, f"Not valid JSON: {error}"))
    return rows


def _lines(text: str) -> list[str]:
    """Split on "\n" only, as the scan did (str.splitlines also splits on \r, \x85, \u2028...)."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _malformed(row_number: int, line: int, message: str) -> RawRow:
    return RawRow(row_number, line, None, [FieldError(None, BatchErrorCode.MALFORMED_ROW.value, message[:200])])


def _csv_row(row_number: int, line: int, cells: list[str], converters: list) -> RawRow:
    if len(cells) > len(converters):
        return _malformed(row_number, line, f"The row has {len(cells)} values; the header has {len(converters)}.")
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for (name, convert), cell in zip(converters, cells):
        if cell == "":
            continue  # missing: reported as REQUIRED by the schema validation
        try:
            values[name] = convert(cell)
        except ValueError as error:
            errors.append(FieldError(name, PredictionErrorCode.INVALID_TYPE.value, str(error)))
    return RawRow(row_number, line, values, errors)


def _to_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("Expected a number.") from None
    if not math.isfinite(value):
        raise ValueError("Expected a finite number.")
    return value


def _to_integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise ValueError("Expected an integer.") from None
    if not (math.isfinite(value) and value.is_integer()):
        raise ValueError("Expected an integer.")
    return int(value)


def _to_boolean(text: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError("Expected true or false.")


_CONVERTERS = {"number": _to_number, "integer": _to_integer, "boolean": _to_boolean, "string": str}
