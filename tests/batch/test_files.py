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
    scan = file_scan(
        stream=io.BytesIO(data), file_format=file_format, feature_names=NAMES, chunk_rows=chunk_rows, max_rows=100
    )
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
    [
        ("a.csv", None, "csv"),
        ("a.JSONL", None, "jsonl"),
        ("a.ndjson", None, "jsonl"),
        ("data", "csv", "csv"),
        ("a.csv", "jsonl", "jsonl"),
    ],
)
def test_format_from_declaration_or_suffix(filename, declared, expected):
    assert file_format_detect(filename=filename, declared=declared) == expected


# --- Records: streaming, the row limit, and agreement with the csv module ----------------------------


def _scan_and_read(data: bytes, file_format: str, *, names, features, max_row_bytes: int, chunk_rows: int = 3):
    scan = file_scan(
        stream=io.BytesIO(data),
        file_format=file_format,
        feature_names=names,
        chunk_rows=chunk_rows,
        max_rows=10_000,
        max_row_bytes=max_row_bytes,
    )
    rows = []
    for span in scan.chunks:
        rows += chunk_rows_read(
            stream=io.BytesIO(data),
            start_offset=span.start_offset,
            end_offset=span.end_offset,
            file_format=file_format,
            columns=scan.columns,
            features=features,
            first_row=span.first_row,
            first_line=span.first_line,
            max_row_bytes=max_row_bytes,
        )
    return scan, rows


@pytest.mark.parametrize("seed", range(40))
def test_csv_records_are_cut_where_the_csv_module_cuts_them(seed):
    # given: random text of commas, quotes, CR/LF and letters after a one-column header
    import csv
    import random

    rng = random.Random(seed)
    body = "".join(rng.choice(["a", "b", ",", '"', '""', "\n", "\r\n", " "]) for _ in range(300))
    data = ("s\n" + body).encode()
    try:
        expected = [r for r in csv.reader(io.StringIO(data.decode(), newline=""))][1:]
    except csv.Error:
        pytest.skip("the csv module refuses this text as a whole")
    expected = [r for r in expected if r]
    features = [{"name": "s", "type": "string"}]
    # when
    scan, rows = _scan_and_read(data, "csv", names=["s"], features=features, max_row_bytes=10_000)
    # then: the same records (a record with a second cell is a row error, as the header has one column)
    assert scan.rows_total == len(rows) == len(expected)
    for row, cells in zip(rows, expected, strict=True):
        if len(cells) == 1:
            assert row.values == ({"s": cells[0]} if cells[0] else {}), (row, cells)
        else:
            assert row.errors[0].code == "MALFORMED_ROW"


def test_an_over_long_row_is_a_row_error_and_the_rows_after_it_keep_their_lines():
    data = b'n,i,b,s\n1,1,true,a\n2,2,false,"' + b'x"",\n' * 5000 + b'"\n3,3,true,c\n'

    scan, rows = _scan_and_read(data, "csv", names=NAMES, features=FEATURES, max_row_bytes=1000, chunk_rows=1)

    assert scan.rows_total == 3
    assert [(r.row_number, r.line) for r in rows] == [(1, 2), (2, 3), (3, 5004)]
    assert [e.code for e in rows[1].errors] == ["ROW_TOO_LARGE"] and rows[1].values is None
    assert rows[2].values == {"n": 3.0, "i": 3, "b": True, "s": "c"}


def test_a_50_mb_line_is_never_held_in_memory(tmp_path):
    # given: a JSONL file on disk whose second line is 50 MB
    import tracemalloc

    path = tmp_path / "huge.jsonl"
    good = b'{"n": 1, "i": 2, "b": true, "s": "x"}\n'
    with path.open("wb") as out:
        out.write(good)
        out.write(b'{"s": "')
        for _ in range(50):
            out.write(b"y" * 1024 * 1024)
        out.write(b'"}\n')
        out.write(good)
    # when
    tracemalloc.start()
    try:
        with path.open("rb") as stream:
            scan = file_scan(stream=stream, file_format="jsonl", feature_names=NAMES, chunk_rows=10, max_rows=10)
            [span] = scan.chunks
            rows = chunk_rows_read(
                stream=stream,
                start_offset=span.start_offset,
                end_offset=span.end_offset,
                file_format="jsonl",
                columns=[],
                features=FEATURES,
                first_row=1,
                first_line=1,
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # then
    print(f"\npeak memory reading a 50 MB line: {peak / 2**20:.1f} MiB")
    assert [e.code for e in rows[1].errors] == ["ROW_TOO_LARGE"] and rows[2].values["s"] == "x"
    assert peak < 8 * 2**20  # the 1 MiB row limit and one piece, not the line (it held 100+ MiB)
