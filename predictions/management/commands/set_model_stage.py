import json

from django.core.management.base import BaseCommand

from mlapi.errors import ApplicationError
from predictions.error_codes import RegistryErrorCode
from predictions.management.commands._errors import command_error, registrant_get
from predictions.models import RegisteredModel
from predictions.services import model_set_stage


class Command(BaseCommand):
    help = (
        "Move version VERSION of NAME to STAGE. Into production only if its input schema is compatible "
        "with the current production version's, unless --allow-breaking."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("version", type=int)
        parser.add_argument("stage", choices=RegisteredModel.Stage.values)
        parser.add_argument(
            "--allow-breaking",
            action="store_true",
            help="Promote even if the inputs break clients of the current production version.",
        )
        parser.add_argument(
            "--as-user", default=None, help="Staff username that makes the change (default: first superuser)."
        )

    def handle(self, *args, name, version, stage, allow_breaking, as_user, **options):
        changed_by = registrant_get(as_user)
        model = RegisteredModel.objects.filter(name=name, version=version).first()
        if model is None:
            raise command_error(
                ApplicationError.single(
                    RegistryErrorCode.NOT_FOUND, f"No version {version} of {name!r}.", field="version"
                )
            )
        previous = model.stage
        try:
            model_set_stage(model=model, stage=stage, changed_by=changed_by, allow_breaking=allow_breaking)
        except ApplicationError as error:
            raise command_error(error) from None
        self.stdout.write(
            json.dumps(
                {
                    "id": model.pk,
                    "name": model.name,
                    "version": model.version,
                    "previous_stage": previous,
                    "stage": model.stage,
                }
            )
        )
