import json

from django.core.management.base import BaseCommand

from mlapi.errors import ApplicationError
from predictions.management.commands._errors import command_error, registrant_get
from quality.services.rollouts import rollout_promote


class Command(BaseCommand):
    help = (
        "Promote NAME's canary (or, without one, its shadow; or --model-version) to production in one action, with "
        "the input-schema compatibility check (unless --allow-breaking), and take it out of the rollout."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--model-version", dest="model_version", type=int, default=None, help="Which of the canary/shadow versions."
        )
        parser.add_argument("--allow-breaking", action="store_true", help="Promote even if the inputs break clients.")
        parser.add_argument(
            "--as-user", "--as", dest="as_user", default=None, help="Staff username (default: first superuser)."
        )

    def handle(self, *args, name, model_version, allow_breaking, as_user, **options):
        try:
            model = rollout_promote(
                name=name, promoted_by=registrant_get(as_user), version=model_version, allow_breaking=allow_breaking
            )
        except ApplicationError as error:
            raise command_error(error) from None
        self.stdout.write(
            json.dumps({"promoted": f"{model.name} v{model.version}", "id": model.pk, "stage": model.stage})
        )
