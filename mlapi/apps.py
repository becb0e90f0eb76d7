from django.apps import AppConfig


class MlapiConfig(AppConfig):
    name = "mlapi"

    def ready(self) -> None:
        from django.core.signals import request_started

        from mlapi.api import schema  # noqa: F401 - registers the OpenAPI auth extension
        from mlapi.connections import broken_connections_close

        request_started.connect(broken_connections_close, dispatch_uid="mlapi.broken_connections_close")
