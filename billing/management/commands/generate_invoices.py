from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing.periods import period_label, period_of, period_parse, period_previous
from billing.services.invoices import invoices_generate
from mlapi.errors import ApplicationError


class Command(BaseCommand):
    help = "Build (or refresh) draft invoices for a month. Finalized invoices are never changed."

    def add_arguments(self, parser):
        parser.add_argument("--period", help="YYYY-MM; default: the previous calendar month (UTC).")

    def handle(self, *args, period=None, **options):
        try:
            month = period_parse(period) if period else period_previous(period_of(timezone.now()))
        except ApplicationError as error:
            raise CommandError(str(error)) from None
        report = invoices_generate(period=month)
        self.stdout.write(
            f"{period_label(month)}: {report.created} created, {report.updated} updated, {report.unchanged} unchanged"
        )
