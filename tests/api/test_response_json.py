"""GraphQL response bodies (mlapi.graphql_core.view.response_json): compact JSON that parses back to the
result, whatever it holds; what orjson cannot encode is encoded by json.dumps as before."""

import json

from hypothesis import example, given
from hypothesis import strategies as st

from mlapi.graphql_core.view import response_json

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@given(JSON_VALUES)
@example({"data": {"big": 2**70, "small": -(2**64), "text": "ünïcødé ☃ </script>", "tiny": 1.8532269948898e-07}})
@example({"probabilities": {"setosa": 0.9768556495240629, "virginica": 1e-300}})
def test_the_body_parses_back_to_the_result(value):
    body = response_json(value)
    assert isinstance(body, bytes)
    assert json.loads(body) == value


def test_integers_past_64_bits_and_non_string_keys_are_encoded_as_json_dumps_encodes_them():
    for value in ({"n": 2**64}, {1: "one"}):
        assert response_json(value) == json.dumps(value, separators=(",", ":")).encode()
