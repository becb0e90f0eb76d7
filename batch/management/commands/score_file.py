import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from batch.exports import RESULT_FORMATS, results_stream
from batch.files import SUFFIXES
from batch.models import BatchJob
from batch.services.chunks import ChunkOutcome
from batch.services.jobs import batch_job_cancel, batch_job_create, batch_job_run_inline
from batch.services.uploads import batch_upload_create, batch_upload_delete
from mlapi.errors import ApplicationError
from predictions.services import ModelRef


class Command(BaseCommand):
    help = (
        "Score a CSV or JSONL file with a model, in this process, through the same services as the API: "
        "the job, its results and its usage (metered to --user) are stored. Writes the results to --out "
        "as CSV or JSONL, by its extension."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version is the model's version here, not Django's version option.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--model", required=True, help="The model's name.")
        parser.add_argument("--version", type=int, default=None, help="Default: the latest production version.")
        parser.add_argument("--out", required=True, help="Results file: .csv, .jsonl or .ndjson.")
        parser.add_argument("--user", default=None, help="Who is billed (default: the first active superuser).")
        parser.add_argument(
            "--format", default=None, choices=["csv", "jsonl"], help="Input format (default: by extension)."
        )

    def handle(self, *args, path, model, version, out, user, format, **options):
        owner = self._user(user)
        source, target = Path(path), Path(out)
        if not source.is_file():
            raise CommandError(f"No file at {path}.")
        out_format = SUFFIXES.get(target.suffix.lower().lstrip("."))
        if out_format not in RESULT_FORMATS:
            raise CommandError("--out must end in .csv, .jsonl or .ndjson.")
        job = self._submit(owner, source, ModelRef(name=model, version=version), format)
        with tqdm(total=job.rows_total, unit="row", unit_scale=True, desc=f"{model} {source.name}") as bar:

            def advance(chunk, outcome):
                if outcome in (ChunkOutcome.DONE, ChunkOutcome.REPLAYED):
                    bar.update(chunk.row_count)

            try:
                job = batch_job_run_inline(job_id=job.pk, on_chunk=advance)
            except KeyboardInterrupt:
                batch_job_cancel(user=owner, job_id=job.pk)
                raise CommandError(f"Interrupted: batch job {job.pk} cancelled.") from None
        with target.open("wb") as stream:
            for block in results_stream(job=job, result_format=out_format):
                stream.write(block)
        summary = {
            "job": str(job.pk),
            "status": job.status,
            "rows_total": job.rows_total,
            "rows_done": job.rows_done,
            "rows_failed": job.rows_failed,
            "out": str(target),
        }
        self.stdout.write(json.dumps(summary))
        if job.status != BatchJob.Status.SUCCEEDED:
            raise CommandError(f"Batch job {job.pk} is {job.status}: {job.error} ({job.error_code}).")

    @staticmethod
    def _user(username: str | None):
        User = get_user_model()
        owner = (
            User.objects.filter(username=username, is_active=True).first()
            if username
            else User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
        )
        if owner is None:
            raise CommandError("No such active user: pass --user USERNAME (or create a superuser).")
        return owner

    @staticmethod
    def _submit(owner, source: Path, model_ref: ModelRef, file_format: str | None) -> BatchJob:
        upload = None
        try:
            with source.open("rb") as stream:
                upload = batch_upload_create(user=owner, stream=stream, filename=source.name, file_format=file_format)
            return batch_job_create(user=owner, model_ref=model_ref, upload=upload, dispatch=False)
        except ApplicationError as error:
            if upload is not None:
                batch_upload_delete(upload=upload)
            raise CommandError("; ".join(f"{e.field or 'file'}: {e.code}: {e.message}" for e in error.errors)) from None
