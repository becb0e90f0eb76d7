"""REST helpers: a JSON client that sends bearer tokens, and error extraction by (field, code)."""

import json

import pytest

PREDICT_IRIS = "/api/v1/models/iris/predict"
PREDICT_BANK = "/api/v1/models/bank-marketing/predict"


@pytest.fixture
def rest(client):
    """Call the REST API; `body` is sent as JSON. Returns the Django test response."""

    def call(method, path, body=None, *, token=None, **extra):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        headers.update(extra)
        if body is not None:
            headers.setdefault("content_type", "application/json")
            return getattr(client, method)(path, json.dumps(body), **headers)
        return getattr(client, method)(path, **headers)

    return call


def error_codes(response) -> list[tuple]:
    """[(field, code), ...] of a REST error body."""
    return [(e["field"], e["code"]) for e in response.json()["errors"]]
