import json

from django.core.management.base import BaseCommand, CommandError
from oauth2_provider.scopes import get_scopes_backend

from accounts.services import api_client_create
from mlapi.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Create (if needed) a user and a confidential client-credentials OAuth2 application; print its credentials "
        "and the scopes it may request as JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--email", default="")
        parser.add_argument("--tier", default=None, help="Pricing tier name (e.g. free, pro).")
        parser.add_argument(
            "--staff",
            action="store_true",
            help="Make the user staff: the client may then request the `staff` scope (every tenant's data) and "
            "`introspection` (for a resource server) and `registry` (register and promote models over the API, "
            "for a training pipeline). Tokens without them see only the user's own data.",
        )

    def handle(self, *args, username, email, tier, staff, **options):
        try:
            credentials = api_client_create(username=username, email=email, tier_name=tier, staff=staff)
        except ApplicationError as error:
            raise CommandError(str(error)) from None
        scopes = get_scopes_backend().get_available_scopes(application=credentials.application)
        self.stdout.write(
            json.dumps(
                {
                    "client_id": credentials.client_id,
                    "client_secret": credentials.client_secret,
                    "scopes": sorted(scopes),
                }
            )
        )
