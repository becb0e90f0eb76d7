"""The stored rows' JSON (mlapi.compact_json) is json.dumps(value, separators=(",", ":")), byte for byte:
its length is what storage is billed by."""

import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mlapi.compact_json import compact_json

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@given(JSON_VALUES)
@example({"label": "setosa", "probabilities": {"setosa": 0.9768556495240629, "virginica": 1.8532269948898e-07}})
@example({"job": 'ünïcødé ☃ \t\n\\"', "age": 41, "missing": None, "flag": True})
@example([float("nan"), float("inf"), -0.0, 1e300])
@example("a lone string")
def test_compact_json_is_json_dumps_with_compact_separators(value):
    assert compact_json(value) == json.dumps(value, separators=(",", ":"))


def test_what_json_cannot_encode_is_refused_as_json_refuses_it():
    with pytest.raises(TypeError, match="not JSON serializable"):
        compact_json({"when": object()})
