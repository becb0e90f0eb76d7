"""The drift figures as a Prometheus gauge, read from the database at scrape time (the beat task runs
in a worker, /metrics in the web processes): mlapi_model_drift{model,version,feature,statistic,window}
and mlapi_model_drifted (1 when over the threshold), so an alert can be written on either."""

from prometheus_client.core import GaugeMetricFamily

LABELS = ["model", "version", "feature", "statistic", "window"]


class DriftCollector:
    def describe(self):
        """The families without samples: registering must not query the database (app start-up)."""
        yield GaugeMetricFamily(
            "mlapi_model_drift", "Latest drift statistic per model version and feature", labels=LABELS
        )
        yield GaugeMetricFamily(
            "mlapi_model_drifted", "1 when the drift statistic is over its threshold", labels=LABELS
        )

    def collect(self):
        from django.db import DatabaseError

        from quality.models import DriftResult

        value = GaugeMetricFamily(
            "mlapi_model_drift",
            "Latest drift statistic per model version and feature",
            labels=["model", "version", "feature", "statistic", "window"],
        )
        drifted = GaugeMetricFamily(
            "mlapi_model_drifted",
            "1 when the drift statistic is over its threshold",
            labels=["model", "version", "feature", "statistic", "window"],
        )
        try:
            rows = list(
                DriftResult.objects.values_list(
                    "model__name", "model__version", "feature", "statistic", "window", "value", "drifted"
                )
            )
        except DatabaseError:
            rows = []
        for name, version, feature, statistic, window, figure, flagged in rows:
            labels = [name, str(version), feature, statistic, window]
            value.add_metric(labels, figure)
            drifted.add_metric(labels, 1.0 if flagged else 0.0)
        yield value
        yield drifted


COLLECTOR = DriftCollector()
