from django.apps import AppConfig


class MlapiConfig(AppConfig):
    name = "mlapi"

    def ready(self) -> None:
        from mlapi.api import schema  # noqa: F401 - registers the OpenAPI auth extension
