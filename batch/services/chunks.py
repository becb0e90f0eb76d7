"""Scoring one chunk of a batch job: validate, predict (one vectorized call), then store its result rows,
its usage record and the job's counters in ONE transaction.

Idempotent: the chunk row is claimed (`done_at` NULL -> now) by a conditional UPDATE inside that
transaction, result rows are unique per (job, row_number) and the usage record's idempotency key
`batch:<job_id>:<chunk_index>` is unique per user. A redelivered, retried or duplicated chunk (a worker
SIGKILLed mid-chunk, a visibility time-out, a resume) finds its chunk claimed and stores and bills nothing;
one that dies before COMMIT left nothing behind and is simply done again.

Billing is the online flow's: quota pre-check before inference, `charge_compute` on the rows scored with
the CPU seconds measured around inference and the JSON bytes of input + output, `usage_charge`
under the user's monthly lock (it refuses a chunk that would pass the quota). Rate limits (per minute)
apply to submitting a job, not to its chunks.
"""

import enum
import hashlib
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, models
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from batch.error_codes import BatchErrorCode
from batch.files import RawRow, stored_chunk_bytes, stored_chunk_rows_read
from batch.models import BatchChunk, BatchJob, BatchResultRow, FileFormat
from batch.plain_csv import plain_csv_rows
from billing.models import UsageRecord
from mlapi.bulk import copy_rows_text, copy_text, json_copy_text, text_copy
from mlapi.compact_json import compact_json
from mlapi.errors import ApplicationError, FieldError, LimitExceededError
from predictions.registry.schema import MAX_REPORTED_ERRORS, instance_row, instances_prepare, instances_validate
from predictions.services.metering import ScoredRows, metered_inference

logger = logging.getLogger(__name__)

USAGE_SOURCE = "batch"


class ChunkOutcome(str, enum.Enum):
    DONE = "done"
    REPLAYED = "replayed"  # already stored by an earlier delivery: nothing stored or billed
    SKIPPED = "skipped"  # the job is not running (cancelled, paused, failed, gone): nothing stored
    PAUSED = "paused"  # over quota: the job is paused, this chunk stays pending
    FAILED = "failed"  # a job-level error (e.g. the model cannot be loaded): the job failed


class _JobStopped(Exception):
    """The job left `running` while this chunk was scored: roll its transaction back."""


class _AlreadyStored(Exception):
    """An earlier delivery of this chunk committed first: roll this one's charge back."""


def usage_idempotency_key(*, job_id, index: int) -> str:
    return f"batch:{job_id}:{index}"


def _strip_path(error: FieldError) -> FieldError:
    """`instances.3.age` -> `age`; `instances.3` (the row itself) -> None."""
    parts = (error.field or "").split(".", 2)
    return FieldError(parts[2] if len(parts) == 3 else None, error.code, error.message)


def _row_index(error: FieldError) -> int:
    """N of an error at `instances.N...`: where instances_validate reports each instance's errors."""
    if error.field is None:
        raise ValueError(f"an instance error without a path: {error.code}")
    return int(error.field.split(".")[1])


def _validate(schema: dict, rows: list[RawRow]) -> list[dict] | None:
    """Adds schema errors to `rows` in place: one call for the chunk, row by row only when it has errors.

    When every row read is valid, returns them as the objects the model is given (`instance_row`), from the
    same pass; otherwise None."""
    candidates = [row for row in rows if row.values is not None]
    if not candidates:
        return None
    prepared = instances_prepare(schema=schema, instances=[r.values for r in candidates], path="instances")
    errors = prepared.errors
    if not errors:
        return prepared.rows if len(candidates) == len(rows) and not any(r.errors for r in rows) else None
    if len(errors) < MAX_REPORTED_ERRORS:  # the list is complete: only these rows have errors
        suspects = sorted({_row_index(e) for e in errors})
        candidates = [candidates[i] for i in suspects]
    for row in candidates:
        found = instances_validate(schema=schema, instances=[row.values], path="instances")
        converted_badly = {e.field for e in row.errors}
        row.errors.extend(e for e in map(_strip_path, found) if e.field is None or e.field not in converted_badly)
    return None


def _error_results(rows: list[RawRow]) -> list[tuple]:
    return [
        (
            row.row_number,
            row.line,
            None if row.values is None else compact_json(row.values),
            None,
            compact_json([e.as_dict() for e in row.errors]),
        )
        for row in rows
        if row.errors
    ]


_RESULT_COLUMNS = ("job", "row_number", "line", "input", "output", "error")


def _stored_name(job: BatchJob) -> str:
    if not job.upload.file.name:  # an upload row is only saved after its file is
        raise ValueError(f"upload {job.upload.pk} has no stored file")
    return job.upload.file.name


def _column(name: str) -> str:
    """The database column of a concrete BatchResultRow field."""
    field = BatchResultRow._meta.get_field(name)
    if not isinstance(field, models.Field) or field.column is None:
        raise TypeError(f"BatchResultRow.{name} is not a concrete field")
    return field.column


def _results_insert(job_id, errors: list[tuple], scored: list[tuple]) -> None:
    """Result rows, JSON already encoded, no model instances: `errors` as (row_number, line, input, None,
    error), `scored` as (row_number, line, input, output). COPY on PostgreSQL, else a multi-row parameterized
    INSERT (a third of bulk_create's cost per row). The table's constraints still apply (unique row per job)."""
    meta = BatchResultRow._meta
    quote = connection.ops.quote_name
    job_value = meta.get_field("job").get_db_prep_value(job_id, connection)
    if connection.vendor == "postgresql":
        head = copy_text(job_value)
        text = copy_rows_text(errors, prefix=(job_value,)) + "".join(
            [  # the scored rows' columns are known: two integers, two JSON texts and a NULL error
                f"{head}\t{row_number}\t{line}\t{json_copy_text(instance)}\t{json_copy_text(output)}\t\\N\n"
                for row_number, line, instance, output in scored
            ]
        )
        text_copy(table=meta.db_table, columns=[_column(name) for name in _RESULT_COLUMNS], text=text)
        return
    results = errors + [(*row, None) for row in scored]
    columns = ", ".join(quote(_column(name)) for name in _RESULT_COLUMNS)
    placeholder = "(" + ", ".join(["%s"] * len(_RESULT_COLUMNS)) + ")"
    size = max(1, min(1000, connection.ops.bulk_batch_size(list(_RESULT_COLUMNS), results)))
    with connection.cursor() as cursor:
        for start in range(0, len(results), size):
            part = results[start : start + size]
            cursor.execute(
                f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {', '.join([placeholder] * len(part))}",
                [value for row in part for value in (job_value, *row)],
            )


@dataclass(frozen=True)
class ChunkRows:
    """A chunk as read and validated: the rows the model is given with their (row number, line), and the
    result rows of those that cannot be scored."""

    model_rows: list[dict]
    positions: list[tuple[int, int]]
    error_results: list[tuple]


def _chunk_read(job: BatchJob, chunk: BatchChunk) -> ChunkRows:
    """The plain reader's rows when the chunk is plain CSV (`batch.plain_csv`), else the general reader's."""
    name, features = _stored_name(job), job.model.input_schema["features"]
    if job.upload.format == FileFormat.CSV:
        data = stored_chunk_bytes(name=name, start_offset=chunk.start_offset, end_offset=chunk.end_offset)
        plain = None
        if data is not None:
            plain = plain_csv_rows(
                data=data,
                columns=job.columns,
                features=features,
                first_row=chunk.first_row,
                first_line=chunk.first_line,
                max_row_bytes=settings.BATCH_MAX_ROW_BYTES,
            )
        if plain is not None:
            first_row, first_line = plain.first_row, plain.first_line
            return ChunkRows(plain.rows, [(first_row + i, first_line + i) for i in range(len(plain.rows))], [])
    rows = stored_chunk_rows_read(
        name=name,
        start_offset=chunk.start_offset,
        end_offset=chunk.end_offset,
        file_format=job.upload.format,
        columns=job.columns,
        features=features,
        first_row=chunk.first_row,
        first_line=chunk.first_line,
    )
    all_valid = _validate(job.model.input_schema, rows)
    names = [f["name"] for f in features]
    good = [row for row in rows if not row.errors]
    model_rows = all_valid if all_valid is not None else [instance_row(row.values, names) for row in good]
    return ChunkRows(model_rows, [(row.row_number, row.line) for row in good], _error_results(rows))


def _request_hash(job: BatchJob, chunk: BatchChunk) -> str:
    text = f"{job.upload.sha256}:{job.model_id}:{chunk.index}:{chunk.start_offset}-{chunk.end_offset}"
    return hashlib.sha256(text.encode()).hexdigest()


def batch_job_pause(*, job_id, error: ApplicationError) -> bool:
    first = error.errors[0]
    return bool(
        BatchJob.objects.filter(pk=job_id, status__in=BatchJob.ACTIVE).update(
            status=BatchJob.Status.PAUSED, error_code=first.code, error=first.message[:500]
        )
    )


def batch_job_fail(*, job_id, code: str, message: str) -> bool:
    return bool(
        BatchJob.objects.filter(pk=job_id, status__in=BatchJob.ACTIVE).update(
            status=BatchJob.Status.FAILED, error_code=code, error=message[:500], finished_at=timezone.now()
        )
    )


def _job_start(job_id) -> str | None:
    """queued -> running (the first chunk to start does it); the status after that, None if the job is gone."""
    BatchJob.objects.filter(pk=job_id, status=BatchJob.Status.QUEUED).update(
        status=BatchJob.Status.RUNNING, started_at=Coalesce(F("started_at"), timezone.now())
    )
    return BatchJob.objects.filter(pk=job_id).values_list("status", flat=True).first()


def batch_chunk_run(*, job_id, index: int) -> ChunkOutcome:
    """Scores chunk `index` of job `job_id` once; safe to call any number of times, concurrently too."""
    chunk = BatchChunk.objects.filter(job_id=job_id, index=index).first()
    if chunk is None:
        return ChunkOutcome.SKIPPED
    if chunk.done_at is not None:
        return ChunkOutcome.REPLAYED
    if _job_start(job_id) != BatchJob.Status.RUNNING:
        return ChunkOutcome.SKIPPED
    job = BatchJob.objects.select_related("model", "upload", "user").get(pk=job_id)
    user = job.user
    try:
        read = _chunk_read(job, chunk)

        def store(usage, scored: ScoredRows) -> None:
            now = timezone.now()
            claimed = BatchChunk.objects.filter(pk=chunk.pk, done_at__isnull=True).update(
                done_at=now, rows_done=len(read.model_rows), rows_failed=len(read.error_results)
            )
            if not claimed:
                raise _AlreadyStored
            scored_results = [
                (row_number, line, instance, output)
                for (row_number, line), instance, output in zip(
                    read.positions, scored.inputs_json, scored.outputs_json, strict=True
                )
            ]
            _results_insert(job.pk, read.error_results, scored_results)
            counted = BatchJob.objects.filter(pk=job.pk, status=BatchJob.Status.RUNNING).update(
                rows_done=F("rows_done") + len(read.model_rows),
                rows_failed=F("rows_failed") + len(read.error_results),
                chunks_done=F("chunks_done") + 1,
            )
            if not counted:
                raise _JobStopped
            BatchJob.objects.filter(pk=job.pk, status=BatchJob.Status.RUNNING, chunks_done=F("chunks_total")).update(
                status=BatchJob.Status.SUCCEEDED, finished_at=now
            )

        metered_inference(
            user=user,
            model=job.model,
            rows=read.model_rows,
            source=USAGE_SOURCE,
            now=timezone.now(),
            idempotency_key=usage_idempotency_key(job_id=job.pk, index=chunk.index),
            request_hash=_request_hash(job, chunk),
            store=store,
            rate_limited=False,
            json_only=True,
        )
    except _AlreadyStored:
        return ChunkOutcome.REPLAYED
    except _JobStopped:
        return ChunkOutcome.SKIPPED
    except LimitExceededError as error:
        batch_job_pause(job_id=job_id, error=error)
        return ChunkOutcome.PAUSED
    except ApplicationError as error:
        first = error.errors[0]
        logger.warning("batch job failed", extra={"job_id": str(job_id), "chunk": index, "code": first.code})
        batch_job_fail(job_id=job_id, code=first.code, message=first.message)
        return ChunkOutcome.FAILED
    except IntegrityError:
        key = usage_idempotency_key(job_id=job_id, index=index)
        if (
            BatchChunk.objects.filter(pk=chunk.pk, done_at__isnull=False).exists()
            or UsageRecord.objects.filter(user=user, idempotency_key=key).exists()
        ):
            return ChunkOutcome.REPLAYED
        raise
    return ChunkOutcome.DONE


def batch_chunk_fail(*, job_id, index: int, error: BaseException) -> None:
    """An unexpected error in chunk `index`: the job fails with a message that leaks no internals."""
    logger.error("batch chunk crashed", exc_info=error, extra={"job_id": str(job_id), "chunk": index})
    batch_job_fail(
        job_id=job_id,
        code=BatchErrorCode.INTERNAL_ERROR.value,
        message=f"Chunk {index} failed unexpectedly ({type(error).__name__}); resume the job to retry it.",
    )
