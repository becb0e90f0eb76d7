"""schema_differences: which input-schema changes break clients of the old schema and which do not."""

import pytest

from predictions.registry.compatibility import DifferenceKind, breaking_differences, schema_differences


def _schema(*features: dict) -> dict:
    return {"features": list(features)}


def _num(name: str, **extra) -> dict:
    return {"name": name, "type": "number", **extra}


def _cat(name: str, allowed: list | None, **extra) -> dict:
    feature = {"name": name, "type": "string", **extra}
    if allowed is not None:
        feature["allowed"] = allowed
    return feature


def _kinds(old: dict, new: dict) -> list[tuple[str, str, bool]]:
    return [(d.feature, d.kind.value, d.breaking) for d in schema_differences(old=old, new=new)]


def test_identical_schemas_have_no_differences():
    schema = _schema(_num("age"), _cat("job", ["a", "b"], nullable=True, unknown="pass"))
    assert schema_differences(old=schema, new=schema) == []


def test_defaults_are_the_same_as_stating_them():
    # given: nullable defaults to false, unknown to refuse
    old = _schema(_num("age"), _cat("job", ["a"]))
    new = _schema(_num("age", nullable=False), _cat("job", ["a"], unknown="refuse"))
    # then
    assert schema_differences(old=old, new=new) == []


@pytest.mark.parametrize(
    "old, new, expected",
    [
        (
            _schema(_num("a"), _num("b")),
            _schema(_num("a")),
            [("b", "REMOVED", True)],
        ),
        (
            _schema(_num("a")),
            _schema(_cat("a", None)),
            [("a", "RETYPED", True)],
        ),
        (
            _schema(_cat("job", ["a", "b", "c"])),
            _schema(_cat("job", ["a", "c"])),
            [("job", "ALLOWED_NARROWED", True)],
        ),
        (
            _schema(_num("a", nullable=True)),
            _schema(_num("a")),
            [("a", "MADE_REQUIRED", True)],
        ),
        (
            _schema(_num("a")),
            _schema(_num("a"), _num("b")),
            [("b", "ADDED_REQUIRED", True)],
        ),
        (
            _schema(_cat("job", ["a"], unknown="pass")),
            _schema(_cat("job", ["a"])),
            [("job", "UNKNOWN_REFUSED", True)],
        ),
        (
            _schema(_num("a"), _num("b")),
            _schema(_num("b"), _num("a")),
            [("a", "MOVED", True), ("b", "MOVED", True)],
        ),
        (
            _schema(_cat("job", None)),
            _schema(_cat("job", ["a", "b"])),
            [("job", "ALLOWED_ADDED", True)],
        ),
    ],
    ids=["removed", "retyped", "narrowed", "made-required", "new-required", "pass-to-refuse", "reordered", "closed"],
)
def test_breaking_changes(old, new, expected):
    assert _kinds(old, new) == expected
    assert len(breaking_differences(old=old, new=new)) == len(expected)


@pytest.mark.parametrize(
    "old, new, expected",
    [
        (
            _schema(_num("a")),
            _schema(_num("a"), _num("b", nullable=True)),
            [("b", "ADDED_NULLABLE", False)],
        ),
        (
            _schema(_cat("job", ["a"])),
            _schema(_cat("job", ["a", "b"])),
            [("job", "ALLOWED_WIDENED", False)],
        ),
        (
            _schema(_num("a")),
            _schema(_num("a", nullable=True)),
            [("a", "MADE_NULLABLE", False)],
        ),
        (
            _schema(_cat("job", ["a"])),
            _schema(_cat("job", None)),
            [("job", "ALLOWED_REMOVED", False)],
        ),
        (
            _schema(_cat("job", ["a"])),
            _schema(_cat("job", ["a"], unknown="pass")),
            [("job", "UNKNOWN_PASSED", False)],
        ),
        (
            _schema({"name": "n", "type": "integer"}),
            _schema(_num("n")),
            [("n", "RETYPED", False)],
        ),
        (
            _schema(_cat("job", None)),
            _schema(_cat("job", ["a"], unknown="pass")),
            [("job", "ALLOWED_ADDED", False)],
        ),
    ],
    ids=[
        "new-nullable",
        "widened",
        "made-nullable",
        "free-values",
        "refuse-to-pass",
        "integer-to-number",
        "closed-but-passed",
    ],
)
def test_compatible_changes(old, new, expected):
    assert _kinds(old, new) == expected
    assert breaking_differences(old=old, new=new) == []


def test_number_to_integer_is_breaking():
    # 2.5 was a valid number; it is not an integer
    assert _kinds(_schema(_num("n")), _schema({"name": "n", "type": "integer"})) == [("n", "RETYPED", True)]


def test_narrowing_is_compatible_when_unknown_values_are_passed_on():
    # given: the new encoder takes values outside its list, so nothing a client sent is refused
    old = _schema(_cat("job", ["a", "b"], unknown="pass"))
    new = _schema(_cat("job", ["a"], unknown="pass"))
    # then
    assert _kinds(old, new) == [("job", "ALLOWED_NARROWED", False)]


def test_a_feature_inserted_before_others_moves_them():
    # given: positional clients send [a, b]; the new order is [a, extra, b]
    old = _schema(_num("a"), _num("b"))
    new = _schema(_num("a"), _num("extra", nullable=True), _num("b"))
    # then
    assert _kinds(old, new) == [("b", "MOVED", True), ("extra", "ADDED_NULLABLE", False)]


def test_one_feature_can_break_in_several_ways_at_once():
    old = _schema(_cat("job", ["a", "b"], nullable=True))
    new = _schema(_cat("job", ["a", "c"]))
    kinds = {d.kind for d in schema_differences(old=old, new=new)}
    assert kinds == {DifferenceKind.MADE_REQUIRED, DifferenceKind.ALLOWED_NARROWED, DifferenceKind.ALLOWED_WIDENED}
    assert {d.kind for d in breaking_differences(old=old, new=new)} == {
        DifferenceKind.MADE_REQUIRED,
        DifferenceKind.ALLOWED_NARROWED,
    }


def test_every_difference_names_its_feature_and_says_what_changed():
    differences = schema_differences(old=_schema(_num("a"), _num("b")), new=_schema(_num("c")))
    assert [(d.feature, d.kind.value) for d in differences] == [
        ("a", "REMOVED"),
        ("b", "REMOVED"),
        ("c", "ADDED_REQUIRED"),
    ]
    assert all(d.message and d.feature in d.message for d in differences)
