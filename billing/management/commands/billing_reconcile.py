import json

from django.core.management.base import BaseCommand, CommandError

from billing.periods import period_label, period_parse
from billing.services.reconciliation import billing_reconcile
from mlapi.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Prove that closed months add up: invoiced usage lines = usage records, counters = records' predictions. "
        "Exit status 1 when anything differs."
    )

    def add_arguments(self, parser):
        parser.add_argument("--period", help="YYYY-MM; default: every month with a finalized invoice.")
        parser.add_argument("--include-drafts", action="store_true", help="Hold draft invoices to the same arithmetic.")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print the report as JSON.")

    def handle(self, *args, period=None, include_drafts=False, as_json=False, **options):
        try:
            month = period_parse(period) if period else None
        except ApplicationError as error:
            raise CommandError(str(error)) from None
        report = billing_reconcile(period=month, include_drafts=include_drafts)
        if as_json:
            self.stdout.write(json.dumps(report.as_dict()))
        else:
            for checked in report.periods:
                self.stdout.write(
                    f"{period_label(checked.period)}: {checked.invoices} invoices, "
                    f"{checked.usage_records} usage records, "
                    f"usage {checked.usage_amount} / invoiced usage lines {checked.invoiced_usage_amount}, "
                    f"{len(checked.differences)} differences"
                )
                for difference in checked.differences:
                    self.stdout.write(
                        f"  {difference.check}: user {difference.user_id}: "
                        f"expected {difference.expected}, got {difference.actual}"
                    )
            if not report.periods:
                self.stdout.write("no closed month to reconcile")
        if not report.ok:
            raise CommandError(f"{len(report.differences)} difference(s) in closed months", returncode=1)
