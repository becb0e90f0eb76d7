"""Input files: format detection, the submission-time scan (rows, chunk byte ranges) and reading a chunk back.

Both formats are UTF-8 (a leading BOM is ignored); blank lines are skipped and are not rows.
- CSV: comma separated, a header row naming the features, RFC 4180 quoting (a quoted value may span
  lines). Values arrive as text and are converted to each feature's schema type; an empty cell is a
  missing value.
- JSONL: one JSON object per line, typed as in an online prediction's `features`.

Row numbers count data rows from 1; line numbers are the file's physical lines from 1 (the CSV header
is line 1), the line a row starts on.

Files are read as a stream of records, never whole: a record longer than BATCH_MAX_ROW_BYTES is skipped
piece by piece (never held) and becomes a ROW_TOO_LARGE row error; the CSV header is refused when it is
longer than that (HEADER_TOO_LARGE) or has more than BATCH_MAX_COLUMNS columns (TOO_MANY_COLUMNS). A row the
database could not store or Python could not recurse into (NUL, unpaired surrogates, NaN/Infinity, nesting
past MAX_ROW_DEPTH) is a row error too: one bad row never fails the job.
"""

import codecs
import csv
import json
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, NamedTuple

from django.conf import settings
from django.core.files.storage import default_storage

from batch.error_codes import BatchErrorCode
from batch.models import FileFormat
from mlapi.errors import ApplicationError, FieldError
from mlapi.unstorable_text import UNSTORABLE
from predictions.error_codes import PredictionErrorCode

SUFFIXES = {"csv": FileFormat.CSV, "jsonl": FileFormat.JSONL, "ndjson": FileFormat.JSONL}
BOM = codecs.BOM_UTF8
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})
MAX_ROW_DEPTH = 32  # a row is an object of scalars; deeper nesting is refused before anything recurses into it


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


# --- Records: the file's rows as byte ranges, read in bounded pieces ------------------------------

BLOCK_BYTES = 1024 * 1024  # read at a time when rows are short lines
PIECE_BYTES = 64 * 1024  # how much of an over-long row is read at a time while it is skipped
_QUOTE, _COMMA, _NEWLINE, _QUOTE_BYTE = ord('"'), ord(","), b"\n", b'"'
_FIELD_START, _UNQUOTED, _QUOTED, _QUOTE_IN_QUOTED = range(4)


class _Record(NamedTuple):
    """One record (a JSONL line, a CSV record: quoted values may span lines): where it starts and ends, and
    its bytes, or None when it is longer than the row limit (it was skipped, never held in memory)."""

    line: int
    start: int
    end: int
    data: bytes | None
    lines: int = 1


def _csv_state_after(state: int, body: bytes) -> int:
    """The CSV reader's state after `body` (bytes of one line without its newline), for the default dialect
    (`"` quotes, `""` escapes a quote, a quote only opens a field at its start). Linear; jumps quote to quote."""
    i, n = 0, len(body)
    while i < n:
        if state == _QUOTED:
            q = body.find(b'"', i)
            if q < 0:
                return _QUOTED
            state, i = _QUOTE_IN_QUOTED, q + 1
        elif state == _QUOTE_IN_QUOTED:
            c = body[i]
            state = _QUOTED if c == _QUOTE else _FIELD_START if c == _COMMA else _UNQUOTED
            i += 1
        elif state == _FIELD_START:
            c = body[i]
            if c == _QUOTE:
                state = _QUOTED
            elif c != _COMMA:
                state = _UNQUOTED
            i += 1
        else:  # unquoted: only a comma followed by a quote opens a quoted value
            j = body.find(b',"', i)
            if j < 0:
                return _FIELD_START if body.endswith(b",") else _UNQUOTED
            state, i = _QUOTED, j + 2
    return state


def _records(
    stream: BinaryIO,
    *,
    file_format: str,
    max_bytes: int,
    start_offset: int = 0,
    end_offset: int | None = None,
    first_line: int = 1,
) -> Iterator[_Record]:
    """The records between `start_offset` and `end_offset`, in order. Reads blocks of whole lines; a record that
    is not one short line (a quoted CSV value with a quote in it, or a line past `max_bytes`) is read line by line
    and holds at most `max_bytes` + one piece: a longer record comes back with `data=None`, never held."""
    raw = getattr(stream, "file", stream)  # Django's File iterates on \r too; the file object reads to \n only
    raw.seek(start_offset)
    offset, line = start_offset, first_line
    if start_offset == 0:
        if raw.read(len(BOM)) == BOM:
            offset = len(BOM)
        else:
            raw.seek(0)
    is_csv, quote = file_format == FileFormat.CSV, _QUOTE_BYTE
    while end_offset is None or offset < end_offset:
        block = raw.read(BLOCK_BYTES if end_offset is None else min(BLOCK_BYTES, end_offset - offset))
        if not block:
            return
        cut = block.rfind(b"\n") + 1
        slow = cut == 0  # no whole line in the block: a long line, or the file's last one
        if cut:
            for text in block[:cut].split(b"\n")[:-1]:  # the hot loop: a few C calls per line
                size = len(text) + 1
                if size > max_bytes or (is_csv and quote in text):
                    slow = True
                    break
                yield line, offset, offset + size, text, 1  # a _Record, as a plain tuple (3x cheaper)
                offset += size
                line += 1
        raw.seek(offset)
        if slow:
            record = _record_read(
                raw, is_csv=is_csv, max_bytes=max_bytes, offset=offset, line=line, end_offset=end_offset
            )
            if record is None:
                return
            yield record
            offset, line = record.end, record.line + record.lines


def _record_read(raw, *, is_csv: bool, max_bytes: int, offset: int, line: int, end_offset: int | None):
    """One record from `offset`, read line by line (in pieces of a long line); None at the end."""
    start, size, held, state, ends_line, lines = offset, 0, [], _FIELD_START, False, 0
    while True:
        limit = max_bytes + 1 - size if held is not None else PIECE_BYTES
        if end_offset is not None:
            limit = min(limit, end_offset - offset)
        piece = raw.readline(max(limit, 1))
        if not piece:
            break
        offset += len(piece)
        size += len(piece)
        ends_line = piece[-1:] == _NEWLINE
        lines += ends_line
        if held is not None:
            held.append(piece)
            if size > max_bytes:
                held = None
        if is_csv:
            state = _csv_state_after(state, piece[:-1] if ends_line else piece)
        if (ends_line and state != _QUOTED) or (end_offset is not None and offset >= end_offset):
            break
    if size == 0:
        return None
    if not ends_line:
        lines += 1  # the file's last line, without a newline
    return _Record(line, start, offset, None if held is None else b"".join(held), lines)


def _decoded(data: bytes, line: int) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _file_error(BatchErrorCode.INVALID_ENCODING, f"Line {line} is not UTF-8.") from None


def _is_blank(data: bytes, is_csv: bool) -> bool:
    """Blank lines are not rows: in CSV an empty line, in JSONL a line of (ASCII) white space only."""
    return not (data.strip(b"\r\n") if is_csv else data.strip())


class _ChunkCutter:
    """Cuts chunks of `chunk_rows` rows, or fewer when their held bytes reach `chunk_bytes` (a worker holds one
    chunk's rows at a time, and its result rows go to the database in one transaction)."""

    def __init__(self, chunk_rows: int, max_rows: int, chunk_bytes: int):
        self.chunk_rows = chunk_rows
        self.max_rows = max_rows
        self.chunk_bytes = chunk_bytes
        self.rows = 0
        self.chunks: list[ChunkSpan] = []
        self._start: tuple[int, int, int] | None = None  # (first_row, first_line, start_offset)
        self._bytes = 0

    def row(self, line: int, offset_before: int, offset_after: int, held_bytes: int) -> None:
        self.rows += 1
        if self.rows > self.max_rows:
            raise _file_error(BatchErrorCode.TOO_MANY_ROWS, f"The file has more than {self.max_rows} rows.")
        if self._start is None:
            self._start = (self.rows, line, offset_before)
            self._bytes = 0
        self._end = offset_after
        self._bytes += held_bytes
        if self.rows - self._start[0] + 1 == self.chunk_rows or self._bytes >= self.chunk_bytes:
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


def _header_check(header: list[str], feature_names: list[str], max_columns: int) -> list[str]:
    """Linear in the header: counts, not list.count per column."""
    if len(header) > max_columns:
        raise _file_error(
            BatchErrorCode.TOO_MANY_COLUMNS,
            f"The CSV header has {len(header)} columns; at most {max_columns} are read.",
        )
    columns = [c.strip() for c in header]
    counts = Counter(columns)
    known = set(feature_names)
    duplicates = sorted(c for c, n in counts.items() if n > 1)
    missing = [n for n in feature_names if n not in counts]
    unknown = [c for c in columns if c not in known]
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


def _header_read(records: Iterator[_Record], max_bytes: int) -> list[str] | None:
    """The CSV header's cells, refused before any parsing when it is longer than `max_bytes`."""
    for line, _start, _end, data, _line_count in records:
        if data is None:
            raise _file_error(BatchErrorCode.HEADER_TOO_LARGE, f"The CSV header is longer than {max_bytes} bytes.")
        if _is_blank(data, True):
            continue
        text = _decoded(data, line)
        try:
            cells = next(csv.reader(_lines(text)), [])
        except csv.Error as error:
            raise _file_error(BatchErrorCode.INVALID_HEADER, f"Line {line}: {error}.") from None
        return cells
    return None


def file_scan(
    *,
    stream: BinaryIO,
    file_format: str,
    feature_names: list[str],
    chunk_rows: int,
    max_rows: int,
    max_row_bytes: int | None = None,
    max_columns: int | None = None,
    chunk_bytes: int | None = None,
) -> FileScan:
    """Counts rows and cuts the file into byte ranges of `chunk_rows` rows, in one streaming pass: no row longer
    than `max_row_bytes` is held (it becomes a row error when its chunk is read). The CSV header is checked here."""
    max_row_bytes = max_row_bytes or settings.BATCH_MAX_ROW_BYTES
    max_columns = max_columns or settings.BATCH_MAX_COLUMNS
    cutter = _ChunkCutter(chunk_rows, max_rows, chunk_bytes or settings.BATCH_CHUNK_MAX_BYTES)
    records = _records(stream, file_format=file_format, max_bytes=max_row_bytes)
    columns: list[str] = []
    if file_format == FileFormat.CSV:
        header = _header_read(records, max_row_bytes)
        if header is None:
            raise _file_error(BatchErrorCode.EMPTY_FILE, "The file has no header row.")
        columns = _header_check(header, feature_names, max_columns)
    is_csv, row = file_format == FileFormat.CSV, cutter.row
    for line, start, end, data, _line_count in records:  # the hot loop of a submission: a few C calls per row
        if data is None:
            row(line, start, end, 0)
            continue
        if _is_blank(data, is_csv):
            continue
        if not data.isascii():
            _decoded(data, line)
        row(line, start, end, len(data))
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
    *,
    stream: BinaryIO,
    start_offset: int,
    end_offset: int,
    file_format: str,
    columns: list[str],
    features: list[dict],
    first_row: int,
    first_line: int,
    max_row_bytes: int | None = None,
) -> list[RawRow]:
    """The rows of one chunk (bytes `start_offset`..`end_offset` of `stream`), read record by record; CSV values
    converted to each feature's type. A row that cannot be scored or stored is a row error with its line:
    too long, not parsable, nested too deeply, or holding text the database refuses."""
    max_row_bytes = max_row_bytes or settings.BATCH_MAX_ROW_BYTES
    converters = None
    if file_format == FileFormat.CSV:
        types = {f["name"]: f["type"] for f in features}
        converters = [(name, CSV_CONVERTERS[types[name]]) for name in columns]
    rows: list[RawRow] = []
    records = _records(
        stream,
        file_format=file_format,
        max_bytes=max_row_bytes,
        start_offset=start_offset,
        end_offset=end_offset,
        first_line=first_line,
    )
    is_csv = file_format == FileFormat.CSV
    for line, _start, _end, data, _line_count in records:
        row_number = first_row + len(rows)
        if data is None:
            message = f"The row is longer than {max_row_bytes} bytes."
            rows.append(_row_error(row_number, line, BatchErrorCode.ROW_TOO_LARGE, message))
            continue
        if _is_blank(data, is_csv):
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:  # the scan refused such files; kept as a row error
            rows.append(_malformed(row_number, line, "The row is not UTF-8."))
            continue
        if is_csv:
            rows.append(_csv_record(row_number, line, text, converters))
        else:
            rows.append(_jsonl_record(row_number, line, text))
    return rows


def stored_chunk_rows_read(*, name: str, **kwargs) -> list[RawRow]:
    """`chunk_rows_read` on a file in the default storage, opened for this chunk only."""
    with default_storage.open(name, "rb") as stream:
        return chunk_rows_read(stream=stream, **kwargs)


def stored_chunk_bytes(*, name: str, start_offset: int, end_offset: int) -> bytes | None:
    """A chunk's bytes in a file in the default storage; None when the range is longer than a chunk holds (it
    has a row past the size limit in it, which is only ever skipped, never read)."""
    if end_offset - start_offset > settings.BATCH_CHUNK_MAX_BYTES + settings.BATCH_MAX_ROW_BYTES:
        return None
    with default_storage.open(name, "rb") as stream:
        raw = getattr(stream, "file", stream)
        raw.seek(start_offset)
        return raw.read(end_offset - start_offset)


def _lines(text: str) -> list[str]:
    """Split on "\n" only, as the scan did (str.splitlines also splits on \r, \x85, \u2028...)."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _row_error(row_number: int, line: int, code: BatchErrorCode, message: str) -> RawRow:
    return RawRow(row_number, line, None, [FieldError(None, code.value, message[:200])])


def _unstorable(row_number: int, line: int) -> RawRow:
    return _row_error(
        row_number, line, BatchErrorCode.INVALID_CHARACTER, "The row holds a NUL character or an unpaired surrogate."
    )


def _csv_record(row_number: int, line: int, text: str, converters: list) -> RawRow:
    if "\x00" in text:
        return _unstorable(row_number, line)
    if '"' not in text and "\r" not in text[:-2]:  # no quoting: the cells are what is between the commas
        body = text[:-1] if text.endswith("\n") else text
        return _csv_row(row_number, line, (body[:-1] if body.endswith("\r") else body).split(","), converters)
    reader = csv.reader(_lines(text))
    try:
        cells = next(reader, [])
        extra = next(reader, None)
    except csv.Error as error:
        return _malformed(row_number, line, str(error))
    if extra is not None:
        return _malformed(row_number, line, "The record does not end where its quoting says it should.")
    return _csv_row(row_number, line, cells, converters)


def _jsonl_record(row_number: int, line: int, text: str) -> RawRow:
    try:
        values = json.loads(text)
    except RecursionError:
        return _too_deep(row_number, line)
    except ValueError as error:
        return _malformed(row_number, line, f"Not valid JSON: {error}")
    problem = _json_problem(values)
    if problem == "deep":
        return _too_deep(row_number, line)
    if problem == "text":
        return _unstorable(row_number, line)
    if problem == "number":
        return _malformed(row_number, line, "NaN and Infinity are not JSON numbers.")
    return RawRow(row_number, line, values)


def _too_deep(row_number: int, line: int) -> RawRow:
    return _row_error(
        row_number, line, BatchErrorCode.ROW_TOO_DEEP, f"The row nests more than {MAX_ROW_DEPTH} levels deep."
    )


def _json_problem(value: Any) -> str | None:
    """What stops a parsed row from being stored as JSON: "deep" past MAX_ROW_DEPTH, "text" for a string or key
    PostgreSQL refuses, "number" for NaN or Infinity (not JSON). Iterative, linear in the row."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if UNSTORABLE.search(item):
                return "text"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return "number"
        elif isinstance(item, dict | list):
            if depth > MAX_ROW_DEPTH:
                return "deep"
            if isinstance(item, dict):
                for key, child in item.items():
                    if UNSTORABLE.search(key):
                        return "text"
                    pending.append((child, depth + 1))
            else:
                pending.extend((child, depth + 1) for child in item)
    return None


def _malformed(row_number: int, line: int, message: str) -> RawRow:
    return RawRow(row_number, line, None, [FieldError(None, BatchErrorCode.MALFORMED_ROW.value, message[:200])])


def _csv_row(row_number: int, line: int, cells: list[str], converters: list) -> RawRow:
    # A row may have fewer cells than the header (its trailing features are then absent); more is malformed.
    if len(cells) > len(converters):
        return _malformed(row_number, line, f"The row has {len(cells)} values; the header has {len(converters)}.")
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for (name, convert), cell in zip(converters, cells, strict=False):
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


CSV_CONVERTERS = {"number": _to_number, "integer": _to_integer, "boolean": _to_boolean, "string": str}
