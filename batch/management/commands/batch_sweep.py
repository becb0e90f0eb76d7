from django.core.management.base import BaseCommand

from batch.services.recovery import batch_jobs_sweep


class Command(BaseCommand):
    help = (
        "Queue the unfinished chunks of stalled batch jobs again (what beat runs every minute): jobs queued "
        "or running none of whose chunks moved for BATCH_STALE_SECONDS. Without a broker the chunks run "
        "here, before the command returns."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--stale-seconds",
            type=float,
            default=None,
            help="Instead of BATCH_STALE_SECONDS (0: every queued or running job, even one still moving).",
        )

    def handle(self, *args, stale_seconds, **options):
        requeued = batch_jobs_sweep(background=False, stale_seconds=stale_seconds)
        for job in requeued:
            self.stdout.write(f"{job.job_id}: {len(job.chunks)} chunk(s) queued again")
        self.stdout.write(f"{len(requeued)} stalled job(s)")
