"""The stored rows' JSON (mlapi.compact_json) is json.dumps(value, separators=(",", ":")), byte for byte:
its length is what storage is billed by."""

import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mlapi.compact_json import compact_json, number_rows_encoder

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


NUMBERS = st.integers(min_value=-(10**300), max_value=10**300) | st.floats(allow_nan=False, allow_infinity=False)


@given(
    names=st.lists(st.text(max_size=6), min_size=1, max_size=5, unique=True),
    values=st.lists(st.lists(NUMBERS, min_size=5, max_size=5), min_size=1, max_size=4),
)
@example(names=['a"%s\\', "ü"], values=[[1e-05, -0.0, 3], [10**300, 5e-324, 2.5]])
@example(names=["only"], values=[[4.0], [7]])
def test_rows_of_numbers_encode_as_compact_json_does(names, values):
    # given: rows of exactly `names`, every value an int or a finite float
    rows = [dict(zip(names, row, strict=False)) for row in values]
    # when
    encoded = number_rows_encoder(names)(rows)
    # then
    assert encoded == [compact_json(row) for row in rows]
