"""Fuzzing instance validation: arbitrary JSON never crashes `instances_validate` (only known codes come back),
valid instances pass, and through GraphQL and REST arbitrary input never gives a 500 and a refusal stores nothing.

Over HTTP, floats stay moderate: finite floats so large that the model's output turns NaN are pinned by the
explicit test at the end of this file."""

import json
import math

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from predictions.error_codes import PredictionErrorCode
from predictions.registry.schema import MAX_REPORTED_ERRORS, instances_validate
from tests.conftest import IRIS_SETOSA

SCHEMA = {
    "features": [
        {"name": "amount", "type": "number"},
        {"name": "count", "type": "integer"},
        {"name": "job", "type": "string", "allowed": ["admin", "student", ""]},
        {"name": "note", "type": "string"},
        {"name": "flag", "type": "boolean"},
        {"name": "level", "type": "integer", "allowed": [1, 2, 3]},
        {"name": "ratio", "type": "number", "allowed": [0.5, 1, 2.5]},
    ]
}
NAMES = [f["name"] for f in SCHEMA["features"]]
INSTANCE_CODES = {
    PredictionErrorCode.REQUIRED.value,
    PredictionErrorCode.INVALID_TYPE.value,
    PredictionErrorCode.INVALID_CHOICE.value,
    PredictionErrorCode.UNKNOWN_FIELD.value,
}

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
HTTP_FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)


def json_values(*, numbers: st.SearchStrategy, keys: list[str]) -> st.SearchStrategy:
    scalars = st.none() | st.booleans() | numbers | st.text(max_size=12)
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=5)
            | st.dictionaries(st.sampled_from(keys) | st.text(max_size=8), children, max_size=len(keys) + 2)
        ),
        max_leaves=24,
    )


# JSON integers have no size limit: small ones, and ones far beyond float range.
ANY_INTEGER = st.integers() | st.integers(min_value=-(10**400), max_value=10**400)
# Any JSON number Python's parser yields, the non-finite ones included.
ANY_NUMBER = ANY_INTEGER | st.floats(allow_nan=True, allow_infinity=True)
# Over HTTP: numbers a model can score without overflowing, and the ones beyond float range it must refuse.
BEYOND_FLOAT = st.integers(min_value=2**1024, max_value=10**400) | st.integers(
    min_value=-(10**400), max_value=-(2**1024)
)
MODERATE_NUMBER = (
    st.integers(min_value=-(2**53), max_value=2**53)
    | BEYOND_FLOAT
    | st.floats(min_value=-1e12, max_value=1e12)
    | st.sampled_from([math.nan, math.inf, -math.inf])
)


def _valid_value(feature: dict) -> st.SearchStrategy:
    if "allowed" in feature:
        return st.sampled_from(feature["allowed"])
    return {
        "number": st.integers(min_value=-(2**1023), max_value=2**1023)
        | st.floats(allow_nan=False, allow_infinity=False),
        "integer": st.integers(min_value=-(2**1023), max_value=2**1023)
        | st.integers(min_value=-(2**52), max_value=2**52).map(float),
        "string": st.text(max_size=20),
        "boolean": st.booleans(),
    }[feature["type"]]


def valid_instances(schema: dict) -> st.SearchStrategy:
    return st.fixed_dictionaries({f["name"]: _valid_value(f) for f in schema["features"]})


def _check_errors(errors, *, path: str) -> None:
    assert isinstance(errors, list)
    assert len(errors) <= MAX_REPORTED_ERRORS
    for error in errors:
        assert error.code in INSTANCE_CODES
        assert isinstance(error.field, str) and error.field.startswith(path)
        assert len(error.field) <= 200
        assert isinstance(error.message, str)


# --- The validator alone --------------------------------------------------------------------------


@FUZZ
@given(value=json_values(numbers=ANY_NUMBER, keys=NAMES))
@example(value={"amount": math.nan, "count": 1.5, "job": "pilot", "note": 3, "flag": 1, "level": True, "ratio": "2.5"})
@example(value={name: None for name in NAMES})
@example(value=[])
def test_any_json_as_features_gives_only_known_codes(value):
    # when
    errors = instances_validate(schema=SCHEMA, instances=[value], path="features")
    # then
    _check_errors(errors, path="features")
    if not errors:  # an object with every feature, or a positional array of as many values
        assert (isinstance(value, dict) and set(value) == set(NAMES)) or (
            isinstance(value, list) and len(value) == len(NAMES)
        )


@FUZZ
@given(instances=st.lists(json_values(numbers=ANY_NUMBER, keys=NAMES), min_size=1, max_size=30))
@example(instances=[1] * 60)  # instances that are not objects count towards the cap too (51 once slipped past it)
@example(instances=[{}] * 7 + ["x"] * 10)
def test_any_json_as_instances_gives_only_known_codes(instances):
    # when
    errors = instances_validate(schema=SCHEMA, instances=instances, path="instances")
    # then
    _check_errors(errors, path="instances.")
    if not errors:
        assert all(
            (isinstance(i, dict) and set(i) == set(NAMES)) or (isinstance(i, list) and len(i) == len(NAMES))
            for i in instances
        )


@FUZZ
@given(instances=st.lists(valid_instances(SCHEMA), min_size=1, max_size=20))
def test_valid_instances_give_no_errors(instances):
    assert instances_validate(schema=SCHEMA, instances=instances, path="instances") == []


@FUZZ
@given(instance=valid_instances(SCHEMA), name=st.sampled_from(NAMES))
def test_removing_any_feature_from_a_valid_instance_makes_it_required(instance, name):
    # given
    del instance[name]
    # when
    errors = instances_validate(schema=SCHEMA, instances=[instance], path="features")
    # then
    assert [(e.field, e.code) for e in errors] == [(f"features.{name}", "REQUIRED")]


# --- Through the HTTP stack -----------------------------------------------------------------------

CREATE = """
mutation Create($input: CreatePredictionInput!) {
  createPrediction(input: $input) { prediction { id output } predictions { id } errors { field code } }
}
"""
IRIS_NAMES = list(IRIS_SETOSA)
IRIS_LIKE = st.fixed_dictionaries(
    {}, optional={name: st.none() | st.booleans() | MODERATE_NUMBER | st.text(max_size=4) for name in IRIS_NAMES}
)
HTTP_FEATURES = (
    json_values(numbers=MODERATE_NUMBER, keys=IRIS_NAMES)
    | IRIS_LIKE
    | valid_instances({"features": [{"name": n, "type": "number"} for n in IRIS_NAMES]}).map(
        lambda i: {k: (v if abs(v) < 1e12 else 1.0) for k, v in i.items()}
    )
)
KNOWN_CODES = {code.value for code in PredictionErrorCode}


@pytest.fixture
def iris_token(make_user, issue_token, iris_model):
    return issue_token(make_user())


@HTTP_FUZZ
@given(features=HTTP_FEATURES)
def test_graphql_any_features_never_crash_and_refusals_store_nothing(gql, iris_token, stored_counts, features):
    # given
    before = stored_counts()
    # when
    status, body = gql(CREATE, {"input": {"modelName": "iris", "features": features}}, token=iris_token)
    # then
    assert status == 200, body
    assert "errors" not in body, body
    payload = body["data"]["createPrediction"]
    codes = {e["code"] for e in payload["errors"]}
    assert codes <= KNOWN_CODES
    if payload["errors"]:
        assert payload["prediction"] is None
        assert stored_counts() == before
    else:
        assert stored_counts() == (before[0] + 1, before[1] + 1)


@HTTP_FUZZ
@given(
    instances=json_values(numbers=MODERATE_NUMBER, keys=IRIS_NAMES) | st.lists(HTTP_FEATURES, min_size=1, max_size=4)
)
def test_rest_any_instances_never_crash_and_refusals_store_nothing(client, iris_token, stored_counts, instances):
    # given
    client.raise_request_exception = False
    before = stored_counts()
    # when
    response = client.post(
        "/api/v1/models/iris/predict",
        json.dumps({"instances": instances}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {iris_token}",
    )
    # then
    assert response.status_code in (201, 400), response.content
    assert b"Traceback" not in response.content
    if response.status_code == 400:
        # DRF's parser is strict JSON: NaN and Infinity are MALFORMED_JSON before validation
        assert {e["code"] for e in response.json()["errors"]} <= KNOWN_CODES | {"MALFORMED_JSON"}
        assert stored_counts() == before
    else:
        assert stored_counts() == (before[0] + len(instances), before[1] + 1)


# --- Numbers at the edges -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [10**400, -(10**400)], ids=["huge", "huge-negative"])
@pytest.mark.parametrize("name", ["amount", "count"], ids=["number", "integer"])
def test_validator_refuses_integers_beyond_float_range_without_raising(name, value):
    # when
    errors = instances_validate(schema=SCHEMA, instances=[{**_a_valid_instance(), name: value}], path="features")
    # then
    assert [(e.field, e.code) for e in errors] == [(f"features.{name}", "INVALID_TYPE")]


def _a_valid_instance() -> dict:
    return {"amount": 1.5, "count": 2, "job": "admin", "note": "", "flag": False, "level": 1, "ratio": 0.5}


def test_integers_beyond_float_range_are_user_errors_over_http(client, gql, iris_token, stored_counts):
    # given
    client.raise_request_exception = False
    features = {**IRIS_SETOSA, "sepal_length": 10**400}
    before = stored_counts()
    # when
    _, body = gql(CREATE, {"input": {"modelName": "iris", "features": features}}, token=iris_token)
    rest = client.post(
        "/api/v1/models/iris/predict",
        json.dumps({"features": features}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {iris_token}",
    )
    # then
    assert "errors" not in body
    assert [(e["field"], e["code"]) for e in body["data"]["createPrediction"]["errors"]] == [
        ("features.sepal_length", "INVALID_TYPE")
    ]
    assert rest.status_code == 400
    assert stored_counts() == before


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_extreme_finite_floats_never_crash(client, gql, iris_token, stored_counts):
    # given: valid numbers by the schema, but their products overflow inside the model
    client.raise_request_exception = False
    features = {**IRIS_SETOSA, "sepal_length": 1.7976931348623157e308, "petal_length": -1.7976931348623157e308}
    before = stored_counts()
    # when
    _, body = gql(CREATE, {"input": {"modelName": "iris", "features": features}}, token=iris_token)
    rest = client.post(
        "/api/v1/models/iris/predict",
        json.dumps({"features": features}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {iris_token}",
    )
    # then: either a user error that stores nothing, or a stored prediction with a JSON-valid output
    assert "errors" not in body
    assert rest.status_code in (201, 400)
    payload = body["data"]["createPrediction"]
    refused = [bool(payload["errors"]), rest.status_code == 400]
    assert stored_counts() == (before[0] + refused.count(False), before[1] + refused.count(False))


FEATURE_KINDS = [
    {"name": "f", "type": feature_type, **extra}
    for feature_type in ("number", "integer", "string", "boolean")
    for extra in (
        {},
        {"nullable": True},
        {"allowed": ["admin", "", 1, 2, 0.5, True]},
        {"allowed": ["admin", 1, None, float("nan")], "nullable": True, "unknown": "pass"},
    )
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**999, max_value=2**1100),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.5, 1.0, 2.0, 1, 2, "admin", "", "student", True, False]),
    st.text(max_size=5),
)


@FUZZ
@given(feature=st.sampled_from(FEATURE_KINDS), value=st.one_of(SCALARS, st.lists(SCALARS, max_size=2)))
@example(feature=FEATURE_KINDS[0], value=float("inf"))
@example(feature=FEATURE_KINDS[0], value=float("nan"))
@example(feature=FEATURE_KINDS[4], value=2**1024)
@example(feature=FEATURE_KINDS[4], value=True)
@example(feature=FEATURE_KINDS[10], value="student")
@example(feature=FEATURE_KINDS[11], value="student")
def test_the_quick_check_only_passes_values_the_full_check_finds_no_problem_with(feature, value):
    from predictions.registry.schema import _feature_problem, plainly_valid

    # when
    warnings = []
    quick = plainly_valid(feature)(value)
    full = _feature_problem(feature, value, "instances.0.f", warnings)
    # then: the quick path never accepts what the full check refuses or warns about
    if quick:
        assert full is None and warnings == []
