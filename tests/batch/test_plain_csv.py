"""The plain CSV reader (`batch.plain_csv`) against the general reader and validation: where it answers, it
answers exactly what they do; everywhere else it answers None and the chunk goes the general way."""

import io

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from batch.files import chunk_rows_read, file_scan
from batch.models import BatchJob, BatchResultRow
from batch.plain_csv import plain_csv_rows
from batch.services.chunks import ChunkOutcome, batch_chunk_run
from batch.services.jobs import batch_job_create
from batch.services.uploads import batch_upload_create
from mlapi.compact_json import compact_json
from predictions.registry.schema import instance_row, instances_prepare
from predictions.services import ModelRef
from tests.batch.conftest import iris_csv

FEATURES = [
    {"name": "n", "type": "number"},
    {"name": "i", "type": "integer"},
    {"name": "b", "type": "boolean"},
    {"name": "s", "type": "string"},
    {"name": "c", "type": "string", "allowed": ["red", "blue"]},
    {"name": "m", "type": "number", "nullable": True},
]
NAMES = [f["name"] for f in FEATURES]
HEADER = "c,m,s,b,i,n"  # not the schema's order
MAX_ROW_BYTES = 60
CELLS = {
    "n": ["1.5", "-3", "1e3", " 2 ", "nan", "inf", "abc", "", "1_0", "0x1", "1e400", "-0.0"],
    "i": ["2", "4.0", "1.5", "-7", "", "one", " 3", "9" * 400],
    "b": ["true", "No", "1", " yes ", "maybe", ""],
    "s": ["x", " spaced ", "", "café", "a\x00b", "\ufeffz"],
    "c": ["red", "blue", "green", ""],
    "m": ["0.25", "", "nan"],
}


def _general(data: bytes, span, columns):
    rows = chunk_rows_read(
        stream=io.BytesIO(data),
        start_offset=span.start_offset,
        end_offset=span.end_offset,
        file_format="csv",
        columns=columns,
        features=FEATURES,
        first_row=span.first_row,
        first_line=span.first_line,
        max_row_bytes=MAX_ROW_BYTES,
    )
    prepared = instances_prepare(schema={"features": FEATURES}, instances=[r.values or {} for r in rows], path="x")
    valid = all(not r.errors and r.values is not None for r in rows) and not prepared.errors
    return rows, valid


def _typed(rows: list[dict]) -> list[str]:
    """Rows as their stored JSON: 4.0 and 4 differ here, as they would in the database."""
    return [compact_json(row) for row in rows]


line = st.fixed_dictionaries({name: st.sampled_from(cells) for name, cells in CELLS.items()}).map(
    lambda cells: ",".join(cells[name] for name in HEADER.split(","))
)
GOOD = {
    "n": ["1.5", "-3", "1e3", " 2 ", "1_0", "-0.0"],
    "i": ["2", "4.0", "-7", " 3"],
    "b": ["true", "No", "1", " yes "],
    "s": ["x", " spaced ", "café", "\ufeffz"],
    "c": ["red", "blue"],
    "m": ["0.25"],
}
good_line = st.fixed_dictionaries({name: st.sampled_from(cells) for name, cells in GOOD.items()}).map(
    lambda cells: ",".join(cells[name] for name in HEADER.split(","))
)
odd_line = st.sampled_from(["", "\r", "red,,x,true,2", "red,0.25,x,true,2,1,9", '"red",0.25,x,true,2,1', "blue\r"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(st.one_of(good_line, good_line, line, odd_line), min_size=1, max_size=8),
    chunk_rows=st.integers(1, 4),
)
@example(lines=["red,0.25,x,true,2,1.5", "blue,0.5,y,No,-7,1e3"], chunk_rows=4)
def test_where_the_plain_reader_answers_it_answers_as_the_general_reader_and_validation_do(lines, chunk_rows):
    # given
    data = (HEADER + "\n" + "\n".join(lines) + "\n").encode()
    try:
        scan = file_scan(
            stream=io.BytesIO(data),
            file_format="csv",
            feature_names=NAMES,
            chunk_rows=chunk_rows,
            max_rows=100,
            max_row_bytes=MAX_ROW_BYTES,
        )
    except Exception:  # a file refused whole (no data rows): there is no chunk to read
        return
    for span in scan.chunks:
        # when
        plain = plain_csv_rows(
            data=data[span.start_offset : span.end_offset],
            columns=scan.columns,
            features=FEATURES,
            first_row=span.first_row,
            first_line=span.first_line,
            max_row_bytes=MAX_ROW_BYTES,
        )
        rows, valid = _general(data, span, scan.columns)
        # then
        if plain is None:
            continue
        assert valid, rows
        assert _typed(plain.rows) == _typed([instance_row(r.values, NAMES) for r in rows])
        count = len(plain.rows)
        assert [(r.row_number, r.line) for r in rows] == [
            (plain.first_row + k, plain.first_line + k) for k in range(count)
        ]


def _plain(body: str, max_row_bytes: int = MAX_ROW_BYTES):
    return plain_csv_rows(
        data=body.encode() if isinstance(body, str) else body,
        columns=HEADER.split(","),
        features=FEATURES,
        first_row=1,
        first_line=2,
        max_row_bytes=max_row_bytes,
    )


def test_a_clean_chunk_is_read_plainly_in_schema_order_with_the_schema_types():
    plain = _plain("red,0.25,x,true,2,1.5\nblue,-1,café, No ,4.0,1e3")

    assert plain is not None
    assert plain.rows == [
        {"n": 1.5, "i": 2, "b": True, "s": "x", "c": "red", "m": 0.25},
        {"n": 1000.0, "i": 4, "b": False, "s": "café", "c": "blue", "m": -1.0},
    ]
    assert [type(v) for v in plain.rows[1].values()] == [float, int, bool, str, str, float]


@pytest.mark.parametrize(
    "body",
    [
        'red,0.25,"x",true,2,1.5\n',  # quoted
        "red,0.25,x,true,2,1.5\r\n",  # CRLF
        "red,0.25,x,true,2,1.5\n\nblue,0.25,x,true,2,1.5\n",  # a blank line
        "red,,x,true,2,1.5\n",  # a missing value (nullable)
        "red,0.25,x,true,,1.5\n",  # a missing value (required)
        "red,0.25,x,true,2\n",  # a cell short
        "red,0.25,x,true,2,1.5,9\n",  # a cell over
        "red,0.25,x,true,2,nan\n",
        "red,0.25,x,true,2,abc\n",
        "red,0.25,x,true,1.5,1\n",  # not an integer
        "red,0.25,x,maybe,2,1\n",
        "green,0.25,x,true,2,1\n",  # not an allowed category
        "red,0.25,a\x00b,true,2,1\n",
        b"red,0.25,\xff,true,2,1\n",  # not UTF-8
        "red,0.25," + "x" * 60 + ",true,2,1\n",  # past the row size limit
    ],
)
def test_anything_not_plain_goes_the_general_way(body):
    assert _plain(body) is None


def test_the_row_size_limit_counts_bytes_and_the_newline():
    row = "red,0.25,é,true,2,1\n"  # 20 characters, 21 bytes
    assert _plain(row, max_row_bytes=21) is not None
    assert _plain(row, max_row_bytes=20) is None


@pytest.fixture
def job_of(make_user, iris_model, settings):
    settings.BATCH_CHUNK_ROWS = 4

    def make(data: bytes) -> BatchJob:
        user = make_user()
        upload = batch_upload_create(user=user, stream=io.BytesIO(data), filename="rows.csv")
        return batch_job_create(user=user, model_ref=ModelRef(name="iris"), upload=upload, dispatch=False)

    return make


def _run_all(job: BatchJob) -> list[tuple]:
    for index in range(job.chunks_total):
        assert batch_chunk_run(job_id=job.pk, index=index) == ChunkOutcome.DONE
    job.refresh_from_db()
    assert job.status == "succeeded"
    return list(
        BatchResultRow.objects.filter(job=job)
        .order_by("row_number")
        .values_list("row_number", "line", "input", "output", "error")
    )


def test_a_job_stores_the_same_result_rows_whether_its_chunks_are_read_plainly_or_not(job_of, monkeypatch):
    # given: a file with plain chunks and a chunk holding a bad row and a blank line
    lines = iris_csv(12).decode().splitlines()
    lines[6] = lines[6].replace(",", ",abc,", 1).rsplit(",", 1)[0]  # a bad number, same number of cells
    lines.insert(10, "")
    data = ("\n".join(lines) + "\n").encode()
    read_plainly = []
    import batch.services.chunks as chunks

    real = chunks.plain_csv_rows
    monkeypatch.setattr(chunks, "plain_csv_rows", lambda **kw: read_plainly.append(real(**kw)) or read_plainly[-1])
    # when
    fast = _run_all(job_of(data))
    monkeypatch.setattr(chunks, "plain_csv_rows", lambda **kw: None)
    general = _run_all(job_of(data))
    # then
    assert [plain is not None for plain in read_plainly] == [True, False, False]
    assert fast == general
    assert len(fast) == 12 and sum(row[4] is not None for row in fast) == 1
