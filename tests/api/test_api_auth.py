"""Who may call the REST API: 401 without a usable bearer token or session, 403 without the endpoint's scope."""

import hashlib
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken

from tests.api.conftest import PREDICT_IRIS, error_codes
from tests.conftest import IRIS_SETOSA

# (method, path, required scope); ids need not exist: authentication and scope come first.
ENDPOINTS = [
    ("get", "/api/v1/models", "read"),
    ("get", "/api/v1/models/1", "read"),
    ("post", PREDICT_IRIS, "predict"),
    ("get", "/api/v1/predictions", "read"),
    ("get", f"/api/v1/predictions/{uuid.uuid4()}", "read"),
    ("get", "/api/v1/me", "read"),
    ("get", "/api/v1/invoices", "billing"),
    ("get", "/api/v1/invoices/1", "billing"),
]
ALL_SCOPES = {"read", "predict", "billing"}


def _body(method):
    return {"features": IRIS_SETOSA} if method == "post" else None


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
def test_every_endpoint_needs_authentication(rest, iris_model, stored_counts, method, path, scope):
    # given
    before = stored_counts()
    # when
    response = rest(method, path, _body(method))
    # then
    assert response.status_code == 401
    assert error_codes(response) == [(None, "UNAUTHENTICATED")]
    assert stored_counts() == before


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
def test_every_endpoint_needs_its_scope(make_user, issue_token, rest, iris_model, stored_counts, method, path, scope):
    # given: a token holding every scope but the one needed
    token = issue_token(make_user(), scope=" ".join(sorted(ALL_SCOPES - {scope})))
    before = stored_counts()
    # when
    response = rest(method, path, _body(method), token=token)
    # then
    assert response.status_code == 403
    assert error_codes(response) == [(None, "FORBIDDEN")]
    assert stored_counts() == before


def _checksum(token: str) -> str:
    """Tokens are stored hashed (RFC 9700 token storage): look them up the way the server does."""
    return hashlib.sha256(token.encode()).hexdigest()


def _expire(token):
    AccessToken.objects.filter(token_checksum=_checksum(token)).update(expires=timezone.now() - timedelta(seconds=1))


def _revoke(token):
    AccessToken.objects.filter(token_checksum=_checksum(token)).delete()


def _deactivate_owner(token):
    user = (
        AccessToken.objects.get(token_checksum=_checksum(token)).user
        or AccessToken.objects.get(token_checksum=_checksum(token)).application.user
    )
    user.is_active = False
    user.save(update_fields=["is_active"])


@pytest.mark.parametrize("spoil", [_expire, _revoke, _deactivate_owner], ids=["expired", "revoked", "inactive-user"])
def test_unusable_token_is_invalid_token_with_www_authenticate(
    make_user, issue_token, rest, iris_model, stored_counts, spoil
):
    # given: a token that worked
    token = issue_token(make_user())
    assert rest("get", "/api/v1/me", token=token).status_code == 200
    spoil(token)
    before = stored_counts()
    # when
    me = rest("get", "/api/v1/me", token=token)
    predict = rest("post", PREDICT_IRIS, {"features": IRIS_SETOSA}, token=token)
    # then
    for response in (me, predict):
        assert response.status_code == 401
        assert error_codes(response) == [(None, "INVALID_TOKEN")]
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert stored_counts() == before


@pytest.mark.parametrize("header", ["Bearer unknown-token", "Bearer two words", "Bearer " + "x" * 300, "Bearer "])
def test_unknown_or_malformed_bearer_token_is_invalid_token(db, rest, header):
    response = rest("get", "/api/v1/me", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert error_codes(response) == [(None, "INVALID_TOKEN")]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_other_authorization_schemes_are_unauthenticated(db, rest):
    response = rest("get", "/api/v1/me", HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
    assert response.status_code == 401
    assert error_codes(response) == [(None, "UNAUTHENTICATED")]
