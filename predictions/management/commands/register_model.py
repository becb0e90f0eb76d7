import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from mlapi.errors import ApplicationError
from predictions.models import RegisteredModel
from predictions.services import model_register


class Command(BaseCommand):
    help = "Register a trained estimator file (.joblib/.pkl or .skops) as the next version of NAME."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--name", required=True)
        parser.add_argument("--description", default="")
        parser.add_argument("--stage", default=RegisteredModel.Stage.STAGING, choices=RegisteredModel.Stage.values)
        parser.add_argument("--input-schema", default=None, help="A JSON file with the input schema (default: derived).")
        parser.add_argument("--metrics", default=None, help="A JSON object of metrics.")
        parser.add_argument("--trust", action="append", default=[], help="A skops type to trust beyond those skops and scikit-learn trust (repeatable).")
        parser.add_argument("--as-user", default=None, help="Staff username recorded as the registrant (default: first superuser).")

    def handle(self, *args, path, name, description, stage, input_schema, metrics, trust, as_user, **options):
        User = get_user_model()
        registrant = (
            User.objects.filter(username=as_user).first()
            if as_user
            else User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
        )
        if registrant is None:
            raise CommandError("No staff user to record as registrant: create a superuser or pass --as-user.")
        source = Path(path)
        if not source.is_file():
            raise CommandError(f"No file at {path}.")
        try:
            schema = json.loads(Path(input_schema).read_text()) if input_schema else None
            metrics_value = json.loads(metrics) if metrics else None
        except (OSError, ValueError) as error:
            raise CommandError(f"Cannot read the schema or metrics: {error}") from None
        try:
            with source.open("rb") as stream:
                model = model_register(
                    registered_by=registrant,
                    name=name,
                    artifact=stream,
                    filename=source.name,
                    description=description,
                    stage=stage,
                    input_schema=schema,
                    metrics=metrics_value,
                    approved_types=trust,
                )
        except ApplicationError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            json.dumps({"id": model.pk, "name": model.name, "version": model.version, "stage": model.stage, "sha256": model.sha256})
        )
