import pytest
from prometheus_client.parser import text_string_to_metric_families


@pytest.fixture
def scrape(client):
    """GET /metrics from 127.0.0.1; returns {(sample name, sorted labels): value}."""

    def get() -> dict:
        response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
        assert response.status_code == 200
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples
        }

    return get


def sample(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
