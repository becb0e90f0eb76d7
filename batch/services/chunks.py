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
import json
import logging
from dataclasses import dataclass

from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from batch.error_codes import BatchErrorCode
from batch.files import RawRow, stored_chunk_rows_read
from batch.models import BatchChunk, BatchJob, BatchResultRow
from billing.models import UsageRecord
from billing.services.usage import pricing_tier_for_user, quota_precheck, usage_charge
from mlapi.errors import ApplicationError, FieldError, LimitExceededError
from mlapi.observability.metrics import limit_rejection_observed, prediction_observed
from predictions.registry.cache import loaded_model_get
from predictions.registry.inference import predict
from predictions.registry.schema import MAX_REPORTED_ERRORS, instances_validate

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


def usage_idempotency_key(*, job_id, index: int) -> str:
    return f"batch:{job_id}:{index}"


@dataclass
class _Scored:
    results: list[tuple]  # (row_number, line, input JSON, output JSON, error JSON), JSON as text or None
    scored: int
    failed: int
    cpu_seconds: float
    stored_bytes: int
    wall_seconds: float = 0.0


def _json(value) -> str:
    """Compact JSON, encoded once: stored as is, and its length is the row's billed bytes (as online)."""
    return json.dumps(value, separators=(",", ":"))


def _strip_path(error: FieldError) -> FieldError:
    """`instances.3.age` -> `age`; `instances.3` (the row itself) -> None."""
    parts = (error.field or "").split(".", 2)
    return FieldError(parts[2] if len(parts) == 3 else None, error.code, error.message)


def _validate(schema: dict, rows: list[RawRow]) -> None:
    """Adds schema errors to `rows` in place: one call for the chunk, row by row only when it has errors."""
    candidates = [row for row in rows if row.values is not None]
    if not candidates:
        return
    errors = instances_validate(schema=schema, instances=[r.values for r in candidates], path="instances")
    if not errors:
        return
    if len(errors) < MAX_REPORTED_ERRORS:  # the list is complete: only these rows have errors
        suspects = sorted({int(e.field.split(".")[1]) for e in errors})
        candidates = [candidates[i] for i in suspects]
    for row in candidates:
        found = instances_validate(schema=schema, instances=[row.values], path="instances")
        converted_badly = {e.field for e in row.errors}
        row.errors.extend(e for e in map(_strip_path, found) if e.field is None or e.field not in converted_badly)


def _score(job: BatchJob, rows: list[RawRow]) -> _Scored:
    """Predicts the rows without errors in one vectorized call; every row gets its result."""
    good = [row for row in rows if not row.errors]
    results = [
        (
            row.row_number,
            row.line,
            None if row.values is None else _json(row.values),
            None,
            _json([e.as_dict() for e in row.errors]),
        )
        for row in rows
        if row.errors
    ]
    if not good:
        return _Scored(results, 0, len(results), 0.0, 0)
    loaded = loaded_model_get(model=job.model)
    result = predict(loaded=loaded, instances=[row.values for row in good])
    names = loaded.feature_names
    stored_bytes = 0
    for row, output in zip(good, result.outputs):
        instance_json = _json({name: row.values[name] for name in names})
        output_json = _json(output)
        stored_bytes += len(instance_json) + len(output_json)
        results.append((row.row_number, row.line, instance_json, output_json, None))
    return _Scored(results, len(good), len(rows) - len(good), result.cpu_seconds, stored_bytes, result.wall_seconds)


_RESULT_COLUMNS = ("job", "row_number", "line", "input", "output", "error")


def _results_insert(job_id, results: list[tuple]) -> None:
    """A multi-row parameterized INSERT of JSON already encoded: a third of bulk_create's cost per row (no
    model instances, no second JSON encoding). The table's constraints still apply (unique row per job)."""
    meta = BatchResultRow._meta
    quote = connection.ops.quote_name
    job_value = meta.get_field("job").get_db_prep_value(job_id, connection)
    columns = ", ".join(quote(meta.get_field(name).column) for name in _RESULT_COLUMNS)
    placeholder = "(" + ", ".join(["%s"] * len(_RESULT_COLUMNS)) + ")"
    size = max(1, min(1000, connection.ops.bulk_batch_size(list(_RESULT_COLUMNS), results)))
    with connection.cursor() as cursor:
        for start in range(0, len(results), size):
            part = results[start : start + size]
            cursor.execute(
                f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {', '.join([placeholder] * len(part))}",
                [value for row in part for value in (job_value, *row)],
            )


def _request_hash(job: BatchJob, chunk: BatchChunk) -> str:
    text = f"{job.upload.sha256}:{job.model_id}:{chunk.index}:{chunk.start_offset}-{chunk.end_offset}"
    return hashlib.sha256(text.encode()).hexdigest()


def _chunk_bytes(job: BatchJob, chunk: BatchChunk) -> bytes:
    with default_storage.open(job.upload.file.name, "rb") as stream:
        stream.seek(chunk.start_offset)
        return stream.read(chunk.end_offset - chunk.start_offset)


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
    job = BatchJob.objects.select_related("model", "upload", "user__pricing_tier").get(pk=job_id)
    user = job.user
    try:
        rows = stored_chunk_rows_read(
            name=job.upload.file.name,
            start_offset=chunk.start_offset,
            end_offset=chunk.end_offset,
            file_format=job.upload.format,
            columns=job.columns,
            features=job.model.input_schema["features"],
            first_row=chunk.first_row,
            first_line=chunk.first_line,
        )
        _validate(job.model.input_schema, rows)
        good_count = sum(1 for row in rows if not row.errors)
        tier = pricing_tier_for_user(user=user)
        if good_count:
            quota_precheck(user=user, tier=tier, count=good_count, now=timezone.now())
        scored = _score(job, rows)
        now = timezone.now()
        with transaction.atomic():
            claimed = BatchChunk.objects.filter(pk=chunk.pk, done_at__isnull=True).update(
                done_at=now, rows_done=scored.scored, rows_failed=scored.failed
            )
            if not claimed:
                return ChunkOutcome.REPLAYED
            _results_insert(job.pk, scored.results)
            if scored.scored:
                usage_charge(
                    user=user,
                    tier=tier,
                    model=job.model,
                    predictions=scored.scored,
                    cpu_seconds=scored.cpu_seconds,
                    stored_bytes=scored.stored_bytes,
                    idempotency_key=usage_idempotency_key(job_id=job.pk, index=chunk.index),
                    request_hash=_request_hash(job, chunk),
                    source=USAGE_SOURCE,
                    now=now,
                )
            counted = BatchJob.objects.filter(pk=job.pk, status=BatchJob.Status.RUNNING).update(
                rows_done=F("rows_done") + scored.scored,
                rows_failed=F("rows_failed") + scored.failed,
                chunks_done=F("chunks_done") + 1,
            )
            if not counted:
                raise _JobStopped
            BatchJob.objects.filter(
                pk=job.pk, status=BatchJob.Status.RUNNING, chunks_done=F("chunks_total")
            ).update(status=BatchJob.Status.SUCCEEDED, finished_at=now)
    except _JobStopped:
        return ChunkOutcome.SKIPPED
    except LimitExceededError as error:
        limit_rejection_observed(code=error.errors[0].code)
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
    if scored.scored:
        prediction_observed(
            model_name=job.model.name,
            version=job.model.version,
            instances=scored.scored,
            seconds=scored.wall_seconds,
            source=USAGE_SOURCE,
        )
    return ChunkOutcome.DONE


def batch_chunk_fail(*, job_id, index: int, error: BaseException) -> None:
    """An unexpected error in chunk `index`: the job fails with a message that leaks no internals."""
    logger.error("batch chunk crashed", exc_info=error, extra={"job_id": str(job_id), "chunk": index})
    batch_job_fail(
        job_id=job_id,
        code=BatchErrorCode.INTERNAL_ERROR.value,
        message=f"Chunk {index} failed unexpectedly ({type(error).__name__}); resume the job to retry it.",
    )
