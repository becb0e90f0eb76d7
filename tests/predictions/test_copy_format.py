"""COPY's text format (mlapi.bulk): what a call of many rows is stored with on PostgreSQL. Every value must
come back from the table exactly as it went in, whatever characters it holds."""

import pytest
from django.db import connection
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mlapi.bulk import copy_text, json_copy_text, rows_copy

# COPY's text format escapes these four (PostgreSQL docs, COPY, "Text Format"); NULL is \N.
SPEC = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


@given(st.text())
@example("tab\there")
@example("a\\b")
@example("line\nbreak\r\n")
@example("\\N")
def test_copy_text_escapes_exactly_the_four_special_characters(text):
    assert copy_text(text) == "".join(SPEC.get(character, character) for character in text)


def test_copy_text_of_none_dates_and_numbers():
    from datetime import UTC, date, datetime

    assert copy_text(None) == "\\N"
    assert copy_text(date(2026, 12, 1)) == "2026-12-01"
    assert copy_text(datetime(2026, 12, 1, 17, 0, tzinfo=UTC)) == "2026-12-01T17:00:00+00:00"
    assert copy_text(12) == "12"


# Text PostgreSQL can store: no NUL, no lone surrogate (callers refuse both before anything is copied).
@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00")), min_size=1, max_size=8))
@example(["tab\there", "a\\b", "line\nbreak\r\n", "\\N", "\\.", ""])
def test_values_copied_into_a_table_read_back_unchanged(values):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE copy_probe (position integer, value text, nothing text)")
        try:
            rows_copy(
                table="copy_probe",
                columns=["position", "value", "nothing"],
                rows=[(i, v) for i, v in enumerate(values)],
                suffix=(None,),
            )
            cursor.execute("SELECT value, nothing FROM copy_probe ORDER BY position")
            assert cursor.fetchall() == [(value, None) for value in values]
        finally:
            cursor.execute("DROP TABLE copy_probe")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@given(JSON_VALUES)
@example({"s": 'tab\there \\ "quoted" \n\r\x7f ünï ☃'})
def test_compact_json_needs_only_its_backslashes_escaped_for_copy(value):
    from mlapi.compact_json import compact_json

    text = compact_json(value)
    assert json_copy_text(text) == copy_text(text)
