import json

from django.core.management.base import BaseCommand

from billing.services.payments import invoices_send_pending


class Command(BaseCommand):
    help = "Send (or retry sending) every open invoice the payment provider has not accepted yet."

    def handle(self, *args, **options):
        self.stdout.write(json.dumps(invoices_send_pending()))
