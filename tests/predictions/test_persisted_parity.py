"""The express lane answers persisted createPrediction documents exactly as graphene does.

Every case runs twice on the same database state (each run inside a savepoint that is rolled back): once as a
plain GraphQL request with the express lane switched off (graphene), once as a persisted document with it on.
The answers must match: status code, the headers a client reads, the JSON (key order included; only values that
differ between any two calls, such as new ids, timings and the CPU-priced amount, are masked) and the rows stored.
Each case also says which lane answered it, so a silently disabled express lane fails the test too.
"""

import json
import re
from pathlib import Path

import pytest
from django.db import transaction
from django.test import override_settings

from billing.models import PricingTier, UsageRecord
from mlapi.graphql_core import express
from mlapi.graphql_core.persisted import document_sha256, trusted_documents
from mlapi.schema import schema
from predictions.models import Prediction
from tests.conftest import BANK_CLIENT, IRIS_SETOSA
from tests.parity import masked, raw_masked, same_second

README = Path(__file__).resolve().parents[2] / "README.md"
CREATE = next(body for body in trusted_documents().values() if body.startswith("mutation CreatePrediction("))
BENCH = next(
    body for body in trusted_documents().values() if body.startswith("mutation($f") and "errors { code }" in body
)
# Values that differ between any two calls whatever the path: new ids, clocks, measured CPU (and its price).
VOLATILE = {"id", "createdAt", "latencyMs", "cpuSeconds", "amount"}
HEADERS = ("Content-Type", "Retry-After", "WWW-Authenticate", "Allow")
IRIS_VARIABLES = {"f": IRIS_SETOSA}


def readme_documents() -> list[dict]:
    """Every GraphQL request body of the README (`gql '<json>'`); a persisted one (its hash only) as its text."""
    bodies = [
        json.loads(body) for body in re.findall(r"^gql '(.*?)'\s*$", README.read_text(), re.DOTALL | re.MULTILINE)
    ]
    for body in bodies:
        if "query" not in body:
            body["query"] = trusted_documents()[body.pop("extensions")["persistedQuery"]["sha256Hash"]]
    return bodies


@pytest.fixture
def lanes(monkeypatch):
    """Records which lane answered each request: 'express', or 'graphene' when a plan handed it back."""
    answered = []
    original = express.ExpressPlan.execute

    def spy(self, **kwargs):
        result = original(self, **kwargs)
        answered.append("express" if result is not None else "graphene")
        return result

    monkeypatch.setattr(express.ExpressPlan, "execute", spy)
    return answered


@pytest.fixture
def post(client):
    def call(body, *, token=None, **headers):
        if token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return client.post("/graphql/", json.dumps(body), content_type="application/json", **headers)

    return call


@pytest.fixture
def both(post, lanes):
    """Runs `body` through graphene (plain, express off) and as a persisted document (express on); returns
    (graphene answer, express answer, lane that answered the persisted request)."""

    def run(body, *, token=None, persisted=None, **headers):
        persisted = persisted if persisted is not None else _persisted(body)
        answers = []
        for express_on, request_body in ((False, body), (True, persisted)):
            lanes.clear()
            with override_settings(GRAPHQL_EXPRESS_ENABLED=express_on), transaction.atomic():
                before = (Prediction.objects.count(), UsageRecord.objects.count())
                response = post(request_body, token=token, **headers)
                stored = (Prediction.objects.count() - before[0], UsageRecord.objects.count() - before[1])
                transaction.set_rollback(True)
            answers.append(_answer(response, stored))
        lane = lanes[-1] if lanes else "graphene"
        return answers[0], answers[1], lane

    return run


def _persisted(body: dict) -> dict:
    """The hash alone for a trusted document, else the query with its hash."""
    query = body["query"]
    extension = {"persistedQuery": {"version": 1, "sha256Hash": document_sha256(query)}}
    rest = {key: value for key, value in body.items() if key != "query"}
    if document_sha256(query) in trusted_documents():
        return {**rest, "extensions": extension}
    return {**body, "extensions": extension}


def _answer(response, stored) -> dict:
    return {
        "status": response.status_code,
        "headers": {name: response.get(name) for name in HEADERS},
        "cookies": sorted(response.cookies.keys()),
        "body": json.dumps(masked(json.loads(response.content), VOLATILE)),
        "raw": raw_masked(response.content, VOLATILE),
        "stored": stored,
    }


@pytest.fixture
def caller(make_user, issue_token, iris_model, bank_model):
    return issue_token(make_user("parity"))


def test_every_readme_document_answers_alike(caller, both):
    # given: the README's documents, with the models they name
    documents = readme_documents()
    assert len(documents) >= 5 and sum("createPrediction" in d["query"] for d in documents) >= 2
    for body in documents:
        # when
        graphene, express_answer, lane = both(body, token=caller)
        # then
        assert express_answer == graphene, body["query"]
        assert graphene["status"] == 200
        assert lane == ("express" if "createPrediction" in body["query"] else "graphene")


def test_readme_create_prediction_documents_are_trusted():
    readme = {document_sha256(d["query"]) for d in readme_documents() if "createPrediction" in d["query"]}
    assert readme <= set(trusted_documents())


CASES = {
    "iris single": {"modelName": "iris", "features": IRIS_SETOSA},
    "iris by version": {"modelName": "iris", "modelVersion": 1, "features": IRIS_SETOSA},
    "iris as array": {"modelName": "iris", "features": [5.1, 3.5, 1.4, 0.2]},
    "bank batch with a warning": {
        "modelName": "bank-marketing",
        "instances": [BANK_CLIENT, {**BANK_CLIENT, "job": "astronaut"}],
    },
    "missing feature": {"modelName": "iris", "features": {k: v for k, v in IRIS_SETOSA.items() if k != "petal_width"}},
    "wrong type and unknown field": {
        "modelName": "iris",
        "features": {**IRIS_SETOSA, "sepal_length": "long", "colour": 1},
    },
    "unknown model": {"modelName": "no-such-model", "features": IRIS_SETOSA},
    "unknown version": {"modelName": "iris", "modelVersion": 99, "features": IRIS_SETOSA},
    "no model": {"features": IRIS_SETOSA},
    "features and instances": {"modelName": "iris", "features": IRIS_SETOSA, "instances": [IRIS_SETOSA]},
    "empty instances": {"modelName": "iris", "instances": []},
    "too many instances": {"modelName": "iris", "instances": [IRIS_SETOSA] * 1001},
    "idempotency key too long": {"modelName": "iris", "features": IRIS_SETOSA, "idempotencyKey": "k" * 201},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_input_case_answers_alike_through_the_express_lane(case, caller, both):
    graphene, express_answer, lane = both({"query": CREATE, "variables": {"input": CASES[case]}}, token=caller)
    assert express_answer == graphene
    assert lane == "express"


MALFORMED_VARIABLES = {
    "input missing": {},
    "input not an object": {"input": "iris"},
    "version not an int": {"input": {"modelName": "iris", "modelVersion": "one", "features": IRIS_SETOSA}},
    "unknown input field": {"input": {"modelName": "iris", "features": IRIS_SETOSA, "colour": "red"}},
}


@pytest.mark.parametrize("case", sorted(MALFORMED_VARIABLES))
def test_malformed_variables_are_answered_by_graphene_alike(case, caller, both):
    graphene, express_answer, lane = both({"query": CREATE, "variables": MALFORMED_VARIABLES[case]}, token=caller)
    assert express_answer == graphene
    assert graphene["status"] == 400 and json.loads(graphene["body"])["errors"]
    assert lane == "graphene"  # the plan handed it back before anything ran


def test_variables_that_are_not_an_object_answer_alike(caller, both):
    graphene, express_answer, _ = both({"query": CREATE, "variables": ["iris"]}, token=caller)
    assert express_answer == graphene
    assert json.loads(graphene["body"])["errors"][0]["message"] == "Variables must be a JSON object."


def test_quota_exceeded_answers_alike(make_user, issue_token, iris_model, both):
    # given: a tier whose monthly quota is used up
    tier = PricingTier.objects.create(
        name="tiny",
        monthly_fee=0,
        included_predictions=0,
        price_per_prediction="0.001",
        price_per_cpu_second="0",
        price_per_mb="0",
        monthly_quota=0,
        rate_limit_per_minute=None,
    )
    token = issue_token(make_user("quota", tier=tier))
    # when
    graphene, express_answer, lane = both({"query": BENCH, "variables": IRIS_VARIABLES}, token=token)
    # then
    same_second(graphene, express_answer)
    assert express_answer == graphene and lane == "express"
    assert "QUOTA_EXCEEDED" in graphene["body"] and graphene["stored"] == (0, 0)


def test_rate_limited_answers_alike(make_user, issue_token, iris_model, post, both):
    # given: a limit of one call a minute, already spent
    tier = PricingTier.objects.create(
        name="slow",
        monthly_fee=0,
        included_predictions=0,
        price_per_prediction="0.001",
        price_per_cpu_second="0",
        price_per_mb="0",
        monthly_quota=None,
        rate_limit_per_minute=1,
    )
    token = issue_token(make_user("slow", tier=tier))
    assert post({"query": BENCH, "variables": IRIS_VARIABLES}, token=token).status_code == 200
    # when
    graphene, express_answer, lane = both({"query": BENCH, "variables": IRIS_VARIABLES}, token=token)
    # then
    same_second(graphene, express_answer)
    assert express_answer == graphene and lane == "express"
    assert "RATE_LIMITED" in graphene["body"]


def test_missing_scope_answers_alike(make_user, issue_token, iris_model, both):
    token = issue_token(make_user("reader"), scope="read")
    graphene, express_answer, lane = both({"query": BENCH, "variables": IRIS_VARIABLES}, token=token)
    assert express_answer == graphene and lane == "express"
    assert json.loads(graphene["body"])["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize("authorization", ["Bearer not-a-token", "Bearer two words", None])
def test_bad_or_no_token_answers_alike(iris_model, both, authorization):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    graphene, express_answer, _ = both({"query": BENCH, "variables": IRIS_VARIABLES}, **headers)
    assert express_answer == graphene
    assert graphene["status"] in (200, 401)


def test_idempotency_replay_and_conflict_answer_alike(caller, post, both):
    # given: a committed call with a key
    first = {"modelName": "iris", "features": IRIS_SETOSA, "idempotencyKey": "order-7"}
    assert post({"query": CREATE, "variables": {"input": first}}, token=caller).status_code == 200
    # when: the same call again, and another call with the same key
    replay = both({"query": CREATE, "variables": {"input": first}}, token=caller)
    conflict = both({"query": CREATE, "variables": {"input": {**first, "features": [6, 3, 4, 1]}}}, token=caller)
    # then
    for graphene, express_answer, lane in (replay, conflict):
        assert express_answer == graphene and lane == "express"
    assert json.loads(replay[0]["body"])["data"]["createPrediction"]["replayed"] is True
    assert replay[0]["stored"] == (0, 0)
    assert "IDEMPOTENCY_CONFLICT" in conflict[0]["body"]


def _payload_type() -> str:
    return schema.graphql_schema.mutation_type.fields["createPrediction"].type.name


@override_settings(GRAPHQL_PERSISTED_DOCUMENTS="apq")
def test_aliases_fragments_and_typename_registered_by_apq_answer_alike(caller, post, both):
    # given: a document the allow-list does not hold, registered the APQ way
    query = (
        'mutation Aliased($f: GenericScalar!) { made: createPrediction(input: {modelName: "iris", features: $f}) '
        "{ __typename ...Parts prediction { label: output model { name } } } }"
        f" fragment Parts on {_payload_type()} {{ cost {{ predictions storedBytes currency }} "
        f"errors {{ code }} replayed }}"
    )
    body = {"query": query, "variables": IRIS_VARIABLES}
    sha256 = document_sha256(query)
    hash_only = {"variables": IRIS_VARIABLES, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256}}}
    assert _code(post(hash_only, token=caller)) == "PERSISTED_QUERY_NOT_FOUND"
    assert post({**body, **hash_only}, token=caller).status_code == 200  # registers it
    # when
    graphene, express_answer, lane = both(body, token=caller, persisted=hash_only)
    # then
    assert express_answer == graphene and lane == "express"
    assert json.loads(graphene["body"])["data"]["made"]["__typename"] == _payload_type()


@override_settings(GRAPHQL_PERSISTED_DOCUMENTS="apq")
def test_directives_are_left_to_graphene(caller, both):
    query = (
        'mutation($f: GenericScalar!, $more: Boolean!) { createPrediction(input: {modelName: "iris", features: $f}) '
        "{ prediction { output } cost @include(if: $more) { predictions } errors { code } } }"
    )
    graphene, express_answer, lane = both(
        {"query": query, "variables": {**IRIS_VARIABLES, "more": False}}, token=caller
    )
    assert express_answer == graphene
    assert lane == "graphene" and "cost" not in graphene["body"]


def _code(response) -> str:
    return json.loads(response.content)["errors"][0]["extensions"]["code"]


def test_unknown_hash_is_not_found_and_a_wrong_hash_is_refused(caller, post):
    unknown = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}}
    mismatch = {
        "query": BENCH,
        "variables": IRIS_VARIABLES,
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "1" * 64}},
    }
    invalid = {"query": BENCH, "extensions": {"persistedQuery": {"version": 2, "sha256Hash": document_sha256(BENCH)}}}
    for body, code in (
        (unknown, "PERSISTED_QUERY_NOT_FOUND"),
        (mismatch, "PERSISTED_QUERY_HASH_MISMATCH"),
        (invalid, "PERSISTED_QUERY_INVALID"),
    ):
        response = post(body, token=caller)
        assert (response.status_code, _code(response)) == (400, code)
    assert Prediction.objects.count() == 0


def test_trusted_mode_does_not_register_documents(caller, post):
    # given: the production mode; a document off the allow-list sent with its hash
    query = BENCH.replace("errors { code }", "errors { code field }")
    extension = {"persistedQuery": {"version": 1, "sha256Hash": document_sha256(query)}}
    # when: it runs as an ordinary request, then the hash alone is sent
    assert post({"query": query, "variables": IRIS_VARIABLES, "extensions": extension}, token=caller).status_code == 200
    response = post({"variables": IRIS_VARIABLES, "extensions": extension}, token=caller)
    # then
    assert (response.status_code, _code(response)) == (400, "PERSISTED_QUERY_NOT_FOUND")


@override_settings(GRAPHQL_PERSISTED_DOCUMENTS="off")
def test_persisted_documents_can_be_switched_off(caller, post):
    response = post(
        {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": document_sha256(BENCH)}}}, token=caller
    )
    assert (response.status_code, _code(response)) == (400, "PERSISTED_QUERY_NOT_SUPPORTED")


def test_trusted_manifest_ids_are_the_documents_hashes():
    manifest = json.loads((Path(express.__file__).parent / "trusted_documents.json").read_text())
    assert manifest["operations"]
    for operation in manifest["operations"]:
        assert operation["id"] == document_sha256(operation["body"])


def test_leaf_fields_read_straight_from_their_source_give_what_their_resolvers_give(caller, post):
    # given: the express plan of the batch document (the many-row case the direct reads are for)
    from graphql import get_operation_ast, parse

    query = next(body for body in trusted_documents().values() if "instances: $rows" in body)
    document = parse(query)
    plan = express.express_plan_build(
        schema=schema.graphql_schema, document=document, operation=get_operation_ast(document, None)
    )
    assert plan is not None
    prediction_fields = _planned_fields(plan.root_field)
    read_directly = {(f.parent_type.name, f.key) for f in prediction_fields if f.read is not None}
    # the per-row fields are read directly; object-typed ones still get a full GraphQLResolveInfo
    assert ("Prediction", "id") in read_directly and ("Prediction", "output") in read_directly
    assert not any(
        f.read is not None
        for f in prediction_fields
        if f.parent_type.name == "CreatePredictionPayload" and f.key in ("predictions", "cost")
    )
    # when: a stored prediction, read both ways
    post({"query": BENCH, "variables": IRIS_VARIABLES}, token=caller)
    stored = Prediction.objects.select_related("model").latest("created_at")
    for field in prediction_fields:
        if field.read is None or field.parent_type.name != "Prediction":
            continue
        # then
        assert field.read(stored) == field.resolve(stored, None), field.key


def _planned_fields(field, found=None):
    """Every field plan under `field` (the completers keep their sub-plans in closures)."""
    found = [] if found is None else found
    found.append(field)
    for cell in _closure_cells(field.complete):
        if isinstance(cell, tuple) and cell and all(isinstance(item, express._FieldPlan) for item in cell):
            for sub in cell:
                _planned_fields(sub, found)
    return found


def _closure_cells(function, seen=None):
    seen = set() if seen is None else seen
    if id(function) in seen or not callable(function):
        return []
    seen.add(id(function))
    cells = []
    for cell in getattr(function, "__closure__", None) or ():
        value = cell.cell_contents
        cells.append(value)
        if callable(value):
            cells.extend(_closure_cells(value, seen))
    return cells
