"""Authorization audit: every GraphQL root field and every REST endpoint needs authentication and its scope;
one user never reads or uses another's data (staging models, predictions, usage, invoices, cursors,
OAuth applications); the admin is for staff sessions only.

The case tables are checked against the live schema and URL resolver, so a new field or endpoint without
a case here fails `test_every_graphql_field_has_a_case` / `test_every_rest_endpoint_has_a_case`.
"""

import base64
import json
import re
import uuid

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLUnionType,
    get_named_type,
)
from oauth2_provider.models import AccessToken, Application

from accounts.services import api_client_create
from billing.periods import period_of
from billing.services.invoices import invoice_generate
from mlapi.schema import schema as mlapi_schema
from predictions.models import Prediction, RegisteredModel
from tests.conftest import IRIS_SETOSA, iris_artifact

ALL_SCOPES = frozenset({"read", "predict", "billing", "keys"})
BATCH_INSTALLED = apps.is_installed("batch")
_needs_batch = pytest.mark.skipif(not BATCH_INSTALLED, reason="the batch app is not in INSTALLED_APPS")

CREATE = """
mutation Create($input: CreatePredictionInput!) {
  createPrediction(input: $input) { prediction { id } predictions { id } errors { field code } }
}
"""


def _codes(body) -> list[str | None]:
    return [(e.get("extensions") or {}).get("code") for e in body.get("errors", [])]


def _rest(client, method, path, body=None, *, token=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    if body is not None:
        return getattr(client, method)(path, json.dumps(body), content_type="application/json", **headers)
    return getattr(client, method)(path, **headers)


def _rest_codes(response) -> list[str]:
    return [e["code"] for e in response.json()["errors"]]


# --- GraphQL: every root field needs authentication and its scope ---------------------------------

# root field -> the scope it needs. Batch fields are only expected when the batch app is installed.
GRAPHQL_SCOPES = {
    "me": "read",
    "models": "read",
    "model": "read",
    "predictions": "read",
    "prediction": "read",
    "invoices": "billing",
    "invoice": "billing",
    "createPrediction": "predict",
    # A customer's own API keys: a session or a token with `keys` (never `predict`).
    "apiClients": "keys",
    "createApiClient": "keys",
    "rotateApiClientSecret": "keys",
    "renameApiClient": "keys",
    "revokeApiClient": "keys",
    # quality/: feedback and explanations are the caller's own; rollouts answer PERMISSION_DENIED as
    # data unless staff with the staff scope.
    "submitFeedback": "predict",
    "submitBatchFeedback": "predict",
    "explainPrediction": "predict",
    "setRollout": "read",
    "promoteModel": "read",
}
BATCH_GRAPHQL_SCOPES = {
    "batchJob": "read",
    "batchJobs": "read",
    "createBatchJob": "predict",
    "cancelBatchJob": "predict",
    "resumeBatchJob": "predict",
    "deleteUpload": "predict",
}

# Staff applications only (the registry scope is never granted to anyone else): checked with a staff user.
REGISTRY_GRAPHQL_SCOPES = {"registerModel": "registry", "setModelStage": "registry"}


def _root_fields() -> dict[str, tuple[str, object]]:
    """{field name: (operation, GraphQLField)} of the live schema."""
    graphql_schema = mlapi_schema.graphql_schema
    fields = {name: ("query", field) for name, field in graphql_schema.query_type.fields.items()}
    if graphql_schema.mutation_type is not None:
        fields.update({name: ("mutation", field) for name, field in graphql_schema.mutation_type.fields.items()})
    return fields


def _dummy(type_) -> object:
    """A value of `type_` that passes validation; authentication and scope are checked before it is used."""
    if isinstance(type_, GraphQLNonNull):
        return _dummy(type_.of_type)
    if isinstance(type_, GraphQLList):
        return [_dummy(type_.of_type)]
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        return {name: _dummy(f.type) for name, f in type_.fields.items() if isinstance(f.type, GraphQLNonNull)}
    return {
        "ID": "1",
        "Int": 1,
        "Float": 1.0,
        "Boolean": False,
        "DateTime": "2024-01-01T00:00:00+00:00",
        "Date": "2024-01-01",
        "Decimal": "1",
        "UUID": str(uuid.uuid4()),
    }.get(type_.name, "x")


def _document_for(name: str) -> tuple[str, dict]:
    """A minimal document calling root field `name` with its required arguments as variables."""
    operation, field = _root_fields()[name]
    required = {arg_name: arg for arg_name, arg in field.args.items() if isinstance(arg.type, GraphQLNonNull)}
    declarations = ", ".join(f"${arg_name}: {arg.type}" for arg_name, arg in required.items())
    arguments = ", ".join(f"{arg_name}: ${arg_name}" for arg_name in required)
    named = get_named_type(field.type)
    selection = (
        " { __typename }" if isinstance(named, (GraphQLObjectType, GraphQLInterfaceType, GraphQLUnionType)) else ""
    )
    document = (
        f"{operation}{f'({declarations})' if declarations else ''} "
        f"{{ {name}{f'({arguments})' if arguments else ''}{selection} }}"
    )
    return document, {arg_name: _dummy(arg.type) for arg_name, arg in required.items()}


GRAPHQL_CASES = [pytest.param(name, scope, id=name) for name, scope in GRAPHQL_SCOPES.items()] + [
    pytest.param(name, scope, id=name, marks=_needs_batch) for name, scope in BATCH_GRAPHQL_SCOPES.items()
]
REGISTRY_GRAPHQL_CASES = [pytest.param(name, scope, id=name) for name, scope in REGISTRY_GRAPHQL_SCOPES.items()]


def _skip_unless_in_schema(name: str) -> None:
    if name not in _root_fields():
        pytest.skip(f"{name} is not in the GraphQL schema yet")


def test_every_graphql_field_has_a_case():
    # given
    known = (
        set(GRAPHQL_SCOPES) | set(REGISTRY_GRAPHQL_SCOPES) | (set(BATCH_GRAPHQL_SCOPES) if BATCH_INSTALLED else set())
    )
    # when
    fields = set(_root_fields())
    # then: a new root field needs a row in the tables above
    assert fields - known == set()
    assert set(GRAPHQL_SCOPES) <= fields


@pytest.mark.parametrize(("name", "scope"), GRAPHQL_CASES + REGISTRY_GRAPHQL_CASES)
def test_graphql_field_without_a_token_is_unauthenticated(gql, iris_model, stored_counts, name, scope):
    # given
    _skip_unless_in_schema(name)
    document, variables = _document_for(name)
    before = stored_counts()
    # when
    status, body = gql(document, variables)
    # then
    assert status == 200
    assert _codes(body) == ["UNAUTHENTICATED"]
    assert body["errors"][0]["path"] == [name]
    assert not (body.get("data") or {}).get(name)
    assert stored_counts() == before


@pytest.mark.parametrize(("name", "scope"), GRAPHQL_CASES)
def test_graphql_field_with_a_token_lacking_its_scope_is_forbidden(
    make_user, issue_token, gql, iris_model, stored_counts, name, scope
):
    # given: a token with every scope but the one this field needs
    _skip_unless_in_schema(name)
    token = issue_token(make_user(), scope=" ".join(sorted(ALL_SCOPES - {scope})))
    document, variables = _document_for(name)
    before = stored_counts()
    # when
    status, body = gql(document, variables, token=token)
    # then
    assert status == 200
    assert _codes(body) == ["FORBIDDEN"]
    assert not (body.get("data") or {}).get(name)
    assert stored_counts() == before


@pytest.mark.parametrize(("name", "scope"), GRAPHQL_CASES)
def test_graphql_field_with_its_scope_only_is_not_refused(make_user, issue_token, gql, iris_model, name, scope):
    # given: proves the two tests above refuse for the scope, not for a broken document
    _skip_unless_in_schema(name)
    token = issue_token(make_user(), scope=scope)
    document, variables = _document_for(name)
    # when
    status, body = gql(document, variables, token=token)
    # then
    assert status == 200
    assert not {"UNAUTHENTICATED", "FORBIDDEN", "INTERNAL_SERVER_ERROR"} & set(_codes(body))


@pytest.mark.parametrize(("name", "scope"), REGISTRY_GRAPHQL_CASES)
def test_registry_fields_refuse_a_staff_token_without_the_registry_scope(
    staff_user, issue_token, gql, iris_model, stored_counts, name, scope
):
    # given: a staff application's token with every other scope
    token = issue_token(staff_user, scope="read predict billing staff introspection")
    document, variables = _document_for(name)
    before = stored_counts()
    # when
    status, body = gql(document, variables, token=token)
    # then
    assert status == 200
    assert _codes(body) == ["FORBIDDEN"]
    assert not (body.get("data") or {}).get(name)
    assert stored_counts() == before
    assert RegisteredModel.objects.get(pk=iris_model.pk).stage == "production"


@pytest.mark.parametrize(("name", "scope"), REGISTRY_GRAPHQL_CASES)
def test_registry_fields_with_the_registry_scope_only_are_not_refused(
    staff_user, issue_token, gql, iris_model, name, scope
):
    token = issue_token(staff_user, scope=scope)
    document, variables = _document_for(name)
    status, body = gql(document, variables, token=token)
    assert status == 200
    assert not {"UNAUTHENTICATED", "FORBIDDEN", "INTERNAL_SERVER_ERROR"} & set(_codes(body))


def test_me_usage_needs_the_billing_scope(make_user, issue_token, gql):
    # given
    token = issue_token(make_user(), scope="read")
    # when
    status, body = gql("{ me { username usage { predictions amount } } }", token=token)
    # then
    assert status == 200
    assert _codes(body) == ["FORBIDDEN"]
    assert body["errors"][0]["path"] == ["me", "usage"]


# --- REST: every endpoint needs authentication and its scope --------------------------------------


def _routes(patterns=None, prefix="") -> list[str]:
    patterns = get_resolver().url_patterns if patterns is None else patterns
    found = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            found += _routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            found.append(prefix + str(entry.pattern))
    return found


_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")
# The JSON 404 for unknown paths under /api/v1/: not an endpoint, checked by its own test.
CATCH_ALL = "api/v1/^.*$"


def _api_routes() -> set[str]:
    """Routes under /api/v1/ with path converters dropped (`<int:pk>` and `<str:pk>` are both `<pk>`)."""
    return {_CONVERTER.sub(r"<\1>", route) for route in _routes() if route.startswith("api/v1/")} - {CATCH_ALL}


# route -> [(method, required scope)]. Path parameters are filled by _path(); none need to exist.
REST_SCOPES = {
    "api/v1/models": [("get", "read")],
    "api/v1/models/<pk>": [("get", "read")],
    "api/v1/models/<name>/predict": [("post", "predict")],
    "api/v1/predictions": [("get", "read")],
    "api/v1/predictions/<pk>": [("get", "read")],
    "api/v1/predictions/<pk>/feedback": [("post", "predict")],
    "api/v1/feedback": [("post", "predict")],
    "api/v1/models/<pk>/quality": [("get", "read")],
    "api/v1/me": [("get", "read")],
    "api/v1/invoices": [("get", "billing")],
    "api/v1/invoices/<pk>": [("get", "billing")],
}
REGISTRY_REST_SCOPES = {
    "api/v1/models": [("post", "registry")],
    "api/v1/models/<pk>/stage": [("post", "registry")],
}
BATCH_REST_SCOPES = {
    "api/v1/batch-uploads": [("post", "predict")],
    "api/v1/batch-uploads/<pk>": [("delete", "predict")],
    "api/v1/batch-jobs": [("get", "read"), ("post", "predict")],
    "api/v1/batch-jobs/<pk>": [("get", "read")],
    "api/v1/batch-jobs/<pk>/cancel": [("post", "predict")],
    "api/v1/batch-jobs/<pk>/resume": [("post", "predict")],
    "api/v1/batch-jobs/<pk>/feedback": [("post", "predict")],
    "api/v1/batch-jobs/<pk>/results": [("get", "read")],
}


def _path(route: str) -> str:
    """A concrete path: ids of the right shape that need not exist (authentication and scope come first)."""
    if "<pk>" in route:
        route = route.replace(
            "<pk>", "1" if route.startswith(("api/v1/models/", "api/v1/invoices/")) else str(uuid.uuid4())
        )
    path = "/" + route.replace("<name>", "iris")
    assert "<" not in path, f"give the parameter of {route} a value in _path()"
    return path


def _body_for(route: str, method: str):
    if method != "post":
        return None
    return {"features": IRIS_SETOSA} if route.endswith("/predict") else {}


REST_CASES = [
    pytest.param(route, method, scope, id=f"{method.upper()} /{route}")
    for route, calls in REST_SCOPES.items()
    for method, scope in calls
] + [
    pytest.param(route, method, scope, id=f"{method.upper()} /{route}", marks=_needs_batch)
    for route, calls in BATCH_REST_SCOPES.items()
    for method, scope in calls
]
REGISTRY_REST_CASES = [
    pytest.param(route, method, scope, id=f"{method.upper()} /{route}")
    for route, calls in REGISTRY_REST_SCOPES.items()
    for method, scope in calls
]


def _skip_unless_routed(route: str) -> None:
    if route not in _api_routes():
        pytest.skip(f"/{route} is not routed yet")


def test_every_rest_endpoint_has_a_case():
    # given
    known = set(REST_SCOPES) | set(REGISTRY_REST_SCOPES) | (set(BATCH_REST_SCOPES) if BATCH_INSTALLED else set())
    # when
    routes = _api_routes()
    # then: a new endpoint under /api/v1/ needs a row in the tables above
    assert routes - known == set()
    assert set(REST_SCOPES) <= routes


def test_unknown_paths_under_the_api_are_a_json_404_for_anyone(client, make_user, issue_token):
    # given
    token = issue_token(make_user())
    # when
    anonymous = _rest(client, "get", "/api/v1/no-such-endpoint")
    authenticated = _rest(client, "post", "/api/v1/models/iris/predict/extra", {}, token=token)
    # then
    for response in (anonymous, authenticated):
        assert response.status_code == 404
        assert _rest_codes(response) == ["NOT_FOUND"]


@pytest.mark.parametrize(("route", "method", "scope"), REST_CASES + REGISTRY_REST_CASES)
def test_rest_endpoint_without_a_token_is_401(client, iris_model, stored_counts, route, method, scope):
    # given
    _skip_unless_routed(route)
    before = stored_counts()
    # when
    response = _rest(client, method, _path(route), _body_for(route, method))
    # then
    assert response.status_code == 401
    assert _rest_codes(response) == ["UNAUTHENTICATED"]
    assert stored_counts() == before


@pytest.mark.parametrize(("route", "method", "scope"), REST_CASES)
def test_rest_endpoint_with_a_token_lacking_its_scope_is_403(
    client, make_user, issue_token, iris_model, stored_counts, route, method, scope
):
    # given
    _skip_unless_routed(route)
    token = issue_token(make_user(), scope=" ".join(sorted(ALL_SCOPES - {scope})))
    before = stored_counts()
    # when
    response = _rest(client, method, _path(route), _body_for(route, method), token=token)
    # then
    assert response.status_code == 403
    assert _rest_codes(response) == ["FORBIDDEN"]
    assert stored_counts() == before


@pytest.mark.parametrize(("route", "method", "scope"), REST_CASES)
def test_rest_endpoint_with_its_scope_only_is_not_refused(
    client, make_user, issue_token, iris_model, route, method, scope
):
    # given: proves the two tests above refuse for the scope, not for a missing route
    _skip_unless_routed(route)
    token = issue_token(make_user(), scope=scope)
    # when
    response = _rest(client, method, _path(route), _body_for(route, method), token=token)
    # then
    assert response.status_code not in (401, 403, 405)
    assert response.status_code < 500


@pytest.mark.parametrize(("route", "method", "scope"), REGISTRY_REST_CASES)
def test_registry_endpoints_refuse_a_staff_token_without_the_registry_scope(
    client, staff_user, issue_token, iris_model, stored_counts, route, method, scope
):
    token = issue_token(staff_user, scope="read predict billing staff introspection")
    before = stored_counts()
    response = _rest(client, method, _path(route), _body_for(route, method), token=token)
    assert response.status_code == 403
    assert _rest_codes(response) == ["FORBIDDEN"]
    assert stored_counts() == before
    assert RegisteredModel.objects.get(pk=iris_model.pk).stage == "production"


@pytest.mark.parametrize(("route", "method", "scope"), REGISTRY_REST_CASES)
def test_registry_endpoints_with_the_registry_scope_only_are_not_refused(
    client, staff_user, issue_token, iris_model, route, method, scope
):
    token = issue_token(staff_user, scope=scope)
    response = _rest(client, method, _path(route), _body_for(route, method), token=token)
    assert response.status_code not in (401, 403, 405)
    assert response.status_code < 500


def test_rest_me_does_not_show_usage_without_the_billing_scope(client, make_user, issue_token):
    # given
    token = issue_token(make_user(), scope="read")
    # when
    response = _rest(client, "get", "/api/v1/me", token=token)
    # then: either refused, or the usage left out
    assert response.status_code == 403 or response.json().get("usage") is None


# --- One user never sees another's data -----------------------------------------------------------


@pytest.fixture
def iris_versions(register):
    """iris v1 in production and v2 in staging."""
    production = register("iris", iris_artifact())
    staging = register("iris", iris_artifact(), stage=RegisteredModel.Stage.STAGING)
    return production, staging


def test_non_staff_never_see_staging_models_through_graphql(make_user, issue_token, gql, iris_versions):
    # given
    production, staging = iris_versions
    token = issue_token(make_user())
    # when
    _, listed = gql("{ models { edges { node { id stage } } } }", token=token)
    _, by_stage = gql('{ models(stage: "staging") { edges { node { id } } } }', token=token)
    _, by_id = gql("query($id: ID) { model(id: $id) { id } }", {"id": str(staging.pk)}, token=token)
    _, by_version = gql('{ model(name: "iris", version: 2) { id } }', token=token)
    _, nested = gql(
        "query($id: ID) { model(id: $id) { versions { id stage versions { id stage } } } }",
        {"id": str(production.pk)},
        token=token,
    )
    # then
    assert [edge["node"] for edge in listed["data"]["models"]["edges"]] == [
        {"id": str(production.pk), "stage": "production"}
    ]
    assert by_stage["data"]["models"]["edges"] == []
    assert by_id["data"]["model"] is None
    assert by_version["data"]["model"] is None
    versions = nested["data"]["model"]["versions"]
    assert [v["id"] for v in versions] == [str(production.pk)]
    assert [v["id"] for v in versions[0]["versions"]] == [str(production.pk)]


def test_staff_see_staging_versions_nested(staff_user, issue_token, gql, iris_versions):
    # given: proves the test above would see the staging version if it leaked
    production, staging = iris_versions
    token = issue_token(staff_user)
    # when
    _, body = gql("query($id: ID) { model(id: $id) { versions { id } } }", {"id": str(production.pk)}, token=token)
    # then
    assert [v["id"] for v in body["data"]["model"]["versions"]] == [str(staging.pk), str(production.pk)]


def test_non_staff_never_see_or_use_staging_models_through_rest(
    client, make_user, issue_token, iris_versions, stored_counts
):
    # given
    production, staging = iris_versions
    token = issue_token(make_user())
    before = stored_counts()
    # when
    listed = _rest(client, "get", "/api/v1/models", token=token)
    by_stage = _rest(client, "get", "/api/v1/models?stage=staging", token=token)
    by_id = _rest(client, "get", f"/api/v1/models/{staging.pk}", token=token)
    predict = _rest(client, "post", "/api/v1/models/iris/predict?version=2", {"features": IRIS_SETOSA}, token=token)
    # then
    assert [m["id"] for m in listed.json()["results"]] == [production.pk]
    assert by_stage.json()["results"] == []
    assert by_id.status_code == 404
    assert predict.status_code == 404
    assert _rest_codes(predict) == ["NOT_FOUND"]
    assert stored_counts() == before


def test_non_staff_cannot_predict_on_a_staging_model_through_graphql(
    make_user, issue_token, gql, iris_versions, stored_counts
):
    # given
    _, staging = iris_versions
    token = issue_token(make_user())
    before = stored_counts()
    # when
    results = [
        gql(CREATE, {"input": {**ref, "features": IRIS_SETOSA}}, token=token)
        for ref in ({"modelId": str(staging.pk)}, {"modelName": "iris", "modelVersion": 2})
    ]
    # then
    for _, body in results:
        assert [e["code"] for e in body["data"]["createPrediction"]["errors"]] == ["NOT_FOUND"]
    assert stored_counts() == before


def _predict(gql, token, *, key=None) -> str:
    variables = {"input": {"modelName": "iris", "features": IRIS_SETOSA, **({"idempotencyKey": key} if key else {})}}
    _, body = gql(CREATE, variables, token=token)
    assert body["data"]["createPrediction"]["errors"] == [], body
    return body["data"]["createPrediction"]["prediction"]["id"]


@pytest.fixture
def alice_and_bob(make_user, issue_token):
    """Two ordinary users with full-scope tokens: ((alice, token), (bob, token))."""
    alice, bob = make_user("alice"), make_user("bob")
    return (alice, issue_token(alice)), (bob, issue_token(bob))


def test_another_users_prediction_is_invisible_by_id(client, gql, iris_model, alice_and_bob):
    # given
    (_, alice_token), (_, bob_token) = alice_and_bob
    alices = _predict(gql, alice_token)
    # when
    _, graphql = gql("query($id: ID!) { prediction(id: $id) { id input } }", {"id": alices}, token=bob_token)
    rest = _rest(client, "get", f"/api/v1/predictions/{alices}", token=bob_token)
    own = _rest(client, "get", f"/api/v1/predictions/{alices}", token=alice_token)
    # then
    assert graphql["data"]["prediction"] is None
    assert rest.status_code == 404
    assert own.status_code == 200


def test_another_users_predictions_are_not_listed(client, gql, iris_model, alice_and_bob):
    # given
    (_, alice_token), (_, bob_token) = alice_and_bob
    _predict(gql, alice_token)
    bobs = _predict(gql, bob_token)
    # when
    _, graphql = gql("{ predictions { edges { node { id } } } }", token=bob_token)
    _, by_model = gql(
        "query($m: ID) { predictions(model: $m) { edges { node { id } } } }", {"m": str(iris_model.pk)}, token=bob_token
    )
    rest = _rest(client, "get", "/api/v1/predictions", token=bob_token)
    # then
    assert [e["node"]["id"] for e in graphql["data"]["predictions"]["edges"]] == [bobs]
    assert [e["node"]["id"] for e in by_model["data"]["predictions"]["edges"]] == [bobs]
    assert [p["id"] for p in rest.json()["results"]] == [bobs]


def test_a_cursor_from_another_users_connection_pages_only_your_own_rows(gql, iris_model, alice_and_bob):
    # given: bob's two predictions are older than alice's three
    (_, alice_token), (_, bob_token) = alice_and_bob
    bobs = [_predict(gql, bob_token) for _ in range(2)]
    alices = [_predict(gql, alice_token) for _ in range(3)]
    _, page = gql("{ predictions(first: 1) { edges { node { id } } pageInfo { endCursor } } }", token=alice_token)
    cursor = page["data"]["predictions"]["pageInfo"]["endCursor"]
    assert page["data"]["predictions"]["edges"][0]["node"]["id"] == alices[-1]
    # when
    _, body = gql(
        "query($after: String) { predictions(first: 10, after: $after) { edges { node { id } } } }",
        {"after": cursor},
        token=bob_token,
    )
    # then
    assert sorted(e["node"]["id"] for e in body["data"]["predictions"]["edges"]) == sorted(bobs)


def test_a_rest_cursor_from_another_users_list_pages_only_your_own_rows(client, gql, iris_model, alice_and_bob):
    # given
    (_, alice_token), (_, bob_token) = alice_and_bob
    bobs = [_predict(gql, bob_token) for _ in range(2)]
    [_predict(gql, alice_token) for _ in range(3)]
    alice_page = _rest(client, "get", "/api/v1/predictions?page_size=1", token=alice_token).json()
    # when
    response = _rest(client, "get", alice_page["next"].split("testserver", 1)[-1], token=bob_token)
    # then
    assert response.status_code == 200
    assert {p["id"] for p in response.json()["results"]} <= set(bobs)


def test_another_users_idempotency_key_replays_nothing_of_theirs(gql, iris_model, alice_and_bob):
    # given
    (_, alice_token), (_, bob_token) = alice_and_bob
    alices = _predict(gql, alice_token, key="shared-key")
    # when
    bobs = _predict(gql, bob_token, key="shared-key")
    # then
    assert bobs != alices
    assert Prediction.objects.get(pk=bobs).user.username == "bob"


def test_usage_is_only_your_own(client, gql, iris_model, alice_and_bob):
    # given
    (_, alice_token), (_, bob_token) = alice_and_bob
    _predict(gql, alice_token)
    # when
    _, bob_graphql = gql("{ me { username usage { predictions } } }", token=bob_token)
    _, alice_graphql = gql("{ me { username usage { predictions } } }", token=alice_token)
    bob_rest = _rest(client, "get", "/api/v1/me", token=bob_token).json()
    # then
    assert bob_graphql["data"]["me"] == {"username": "bob", "usage": {"predictions": 0}}
    assert alice_graphql["data"]["me"] == {"username": "alice", "usage": {"predictions": 1}}
    assert (bob_rest["username"], bob_rest["usage"]["predictions"]) == ("bob", 0)


@pytest.fixture
def alices_invoice(alice_and_bob):
    (alice, _), _ = alice_and_bob
    invoice, _ = invoice_generate(user=alice, period=period_of(timezone.now()))
    return invoice


def test_another_users_invoice_is_invisible(client, gql, alice_and_bob, alices_invoice):
    # given
    (_, alice_token), (bob, bob_token) = alice_and_bob
    # when
    _, by_id = gql("query($id: ID!) { invoice(id: $id) { id total } }", {"id": str(alices_invoice.pk)}, token=bob_token)
    _, listed = gql("{ invoices { edges { node { id } } } }", token=bob_token)
    rest_detail = _rest(client, "get", f"/api/v1/invoices/{alices_invoice.pk}", token=bob_token)
    rest_list = _rest(client, "get", "/api/v1/invoices", token=bob_token)
    page = client.get(f"/billing/invoices/{alices_invoice.pk}/", HTTP_AUTHORIZATION=f"Bearer {bob_token}")
    own_page = client.get(f"/billing/invoices/{alices_invoice.pk}/", HTTP_AUTHORIZATION=f"Bearer {alice_token}")
    browser = Client()
    browser.force_login(bob)
    session_page = browser.get(f"/billing/invoices/{alices_invoice.pk}/")
    # then
    assert by_id["data"]["invoice"] is None
    assert listed["data"]["invoices"]["edges"] == []
    assert rest_detail.status_code == 404
    assert rest_list.json()["results"] == []
    assert page.status_code == 404
    assert session_page.status_code == 404
    assert own_page.status_code == 200


def test_printable_invoice_needs_a_login_or_the_billing_scope(client, make_user, issue_token, alices_invoice):
    # given
    read_only = issue_token(alices_invoice.user, scope="read predict")
    # when
    anonymous = client.get(f"/billing/invoices/{alices_invoice.pk}/")
    without_scope = client.get(f"/billing/invoices/{alices_invoice.pk}/", HTTP_AUTHORIZATION=f"Bearer {read_only}")
    # then
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")  # the customer login (LOGIN_URL)
    assert without_scope.status_code == 403


# --- Batch jobs -----------------------------------------------------------------------------------

BATCH_JOB = "query($id: ID!) { batchJob(id: $id) { id status } }"
CANCEL_JOB = "mutation($id: ID!) { cancelBatchJob(id: $id) { batchJob { id status } errors { code } } }"
RESUME_JOB = "mutation($id: ID!) { resumeBatchJob(id: $id) { batchJob { id status } errors { code } } }"
CREATE_JOB = (
    "\nmutation($input: CreateBatchJobInput!) { createBatchJob(input: $input) "
    "{ batchJob { id status } errors { field code } } }\n"
)
IRIS_CSV = "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n"


@_needs_batch
def test_another_users_batch_job_is_invisible_and_untouchable(client, gql, iris_model, alice_and_bob):
    # given: alice's job, run in-process
    (_, alice_token), (_, bob_token) = alice_and_bob
    _, created = gql(
        CREATE_JOB, {"input": {"modelName": "iris", "content": IRIS_CSV, "format": "csv"}}, token=alice_token
    )
    assert created["data"]["createBatchJob"]["errors"] == [], created
    job = created["data"]["createBatchJob"]["batchJob"]
    # when
    _, by_id = gql(BATCH_JOB, {"id": job["id"]}, token=bob_token)
    _, listed = gql("{ batchJobs { edges { node { id } } } }", token=bob_token)
    _, cancel = gql(CANCEL_JOB, {"id": job["id"]}, token=bob_token)
    _, resume = gql(RESUME_JOB, {"id": job["id"]}, token=bob_token)
    rest_detail = _rest(client, "get", f"/api/v1/batch-jobs/{job['id']}", token=bob_token)
    rest_results = _rest(client, "get", f"/api/v1/batch-jobs/{job['id']}/results", token=bob_token)
    rest_cancel = _rest(client, "post", f"/api/v1/batch-jobs/{job['id']}/cancel", token=bob_token)
    rest_list = _rest(client, "get", "/api/v1/batch-jobs", token=bob_token)
    _, after = gql(BATCH_JOB, {"id": job["id"]}, token=alice_token)
    # then
    assert by_id["data"]["batchJob"] is None
    assert listed["data"]["batchJobs"]["edges"] == []
    assert [e["code"] for e in cancel["data"]["cancelBatchJob"]["errors"]] == ["NOT_FOUND"]
    assert [e["code"] for e in resume["data"]["resumeBatchJob"]["errors"]] == ["NOT_FOUND"]
    assert (rest_detail.status_code, rest_results.status_code, rest_cancel.status_code) == (404, 404, 404)
    assert rest_list.json()["results"] == []
    assert after["data"]["batchJob"] == job


@_needs_batch
def test_another_users_upload_cannot_be_scored(client, gql, iris_model, alice_and_bob, stored_counts):
    # given: alice's stored upload
    from django.core.files.uploadedfile import SimpleUploadedFile

    (_, alice_token), (_, bob_token) = alice_and_bob
    uploaded = client.post(
        "/api/v1/batch-uploads",
        {"file": SimpleUploadedFile("rows.csv", IRIS_CSV.encode(), content_type="text/csv")},
        HTTP_AUTHORIZATION=f"Bearer {alice_token}",
    )
    assert uploaded.status_code == 201, uploaded.content
    upload_id = uploaded.json()["id"]
    before = stored_counts()
    # when
    _, graphql = gql(CREATE_JOB, {"input": {"modelName": "iris", "uploadId": upload_id}}, token=bob_token)
    rest = _rest(client, "post", "/api/v1/batch-jobs", {"model": "iris", "upload_id": upload_id}, token=bob_token)
    # then
    assert [e["code"] for e in graphql["data"]["createBatchJob"]["errors"]] == ["NOT_FOUND"]
    assert rest.status_code == 404
    assert _rest_codes(rest) == ["NOT_FOUND"]
    assert stored_counts() == before


# --- OAuth applications ---------------------------------------------------------------------------


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.fixture
def two_applications(make_user):
    """alice's and bob's client-credentials applications: ((alice, credentials), (bob, credentials))."""
    alice, bob = make_user("alice"), make_user("bob")
    return (alice, api_client_create(username=alice.username)), (bob, api_client_create(username=bob.username))


def test_application_management_needs_a_login(client, two_applications):
    # given
    (_, alices), _ = two_applications
    paths = ["/o/applications/", "/o/applications/register/", f"/o/applications/{alices.application.pk}/"]
    # when
    responses = [client.get(path) for path in paths]
    tokens = client.get("/o/authorized_tokens/")
    # then: registering applications is for staff (customers make keys on /keys/, within their tier's limit);
    # the list of third-party apps a customer has authorized is behind the customer login
    for path, response in zip(paths, responses, strict=True):
        assert response.status_code == 302, path
        assert response["Location"].startswith("/admin/login/"), path
    assert tokens.status_code == 302 and tokens["Location"].startswith("/accounts/login/")


def test_a_customer_cannot_register_applications_around_the_key_pages(two_applications):
    # given: a logged-in customer (not staff)
    (alice, _), _ = two_applications
    browser = Client()
    browser.force_login(alice)
    before = Application.objects.count()
    # when
    listing = browser.get("/o/applications/")
    register = browser.post(
        "/o/applications/register/",
        {"name": "unlimited", "client_type": "confidential", "authorization_grant_type": "client-credentials"},
    )
    # then
    assert (listing.status_code, register.status_code) == (302, 302)
    assert register["Location"].startswith("/admin/login/")
    assert Application.objects.count() == before


def test_another_users_application_pages_are_404(two_applications):
    # given
    (_, alices), (bob, bobs) = two_applications
    bob.is_staff = True  # the application pages are for staff; even so, only their own applications
    bob.save(update_fields=["is_staff"])
    browser = Client()
    browser.force_login(bob)
    pk = alices.application.pk
    # when
    detail = browser.get(f"/o/applications/{pk}/")
    update = browser.get(f"/o/applications/{pk}/update/")
    update_post = browser.post(f"/o/applications/{pk}/update/", {"name": "stolen", "redirect_uris": ""})
    delete = browser.post(f"/o/applications/{pk}/delete/")
    own = browser.get(f"/o/applications/{bobs.application.pk}/")
    listing = browser.get("/o/applications/")
    # then
    assert (detail.status_code, update.status_code, update_post.status_code, delete.status_code) == (404, 404, 404, 404)
    assert own.status_code == 200
    assert Application.objects.get(pk=pk).name == alices.application.name
    assert f"/o/applications/{pk}/" not in listing.content.decode()
    assert f"/o/applications/{bobs.application.pk}/" in listing.content.decode()


def test_a_client_id_with_another_applications_secret_gets_no_token(client, two_applications):
    # given
    (_, alices), (_, bobs) = two_applications
    # when
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "read"},
        HTTP_AUTHORIZATION=_basic(alices.client_id, bobs.client_secret),
    )
    # then
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_another_application_cannot_revoke_your_token(client, gql, two_applications):
    # given
    (_, alices), (_, bobs) = two_applications
    issued = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "read"},
        HTTP_AUTHORIZATION=_basic(alices.client_id, alices.client_secret),
    )
    alice_token = issued.json()["access_token"]
    # when
    client.post(
        "/o/revoke_token/", {"token": alice_token}, HTTP_AUTHORIZATION=_basic(bobs.client_id, bobs.client_secret)
    )
    # then
    status, body = gql("{ me { username } }", token=alice_token)
    assert body["data"]["me"]["username"] == "alice"
    assert AccessToken.objects.filter(application=alices.application).count() == 1


def test_anonymous_dynamic_client_registration_creates_nothing(client, db):
    # given
    before = Application.objects.count()
    # when
    response = client.post(
        "/o/register/",
        json.dumps({"client_name": "evil", "grant_types": ["client_credentials"]}),
        content_type="application/json",
    )
    # then
    assert response.status_code in (401, 403, 404)
    assert Application.objects.count() == before


# --- Admin ----------------------------------------------------------------------------------------


def _admin_paths() -> list[str]:
    paths = ["/admin/"]
    for model in admin.site._registry:
        meta = model._meta
        paths.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        paths.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_add"))
    return paths


def test_admin_redirects_anonymous_and_non_staff_and_bearer_tokens_to_login(make_user, staff_user, issue_token):
    # given: an anonymous browser, a logged-in non-staff user, and a staff user's bearer token without a session
    anonymous = Client()
    member = Client()
    member.force_login(make_user())
    staff_token = issue_token(staff_user)
    paths = _admin_paths()
    assert any("registeredmodel/add" in path for path in paths)
    # when
    responses = [
        (who, path, caller.get(path, **headers))
        for path in paths
        for who, caller, headers in (
            ("anonymous", anonymous, {}),
            ("non-staff", member, {}),
            ("bearer", Client(), {"HTTP_AUTHORIZATION": f"Bearer {staff_token}"}),
        )
    ]
    # then
    for who, path, response in responses:
        assert response.status_code == 302, (who, path)
        assert response["Location"].startswith("/admin/login/"), (who, path)


def test_non_staff_admin_upload_registers_nothing(make_user):
    # given
    from django.core.files.uploadedfile import SimpleUploadedFile

    member = Client()
    member.force_login(make_user())
    # when
    response = member.post(
        "/admin/predictions/registeredmodel/add/",
        {"name": "sneaky", "stage": "production", "artifact_upload": SimpleUploadedFile("m.joblib", iris_artifact())},
    )
    # then
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert not RegisteredModel.objects.filter(name="sneaky").exists()
