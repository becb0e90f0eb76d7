"""A job's results as CSV or JSONL bytes, streamed page by page (REST download and `score_file --out`).

Every input row appears once, in row order, with its row number and the line it started on:
- JSONL: `{"row": 1, "line": 2, "output": {...}}` or `{"row": 3, "line": 4, "errors": [{field, code, message}]}`
- CSV: `row,line,<output columns>,errors`; output columns are the output's keys with nested objects
  flattened (`label,probabilities.setosa,...` or `value`); `errors` holds the row's errors as JSON.
"""

import csv
import io
import json
from collections.abc import Iterator

from batch.models import BatchJob, BatchResultRow
from batch.selectors import batch_result_rows

RESULT_FORMATS = ("csv", "jsonl")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}
_ROWS_PER_WRITE = 2000


def _output_columns(job: BatchJob) -> list[tuple[str, str | None]]:
    sample = (
        BatchResultRow.objects.filter(job=job, output__isnull=False)
        .order_by("row_number")
        .values_list("output", flat=True)
        .first()
    )
    columns: list[tuple[str, str | None]] = []
    for key, value in (sample or {}).items():
        if isinstance(value, dict):
            columns.extend((key, sub) for sub in value)
        else:
            columns.append((key, None))
    return columns


def _flat(output: dict | None, columns: list[tuple[str, str | None]]) -> list:
    if output is None:
        return [""] * len(columns)
    cells = []
    for key, sub in columns:
        value = output.get(key)
        cells.append(
            value.get(sub, "") if sub is not None and isinstance(value, dict) else ("" if value is None else value)
        )
    return cells


def results_csv(*, job: BatchJob) -> Iterator[bytes]:
    columns = _output_columns(job)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["row", "line", *(key if sub is None else f"{key}.{sub}" for key, sub in columns), "errors"])
    for count, (row_number, line, output, error) in enumerate(batch_result_rows(job=job), start=1):
        errors = json.dumps(error, separators=(",", ":")) if error is not None else ""
        writer.writerow([row_number, line, *_flat(output, columns), errors])
        if count % _ROWS_PER_WRITE == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def results_jsonl(*, job: BatchJob) -> Iterator[bytes]:
    lines: list[str] = []
    for row_number, line, output, error in batch_result_rows(job=job):
        record = {"row": row_number, "line": line}
        if error is not None:
            record["errors"] = error
        else:
            record["output"] = output
        lines.append(json.dumps(record, separators=(",", ":")))
        if len(lines) == _ROWS_PER_WRITE:
            yield ("\n".join(lines) + "\n").encode()
            lines = []
    if lines:
        yield ("\n".join(lines) + "\n").encode()


def results_stream(*, job: BatchJob, result_format: str) -> Iterator[bytes]:
    return results_csv(job=job) if result_format == "csv" else results_jsonl(job=job)
