"""Ground truth for a batch job, as a CSV file: `prediction_id` or `row` (the job's input row number, as in
its results), plus `actual`. Every value goes through `feedback_submit` (same rules, same storage), all or
nothing for the whole file; errors name the file's data row (`rows.<n>.actual`, 1-based, header excluded).

A batch job stores its outputs as result rows, not as `Prediction` rows (a 2M-row job would double its
writes for rows nobody may ever label). A row named in a feedback file gets its `Prediction` then, in the
same transaction: the chunk's own usage record (already billed, nothing is charged again), the row's
position in the chunk, its stored input and output, and the chunk's completion time as `created_at` (the
hour its quality is rolled up in). A second file for the same row finds that prediction and replaces the
value, keeping history, as online feedback does."""

import csv
import io
import json
from decimal import Decimal
from typing import Any, BinaryIO

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from batch.models import BatchChunk, BatchJob, BatchResultRow
from batch.selectors import batch_job_get_for_owner, batch_upload_get_for_owner
from batch.services.chunks import usage_idempotency_key
from billing.models import UsageRecord
from mlapi.errors import ApplicationError, FieldError, PayloadTooLargeError
from predictions.models import Prediction, RegisteredModel
from quality.actuals import CLASS_TASKS
from quality.error_codes import FeedbackErrorCode
from quality.services.feedback import FeedbackItem, StoredFeedback, feedback_submit

Code = FeedbackErrorCode


def _file_error(code: Code, message: str) -> ApplicationError:
    return ApplicationError.single(code, message, field="file")


def _read(stream: BinaryIO | File) -> list[dict[str, str]]:
    data = stream.read(settings.BATCH_MAX_UPLOAD_BYTES + 1)
    if len(data) > settings.BATCH_MAX_UPLOAD_BYTES:
        raise PayloadTooLargeError.single(
            Code.FILE_TOO_LARGE, f"The file is larger than {settings.BATCH_MAX_UPLOAD_BYTES} bytes.", field="file"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _file_error(Code.INVALID_FILE, "The file is not UTF-8 text.") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = reader.fieldnames or []
        if "actual" not in header or ("prediction_id" in header) == ("row" in header):
            raise _file_error(Code.INVALID_FILE, "The header needs `actual` and one of `prediction_id` or `row`.")
        rows = []
        for record in reader:
            rows.append(record)
            if len(rows) > settings.BATCH_MAX_ROWS:
                raise _file_error(Code.TOO_MANY_ROWS, f"At most {settings.BATCH_MAX_ROWS} rows per file.")
    except csv.Error as error:
        raise _file_error(Code.INVALID_FILE, f"Not a readable CSV file: {error}.") from None
    if not rows:
        raise _file_error(Code.INVALID_FILE, "The file has a header and no rows.")
    return rows


def _actual(cell: str | None, model: RegisteredModel) -> Any:
    """A CSV cell as the JSON value the APIs would have sent: class labels stay text (the service matches a
    class's string form), other tasks read the cell as JSON (a number, or a list for multi-output/-label)."""
    if cell is None or cell == "":
        return None
    if model.task in CLASS_TASKS:
        return cell
    try:
        return json.loads(cell)
    except ValueError:
        return cell


def _row_number(cell: str | None) -> int | None:
    try:
        number = int(cell or "")
    except ValueError:
        return None
    return number if number > 0 else None


def _materialize(*, job: BatchJob, numbers: set[int]) -> dict[int, tuple[str, int]]:
    """(usage idempotency key, position) of each scored row among `numbers`, creating its `Prediction` when
    it has none yet. Rows not scored (refused, or in a chunk not done) are absent."""
    results = {
        r.row_number: r
        for r in BatchResultRow.objects.filter(job=job, row_number__in=numbers, output__isnull=False).only(
            "row_number", "input", "output"
        )
    }
    if not results:
        return {}
    chunks = list(BatchChunk.objects.filter(job=job, done_at__isnull=False).order_by("first_row"))
    keys = {usage_idempotency_key(job_id=job.pk, index=c.index): c for c in chunks}
    usages = {u.idempotency_key: u for u in UsageRecord.objects.filter(user=job.user, idempotency_key__in=keys)}
    placed: dict[int, tuple[str, int]] = {}
    wanted: dict[tuple[int, int], BatchResultRow] = {}
    chunk_of: dict[int, BatchChunk] = {}
    for chunk in chunks:
        for number in range(chunk.first_row, chunk.first_row + chunk.row_count):
            if number in results:
                chunk_of[number] = chunk
    for number, chunk in chunk_of.items():
        key = usage_idempotency_key(job_id=job.pk, index=chunk.index)
        usage = usages.get(key)
        if usage is None:
            continue
        placed[number] = (key, number - chunk.first_row)
        wanted[(usage.pk, number - chunk.first_row)] = results[number]
    existing = set(
        Prediction.objects.filter(usage_id__in={u for u, _ in wanted}, user=job.user).values_list(
            "usage_id", "position"
        )
    )
    by_pk = {u.pk: u for u in usages.values()}
    Prediction.objects.bulk_create(
        Prediction(
            user_id=by_pk[usage_id].user_id,  # the usage record's own (see Prediction.user)
            model_id=by_pk[usage_id].model_id,
            usage_id=usage_id,
            position=position,
            input=result.input,
            output=result.output,
            latency_ms=Decimal("0"),
            created_at=chunk_of[result.row_number].done_at or timezone.now(),  # done_at is set: filtered on it
        )
        for (usage_id, position), result in wanted.items()
        if (usage_id, position) not in existing
    )
    return placed


def _renamed(error: ApplicationError, *, offset: int, by: str) -> ApplicationError:
    """The service's `items.<i>.<field>` as the file's `rows.<n>.<column>`."""
    column = {"actual": "actual", "observedAt": "actual", "predictionId": by, "idempotencyKey": by}
    renamed = []
    for e in error.errors:
        parts = (e.field or "").split(".")
        if len(parts) == 3 and parts[0] == "items" and parts[1].isdigit():
            index = offset + int(parts[1])
            renamed.append(FieldError(f"rows.{index + 1}.{column.get(parts[2], parts[2])}", e.code, e.message))
        else:
            renamed.append(e)
    return ApplicationError(renamed)  # a row's NOT_FOUND is the file's 400, not the job's 404


@transaction.atomic
def batch_feedback_submit(*, user, job_id, stream: BinaryIO | None = None, upload_id=None) -> list[StoredFeedback]:
    """Stores the file's ground-truth values for one of `user`'s batch jobs, all or nothing (someone else's
    job is NOT_FOUND). The file is `stream`, or one of the user's uploads (`upload_id`, stored with POST
    /batch-uploads). Values are submitted FEEDBACK_MAX_ITEMS at a time inside one transaction: the first
    slice with errors rolls back the whole file and is what is reported."""
    job = batch_job_get_for_owner(user=user, job_id=job_id)
    BatchJob.objects.select_for_update().filter(pk=job.pk).first()  # one file per job at a time
    if upload_id is not None:
        upload = batch_upload_get_for_owner(user=user, upload_id=upload_id)
        with upload.file.open("rb") as file:
            records = _read(file)
    elif stream is not None:
        records = _read(stream)
    else:
        raise _file_error(Code.REQUIRED, "Give the feedback file.")
    by = "prediction_id" if "prediction_id" in records[0] else "row"
    placed: dict[int, tuple[str, int]] = {}
    if by == "row":
        numbers = {n for n in (_row_number(r.get("row")) for r in records) if n is not None}
        placed = _materialize(job=job, numbers=numbers)
    items: list[FeedbackItem] = []
    errors: list[FieldError] = []
    for n, record in enumerate(records, start=1):
        actual = _actual(record.get("actual"), job.model)
        if by == "prediction_id":
            if not record.get("prediction_id"):
                errors.append(FieldError(f"rows.{n}.prediction_id", Code.REQUIRED.value, "Empty."))
            items.append(FeedbackItem(actual=actual, prediction_id=record.get("prediction_id") or None))
            continue
        number = _row_number(record.get("row"))
        where = placed.get(number) if number is not None else None
        if where is None:
            code = Code.NOT_FOUND if number is not None else Code.INVALID_INPUT
            errors.append(FieldError(f"rows.{n}.row", code.value, "No scored row with this number."))
            where = ("", 0)
        items.append(FeedbackItem(actual=actual, idempotency_key=where[0] or None, position=where[1]))
    if errors:
        raise ApplicationError(errors[:100])
    stored: list[StoredFeedback] = []
    step = settings.FEEDBACK_MAX_ITEMS
    for offset in range(0, len(items), step):
        try:
            stored += feedback_submit(user=user, items=items[offset : offset + step])
        except ApplicationError as error:
            raise _renamed(error, offset=offset, by=by) from None
    return stored
