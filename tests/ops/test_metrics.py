"""/metrics: Prometheus text for allowed networks or staff; predictions, inference time and refusals are counted."""

import json

from prometheus_client.parser import text_string_to_metric_families

from billing.models import PricingTier
from tests.conftest import IRIS_SETOSA
from tests.ops.conftest import sample

PREDICT_IRIS = "/api/v1/models/iris/predict"
OUTSIDE = "203.0.113.9"


def _predict(client, token, body):
    return client.post(
        PREDICT_IRIS, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


def test_metrics_from_localhost_is_prometheus_text(db, client):
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert {"mlapi_http_requests", "mlapi_predictions", "mlapi_inference_seconds", "mlapi_limit_rejections"} <= names


def test_prediction_increments_prediction_and_inference_counters(make_user, issue_token, client, iris_model, scrape):
    # given
    token = issue_token(make_user())
    before = scrape()
    # when: one single call and one batch of three
    assert _predict(client, token, {"features": IRIS_SETOSA}).status_code == 201
    assert _predict(client, token, {"instances": [IRIS_SETOSA] * 3}).status_code == 201
    after = scrape()
    # then
    labels = {"model": "iris", "version": "1"}
    assert (
        sample(after, "mlapi_predictions_total", **labels, source="online")
        - sample(before, "mlapi_predictions_total", **labels, source="online")
        == 4
    )
    assert (
        sample(after, "mlapi_inference_seconds_count", **labels)
        - sample(before, "mlapi_inference_seconds_count", **labels)
        == 2
    )
    assert sample(after, "mlapi_inference_seconds_sum", **labels) > sample(
        before, "mlapi_inference_seconds_sum", **labels
    )


def test_refused_prediction_is_not_counted_as_a_prediction(make_user, issue_token, client, iris_model, scrape):
    token = issue_token(make_user())
    before = scrape()
    assert _predict(client, token, {"features": {"sepal_length": "x"}}).status_code == 400
    after = scrape()
    labels = {"model": "iris", "version": "1", "source": "online"}
    assert sample(after, "mlapi_predictions_total", **labels) == sample(before, "mlapi_predictions_total", **labels)


def test_quota_refusal_increments_limit_rejections(make_user, issue_token, client, iris_model, scrape):
    # given: a quota of one, used
    token = issue_token(make_user(tier=PricingTier.objects.create(name="one", monthly_quota=1)))
    assert _predict(client, token, {"features": IRIS_SETOSA}).status_code == 201
    before = scrape()
    # when
    response = _predict(client, token, {"features": IRIS_SETOSA})
    after = scrape()
    # then
    assert response.status_code == 429
    name = "mlapi_limit_rejections_total"
    assert sample(after, name, code="QUOTA_EXCEEDED") - sample(before, name, code="QUOTA_EXCEEDED") == 1
    assert sample(after, name, code="RATE_LIMITED") == sample(before, name, code="RATE_LIMITED")


def test_rate_limit_refusal_increments_limit_rejections(
    make_user, issue_token, client, iris_model, scrape, monkeypatch
):
    # given: one call per minute, the clock stopped mid-minute
    from django.utils import timezone

    token = issue_token(make_user(tier=PricingTier.objects.create(name="slow", rate_limit_per_minute=1)))
    stopped = timezone.now().replace(second=30)
    monkeypatch.setattr(timezone, "now", lambda: stopped)
    assert _predict(client, token, {"features": IRIS_SETOSA}).status_code == 201
    before = scrape()
    # when
    assert _predict(client, token, {"features": IRIS_SETOSA}).status_code == 429
    after = scrape()
    # then
    name = "mlapi_limit_rejections_total"
    assert sample(after, name, code="RATE_LIMITED") - sample(before, name, code="RATE_LIMITED") == 1


def test_idempotent_replay_is_not_counted_again(make_user, issue_token, client, iris_model, scrape):
    token = issue_token(make_user())
    assert _predict_with_key(client, token, "k").status_code == 201
    before = scrape()
    assert _predict_with_key(client, token, "k").status_code == 200
    after = scrape()
    labels = {"model": "iris", "version": "1"}
    assert sample(after, "mlapi_predictions_total", **labels, source="online") == sample(
        before, "mlapi_predictions_total", **labels, source="online"
    )
    assert sample(after, "mlapi_inference_seconds_count", **labels) == sample(
        before, "mlapi_inference_seconds_count", **labels
    )


def _predict_with_key(client, token, key):
    return client.post(
        PREDICT_IRIS,
        json.dumps({"features": IRIS_SETOSA}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_requests_are_counted_by_route_and_status(make_user, issue_token, client, iris_model, scrape):
    token = issue_token(make_user())
    labels = {"method": "GET", "route": "api/v1/models", "status": "200"}
    before = scrape()
    client.get("/api/v1/models", HTTP_AUTHORIZATION=f"Bearer {token}")
    client.get("/api/v1/models", HTTP_AUTHORIZATION=f"Bearer {token}")
    after = scrape()
    assert (
        sample(after, "mlapi_http_requests_total", **labels) - sample(before, "mlapi_http_requests_total", **labels)
        == 2
    )


def test_metrics_from_outside_without_staff_is_forbidden(make_user, issue_token, client):
    anonymous = client.get("/metrics", REMOTE_ADDR=OUTSIDE)
    user = client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION=f"Bearer {issue_token(make_user())}")
    bad_token = client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer nope")
    for response in (anonymous, user, bad_token):
        assert response.status_code == 403
        assert b"mlapi_" not in response.content


def test_metrics_from_outside_with_a_staff_token_is_allowed(staff_user, issue_token, client):
    response = client.get(
        "/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION=f"Bearer {issue_token(staff_user, scope='read')}"
    )
    assert response.status_code == 200
    assert b"mlapi_predictions_total" in response.content


def test_metrics_from_outside_with_a_staff_session_is_allowed(staff_user, client):
    client.force_login(staff_user)
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 200


def test_allowed_networks_come_from_settings(db, client, settings):
    settings.METRICS_ALLOWED_NETWORKS = ["203.0.113.0/24"]
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_a_forwarded_for_header_does_not_grant_access(db, client):
    # given: an outside client claiming to be localhost
    response = client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_X_FORWARDED_FOR="127.0.0.1", HTTP_X_REAL_IP="127.0.0.1")
    assert response.status_code == 403
