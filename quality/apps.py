from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "quality"
    verbose_name = "Model quality"

    def ready(self):
        from prometheus_client import REGISTRY

        from quality.prometheus import COLLECTOR

        try:
            REGISTRY.register(COLLECTOR)
        except ValueError:  # already registered (ready() twice in one process)
            pass
