import json

from django.core.management.base import BaseCommand

from mlapi.errors import ApplicationError
from predictions.error_codes import RegistryErrorCode
from predictions.management.commands._errors import command_error, registrant_get
from predictions.models import RegisteredModel
from quality.services.drift import drift_reference_from_csv


class Command(BaseCommand):
    help = (
        "Store version VERSION of NAME's drift reference from a CSV sample of its training data "
        "(header: feature names)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("version", type=int)
        parser.add_argument("csv_file")
        parser.add_argument("--as-user", default=None, help="Staff username (default: first superuser).")

    def handle(self, *args, name, version, csv_file, as_user, **options):
        model = RegisteredModel.objects.filter(name=name, version=version).first()
        try:
            if model is None:
                raise ApplicationError.single(
                    RegistryErrorCode.NOT_FOUND, f"No version {version} of {name!r}.", field="version"
                )
            with open(csv_file, "rb") as file:
                reference = drift_reference_from_csv(model=model, file=file, changed_by=registrant_get(as_user))
        except ApplicationError as error:
            raise command_error(error) from None
        self.stdout.write(
            json.dumps({"model": f"{name} v{version}", "rows": reference.rows, "features": len(reference.statistics)})
        )
