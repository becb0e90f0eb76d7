import io

import pytest

from batch.files import chunk_rows_read, file_format_detect, file_scan
from mlapi.errors import ApplicationError

FEATURES = [
    {"name": "n", "type": "number"},
    {"name": "i", "type": "integer"},
    {"name": "b", "type": "boolean"},
    {"name": "s", "type": "string"},
]
NAMES = [f["name"] for f in FEATURES]


def _read_all(data: bytes, file_format: str, chunk_rows: int = 2):
    scan = file_scan(stream=io.BytesIO(data), file_format=file_format, feature_names=NAMES, chunk_rows=chunk_rows, max_rows=100)
    rows = []
    for span in scan.chunks:
        rows += chunk_rows_read(
            stream=io.BytesIO(data),
            start_offset=span.start_offset,
            end_offset=span.end_offset,
            file_format=file_format,
            columns=scan.columns,
            features=FEATURES,
            first_row=span.first_row,
            first_line=span.first_line,
        )
    return scan, rows


def test_csv_values_are_converted_to_the_schema_types():
    data = b"n,i,b,s\n1.5,2,true,x\n-3,4.0,No,\n1e3,7,1, spaced \n"

    _, rows = _read_all(data, "csv")

    assert [r.values for r in rows] == [
        {"n": 1.5, "i": 2, "b": True, "s": "x"},
        {"n": -3.0, "i": 4, "b": False},  # an empty cell is a missing value
        {"n": 1000.0, "i": 7, "b": True, "s": " spaced "},
    ]
    assert all(r.errors == [] for r in rows)
    assert isinstance(rows[1].values["i"], int)


@pytest.mark.parametrize(
    ("cells", "field", "message"),
    [
        ("abc,1,true,x", "n", "Expected a number."),
        ("nan,1,true,x", "n", "Expected a finite number."),
        ("1,1.5,true,x", "i", "Expected an integer."),
        ("1,one,true,x", "i", "Expected an integer."),
        ("1,1,maybe,x", "b", "Expected true or false."),
    ],
)
def test_csv_conversion_failures_are_row_errors(cells, field, message):
    _, [row] = _read_all(f"n,i,b,s\n{cells}\n".encode(), "csv")

    assert [(e.field, e.code, e.message) for e in row.errors] == [(field, "INVALID_TYPE", message)]


def test_chunks_cut_at_row_boundaries_with_quoted_newlines_crlf_bom_and_blank_lines():
    data = (
        b"\xef\xbb\xbfn,i,b,s\r\n"  # line 1: header with a BOM, CRLF endings
        b'1,1,true,"two\r\nlines"\r\n'  # lines 2-3: row 1
        b"\r\n"  # line 4: blank
        b"2,2,false,plain\r\n"  # line 5: row 2
        b'3,3,true,"a, b"\r\n'  # line 6: row 3
        b"4,4,true,last"  # line 7: row 4, no final newline
    )

    scan, rows = _read_all(data, "csv", chunk_rows=2)

    assert (scan.rows_total, [c.row_count for c in scan.chunks]) == (4, [2, 2])
    assert [(r.row_number, r.line) for r in rows] == [(1, 2), (2, 5), (3, 6), (4, 7)]
    assert [r.values["s"] for r in rows] == ["two\r\nlines", "plain", "a, b", "last"]
    assert scan.columns == NAMES


def test_jsonl_rows_keep_their_types_and_line_numbers():
    data = b'{"n": 1, "i": 2, "b": true, "s": "x"}\n\n{"n": 2}\nnot json\n[1]\n'

    scan, rows = _read_all(data, "jsonl", chunk_rows=3)

    assert scan.rows_total == 4
    assert [(r.row_number, r.line) for r in rows] == [(1, 1), (2, 3), (3, 4), (4, 5)]
    assert rows[0].values == {"n": 1, "i": 2, "b": True, "s": "x"}
    assert rows[2].values is None and rows[2].errors[0].code == "MALFORMED_ROW"
    assert rows[3].values == [1] and rows[3].errors == []  # the schema validation refuses it


def test_the_scan_stops_at_the_row_limit():
    data = b"n,i,b,s\n" + b"1,1,true,x\n" * 11

    with pytest.raises(ApplicationError) as refused:
        file_scan(stream=io.BytesIO(data), file_format="csv", feature_names=NAMES, chunk_rows=5, max_rows=10)

    assert refused.value.errors[0].code == "TOO_MANY_ROWS"


@pytest.mark.parametrize(
    ("filename", "declared", "expected"),
    [("a.csv", None, "csv"), ("a.JSONL", None, "jsonl"), ("a.ndjson", None, "jsonl"), ("data", "csv", "csv"), ("a.csv", "jsonl", "jsonl")],
)
def test_format_from_declaration_or_suffix(filename, declared, expected):
    assert file_format_detect(filename=filename, declared=declared) == expected
