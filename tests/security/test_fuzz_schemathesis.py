"""Schemathesis against the REST API (its OpenAPI schema) and the GraphQL endpoint, in-process through the WSGI
application with a real bearer token: no response is a server error or carries a traceback.

Runs are bounded (25 examples per operation) and derandomized, so a failure reproduces on every run."""

import json

import graphql
import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.graphql import nodes

from mlapi.schema import schema as mlapi_schema
from mlapi.wsgi import application
from tests.conftest import IRIS_SETOSA, bank_artifact, iris_artifact

FUZZ = settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


class _Response:
    """The WSGI response iterable; closing it sends request_finished, which must not close the connection."""

    def __init__(self, response):
        self.response = response

    def __iter__(self):
        return iter(self.response)

    def close(self):
        signals.request_finished.disconnect(close_old_connections)
        try:
            self.response.close()
        finally:
            signals.request_finished.connect(close_old_connections)


def in_test_transaction(environ, start_response):
    """`mlapi.wsgi.application`, called in this thread inside the test's transaction.

    Like Django's test client, keep request_started/finished from closing the database connection (on
    PostgreSQL that would end the test's transaction mid-test)."""
    signals.request_started.disconnect(close_old_connections)
    try:
        return _Response(application(environ, start_response))
    finally:
        signals.request_started.connect(close_old_connections)


# --- Loading the schemas --------------------------------------------------------------------------

# The OpenAPI document is public and served by the app itself.
openapi_schema = schemathesis.openapi.from_wsgi("/api/schema/", in_test_transaction)

# GraphQL's schema is printed in-process rather than introspected over HTTP: the standard introspection
# query is 14 levels deep and the endpoint refuses it (see test_graphql_limits, BUG: QUERY_TOO_DEEP).
graphql_schema = schemathesis.graphql.from_file(graphql.print_schema(mlapi_schema.graphql_schema))
graphql_schema.app = in_test_transaction
graphql_schema.location = "/graphql/"

_NAMES = st.sampled_from([*IRIS_SETOSA, "x"]) | st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
_JSON_SCALARS = (
    st.none().map(lambda _: graphql.NullValueNode())
    | st.booleans().map(nodes.Boolean)
    | st.integers(min_value=-(2**53), max_value=2**53).map(nodes.Int)
    | st.integers(min_value=2**1024, max_value=10**400).map(lambda n: nodes.Int(n * -1 if n % 2 else n))
    | st.floats(min_value=-1e12, max_value=1e12).map(lambda f: nodes.Float(repr(f)))
    | st.text(max_size=12).map(nodes.String)
)
_JSON_NODES = st.recursive(
    _JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4).map(nodes.List)
        | st.dictionaries(_NAMES, children, max_size=5).map(
            lambda d: nodes.Object(
                [graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=v) for k, v in d.items()]
            )
        )
    ),
    max_leaves=12,
)
# Finite numbers big enough to overflow the model's arithmetic are covered in test_fuzz_validator.
schemathesis.graphql.scalar("GenericScalar", _JSON_NODES)
# A file is only ever sent as a multipart part; in a document or JSON variables it is null.
schemathesis.graphql.scalar("Upload", st.just(graphql.NullValueNode()))
schemathesis.graphql.scalar(
    "Decimal", st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str).map(nodes.String)
)


# --- Fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def bearer(make_user, issue_token, register):
    """Headers of an ordinary user holding every scope, with iris and bank-marketing in production."""
    register("iris", iris_artifact())
    register("bank-marketing", bank_artifact())
    return {"Authorization": f"Bearer {issue_token(make_user('fuzzer'), scope='read predict billing keys')}"}


@pytest.fixture
def registry_bearer(staff_user, issue_token):
    """The registry's operations need the registry scope, which only a staff application gets."""
    return {"Authorization": f"Bearer {issue_token(staff_user, scope='read registry')}"}


REGISTRY_REST = {("POST", "/api/v1/models"), ("*", "/api/v1/models/{id}/stage")}
REGISTRY_GRAPHQL = {"Mutation.registerModel", "Mutation.setModelStage"}


# --- Checks ---------------------------------------------------------------------------------------


def no_traceback(ctx, response, case):
    assert b"Traceback" not in response.content, "the response body carries a traceback"


def token_accepted(headers: dict):
    """Proves the run is authenticated: the token holds every scope, so a request carrying it is never 401/403.

    Schemathesis also sends some requests with the credentials removed or replaced (its auth scenarios):
    those must be refused, or never routed (404)."""

    def check(ctx, response, case):
        if response.request.headers.get("Authorization") == headers["Authorization"]:
            assert response.status_code not in (401, 403), response.content[:300]
        else:
            assert response.status_code in (401, 404), response.content[:300]

    return check


def graphql_no_server_error(ctx, response, case):
    """GraphQL answers user errors with 200/400 and a code; a crash is a 5xx or INTERNAL_SERVER_ERROR."""
    assert response.status_code < 500, f"status {response.status_code}"
    body = json.loads(response.content)
    assert isinstance(body, dict) and ("data" in body or body.get("errors")), body
    codes = [(error.get("extensions") or {}).get("code") for error in body.get("errors") or []]
    assert "INTERNAL_SERVER_ERROR" not in codes, body["errors"]
    assert not {"UNAUTHENTICATED", "FORBIDDEN"} & set(codes), body["errors"]


# --- Tests ----------------------------------------------------------------------------------------


@openapi_schema.parametrize()
@FUZZ
def test_rest_api_never_answers_a_server_error(case, bearer, registry_bearer):
    # given: predictions go to a real model, not only to 404s
    if "name" in (case.path_parameters or {}):
        case.path_parameters["name"] = "iris"
    registry = {(case.method.upper(), case.path), ("*", case.path)} & REGISTRY_REST
    headers = registry_bearer if registry else bearer
    # when / then
    case.call_and_validate(headers=headers, checks=[not_a_server_error, no_traceback, token_accepted(headers)])


@graphql_schema.parametrize()
@FUZZ
def test_graphql_never_answers_a_server_error(case, bearer, registry_bearer):
    headers = registry_bearer if case.operation.label in REGISTRY_GRAPHQL else bearer
    case.call_and_validate(headers=headers, checks=[graphql_no_server_error, no_traceback])
