import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from mlapi.json_text_field import JSONTextField


class FileFormat(models.TextChoices):
    CSV = "csv"
    JSONL = "jsonl"


def upload_to(instance: "BatchUpload", filename: str) -> str:
    return f"batch/uploads/{instance.user_id}/{instance.pk.hex}.{instance.format}"


class BatchUpload(models.Model):
    """An input file in MEDIA_ROOT (storage API); jobs read their chunks from it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="batch_uploads")
    file = models.FileField(upload_to=upload_to, max_length=255)
    filename = models.CharField(max_length=255, help_text="The name the file was uploaded with.")
    format = models.CharField(max_length=8, choices=FileFormat.choices)
    size_bytes = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.filename


class BatchJob(models.Model):
    """Scoring one uploaded file with one model, chunk by chunk; counters move with conditional UPDATEs."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        PAUSED = "paused"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    CANCELLABLE = (Status.QUEUED, Status.RUNNING, Status.PAUSED)
    RESUMABLE = (Status.PAUSED, Status.FAILED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="batch_jobs")
    model = models.ForeignKey("predictions.RegisteredModel", on_delete=models.PROTECT, related_name="batch_jobs")
    upload = models.ForeignKey(BatchUpload, on_delete=models.PROTECT, related_name="jobs")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    columns = models.JSONField(default=list, blank=True, help_text="CSV header, as read at submission.")
    chunk_rows = models.PositiveIntegerField()
    rows_total = models.PositiveIntegerField()
    rows_done = models.PositiveIntegerField(default=0, help_text="Rows scored (and billed).")
    rows_failed = models.PositiveIntegerField(default=0, help_text="Rows refused with a row error.")
    chunks_total = models.PositiveIntegerField()
    chunks_done = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=32, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at", "-id"], name="batch_job_user_recent_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(rows_done__lte=F("rows_total") - F("rows_failed")), name="batch_job_rows_within_total"
            ),
            models.CheckConstraint(
                condition=Q(chunks_done__lte=F("chunks_total")), name="batch_job_chunks_within_total"
            ),
        ]

    def __str__(self) -> str:
        return f"batch {self.pk} ({self.status})"

    @property
    def progress(self) -> float:
        return (self.rows_done + self.rows_failed) / self.rows_total if self.rows_total else 0.0


class BatchChunk(models.Model):
    """A contiguous byte range of the input file; `done_at` is set in the transaction that stores its rows."""

    job = models.ForeignKey(BatchJob, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    first_row = models.PositiveIntegerField(help_text="1-based number of its first data row.")
    first_line = models.PositiveIntegerField(help_text="1-based line of the file its first row starts on.")
    row_count = models.PositiveIntegerField()
    start_offset = models.PositiveBigIntegerField()
    end_offset = models.PositiveBigIntegerField()
    rows_done = models.PositiveIntegerField(default=0)
    rows_failed = models.PositiveIntegerField(default=0)
    done_at = models.DateTimeField(null=True, blank=True)
    # Signs of life for the sweeper (batch/services/recovery.py): when the chunk was last sent to the
    # workers (or to the in-process runner), when a worker last began it, and how many times one did.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Times a worker began this chunk.")

    class Meta:
        ordering = ["job", "index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="batch_chunk_job_index_unique")]

    def __str__(self) -> str:
        return f"job {self.job_id} chunk {self.index}"


class BatchResultRow(models.Model):
    """One input row's outcome: its output, or its error. Unique per (job, row): a replayed chunk stores nothing."""

    # (job, row_number) is unique. No database foreign key: its check per stored row was 40% of PostgreSQL's
    # CPU per row (8.5 of 16 µs, 2026-12-01). Rows are written only by a chunk's transaction, which commits only
    # while the job is running (its counters' UPDATE holds the job's row), and a job is deleted only by
    # retention, which locks it first and only when it is not queued or running; Django cascades the delete.
    job = models.ForeignKey(
        BatchJob, on_delete=models.CASCADE, related_name="results", db_index=False, db_constraint=False
    )
    row_number = models.PositiveIntegerField()
    line = models.PositiveIntegerField()
    input = JSONTextField(null=True, blank=True)
    output = JSONTextField(null=True, blank=True)
    error = JSONTextField(null=True, blank=True)

    class Meta:
        ordering = ["job", "row_number"]
        constraints = [
            models.UniqueConstraint(fields=["job", "row_number"], name="batch_result_job_row_unique"),
            models.CheckConstraint(
                condition=Q(output__isnull=True, error__isnull=False) | Q(output__isnull=False, error__isnull=True),
                name="batch_result_output_xor_error",
            ),
        ]

    def __str__(self) -> str:
        return f"job {self.job_id} row {self.row_number}"
