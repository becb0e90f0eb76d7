"""REST helpers: paths, and error extraction by (field, code). The `rest` client is in tests/conftest.py."""

PREDICT_IRIS = "/api/v1/models/iris/predict"
PREDICT_BANK = "/api/v1/models/bank-marketing/predict"


def error_codes(response) -> list[tuple]:
    """[(field, code), ...] of a REST error body."""
    return [(e["field"], e["code"]) for e in response.json()["errors"]]
