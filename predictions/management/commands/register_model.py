import contextlib
import json
from pathlib import Path

from django.core.management.base import BaseCommand

from mlapi.errors import ApplicationError
from predictions.error_codes import RegistryErrorCode
from predictions.management.commands._errors import command_error, registrant_get
from predictions.models import RegisteredModel
from quality.error_codes import DriftErrorCode
from quality.services.drift import model_register_with_reference


class Command(BaseCommand):
    help = "Register a trained estimator file (.joblib/.pkl or .skops) as the next version of NAME."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--name", required=True)
        parser.add_argument("--description", default="")
        parser.add_argument("--stage", default=RegisteredModel.Stage.STAGING, choices=RegisteredModel.Stage.values)
        parser.add_argument(
            "--input-schema", default=None, help="A JSON file with the input schema (default: derived)."
        )
        parser.add_argument("--metrics", default=None, help="A JSON object of metrics.")
        parser.add_argument(
            "--trust",
            action="append",
            default=[],
            help="A skops type to trust beyond those skops and scikit-learn trust (repeatable).",
        )
        parser.add_argument(
            "--as-user", default=None, help="Staff username recorded as the registrant (default: first superuser)."
        )
        parser.add_argument(
            "--force", action="store_true", help="Register even if this file is already registered under NAME."
        )
        parser.add_argument(
            "--reference",
            default=None,
            help="A CSV sample of the training data: the version's drift reference (a bad one registers nothing).",
        )
        parser.add_argument(
            "--allow-breaking",
            action="store_true",
            help=(
                "With --stage production: go ahead even if the inputs break clients of the current production version."
            ),
        )

    def handle(
        self,
        *args,
        path,
        name,
        description,
        stage,
        input_schema,
        metrics,
        trust,
        as_user,
        force,
        allow_breaking,
        reference=None,
        **options,
    ):
        registrant = registrant_get(as_user)
        schema = _json_argument(
            lambda: Path(input_schema).read_text(), RegistryErrorCode.INVALID_SCHEMA, "input_schema", input_schema
        )
        metrics_value = _json_argument(lambda: metrics, RegistryErrorCode.INVALID_METRICS, "metrics", metrics)
        try:
            stream = Path(path).open("rb")
        except OSError as error:
            raise command_error(
                ApplicationError.single(
                    RegistryErrorCode.ARTIFACT_UNREADABLE, f"Cannot read {path} ({error.strerror}).", field="artifact"
                )
            ) from None
        try:
            reference_stream = Path(reference).open("rb") if reference else None
        except OSError as error:
            stream.close()
            raise command_error(
                ApplicationError.single(
                    DriftErrorCode.INVALID_REFERENCE, f"Cannot read {reference} ({error.strerror}).", field="reference"
                )
            ) from None
        try:
            with stream, reference_stream or contextlib.nullcontext():
                model = model_register_with_reference(
                    reference=reference_stream,
                    registered_by=registrant,
                    name=name,
                    artifact=stream,
                    filename=Path(path).name,
                    description=description,
                    stage=stage,
                    input_schema=schema,
                    metrics=metrics_value,
                    approved_types=trust,
                    force=force,
                    allow_breaking=allow_breaking,
                )
        except ApplicationError as error:
            raise command_error(error) from None
        self.stdout.write(
            json.dumps(
                {
                    "id": model.pk,
                    "name": model.name,
                    "version": model.version,
                    "stage": model.stage,
                    "sha256": model.sha256,
                }
            )
        )


def _json_argument(read, code: RegistryErrorCode, field: str, given):
    if not given:
        return None
    try:
        return json.loads(read())
    except (OSError, ValueError) as error:
        raise command_error(
            ApplicationError.single(code, f"Cannot read {given!r} as JSON ({error}).", field=field)
        ) from None
