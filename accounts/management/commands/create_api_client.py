import json

from django.core.management.base import BaseCommand, CommandError

from accounts.services import api_client_create
from mlapi.errors import ApplicationError


class Command(BaseCommand):
    help = "Create (if needed) a user and a confidential client-credentials OAuth2 application; print its credentials as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--email", default="")
        parser.add_argument("--tier", default=None, help="Pricing tier name (e.g. free, pro).")

    def handle(self, *args, username, email, tier, **options):
        try:
            credentials = api_client_create(username=username, email=email, tier_name=tier)
        except ApplicationError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(json.dumps({"client_id": credentials.client_id, "client_secret": credentials.client_secret}))
