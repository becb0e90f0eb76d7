"""The ceiling: the least a server can do for one stored and billed prediction, as a physical reference.

A bare WSGI app (no framework) under gunicorn with the project's interpreter: checks a bearer token against
an in-memory set, scores the iris row with the same artifact (`predict` and `predict_proba`), then makes the
same three durable writes per call as the project, in one transaction committed with `synchronous_commit` on:
the month's counter (a conditional UPDATE under the quota), a usage record, the prediction row. No Django, no
GraphQL, no validation beyond the four numbers, one psycopg2 connection per worker, a server-side prepared
statement for the write.

    CEILING_DATABASE_URL=postgres://… MODEL_PATH=model.joblib CEILING_TOKEN=secret \
        gunicorn bench.ceiling:app -w 2 -b 127.0.0.1:PORT

`ceiling_tables_create` (run once by the harness) makes its three tables in the bench database.
"""

import json
import os
import threading
import uuid
import warnings

FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")

TABLES = """
CREATE TABLE IF NOT EXISTS ceiling_counter (
    user_id int NOT NULL, month date NOT NULL, predictions bigint NOT NULL DEFAULT 0, PRIMARY KEY (user_id, month));
CREATE TABLE IF NOT EXISTS ceiling_usage (
    id bigserial PRIMARY KEY, user_id int NOT NULL, predictions int NOT NULL, amount numeric(20, 10) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS ceiling_prediction (
    id uuid PRIMARY KEY, usage_id bigint NOT NULL REFERENCES ceiling_usage (id), input jsonb NOT NULL,
    output jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO ceiling_counter (user_id, month) VALUES (1, date_trunc('month', now())) ON CONFLICT DO NOTHING;
"""

# The three writes as one statement: nothing is written when the counter update finds the quota used up.
WRITE = """
PREPARE ceiling_write (int, bigint, numeric, uuid, jsonb, jsonb) AS
WITH counted AS (
    UPDATE ceiling_counter SET predictions = predictions + 1
    WHERE user_id = $1 AND month = date_trunc('month', now()) AND predictions + 1 <= $2
    RETURNING user_id),
usage AS (
    INSERT INTO ceiling_usage (user_id, predictions, amount) SELECT user_id, 1, $3 FROM counted RETURNING id)
INSERT INTO ceiling_prediction (id, usage_id, input, output) SELECT $4, id, $5, $6 FROM usage RETURNING usage_id
"""
QUOTA = 10**12


def ceiling_tables_create(database_url: str) -> None:
    import psycopg2

    connection = psycopg2.connect(database_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(TABLES)
    connection.close()


class _State(threading.local):
    connection = None


_state = _State()
_model = None
_classes: list[str] = []


def _connection():
    if _state.connection is None or _state.connection.closed:
        import psycopg2

        connection = psycopg2.connect(os.environ["CEILING_DATABASE_URL"])
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = on")
            cursor.execute(WRITE)
        connection.commit()
        _state.connection = connection
    return _state.connection


def _load():
    global _model, _classes
    if _model is None:
        import joblib

        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        _model = joblib.load(os.environ["MODEL_PATH"])
        _classes = [str(c) for c in _model.classes_]
    return _model


def _answer(start_response, status: str, body: dict):
    payload = json.dumps(body, separators=(",", ":")).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


def app(environ, start_response):
    import numpy as np

    if environ.get("PATH_INFO") == "/health":
        _load()
        return _answer(start_response, "200 OK", {"status": "ok"})
    if environ.get("HTTP_AUTHORIZATION") != f"Bearer {os.environ['CEILING_TOKEN']}":
        return _answer(start_response, "401 Unauthorized", {"errors": [{"code": "INVALID_TOKEN"}]})
    length = int(environ.get("CONTENT_LENGTH") or 0)
    try:
        features = json.loads(environ["wsgi.input"].read(length))["features"]
        row = np.array([[float(features[name]) for name in FEATURES]])
    except (ValueError, KeyError, TypeError):
        return _answer(start_response, "400 Bad Request", {"errors": [{"code": "INVALID_INPUT"}]})
    model = _load()
    label = str(model.predict(row)[0])
    probabilities = dict(zip(_classes, model.predict_proba(row)[0].tolist(), strict=True))
    output = {"label": label, "probabilities": probabilities}
    prediction_id = uuid.uuid4()
    connection = _connection()
    with connection.cursor() as cursor:
        cursor.execute(
            "EXECUTE ceiling_write (%s, %s, %s, %s, %s, %s)",
            (1, QUOTA, "0.0004", str(prediction_id), json.dumps(features), json.dumps(output)),
        )
        stored = cursor.fetchone()
    connection.commit()
    if stored is None:
        return _answer(start_response, "429 Too Many Requests", {"errors": [{"code": "QUOTA_EXCEEDED"}]})
    return _answer(start_response, "201 Created", {"prediction": {"id": str(prediction_id), "output": output}})
