"""The write of one accepted call: count it on the month's counter under the quota, record its usage, and
store its rows, all or nothing.

PostgreSQL: ONE statement, a data-modifying CTE (counter UPDATE ... RETURNING, usage INSERT priced from
the counter it returned, rows INSERT from arrays), sent as a server-side prepared statement (PREPAREd once
per connection, then EXECUTE). Outside a transaction it commits by itself: one round trip, durable
(synchronous_commit is not touched). A call of COPY_MIN_ROWS rows or more stores its rows with COPY instead,
right after that statement in the same short transaction.
SQLite: the same steps as separate statements in one plain transaction.

The statement also checks that the tier it was given is the tier in force at the call's moment, with
the same prices and quota (`tier_terms`): the caller may hold a memoized tier (`pricing_tier_for_call`).

When the tier is not the one in force, the counter row is missing, the month is closed or the quota is
full, the statement changes nothing and this returns None: `usage_charge` then works out which (see there).
"""

import re
import threading
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, datetime
from hashlib import sha1
from typing import Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import ForeignKey, Model

from billing.metering import Charge, FixedCharge, billable_count, billable_count_sql, charge_complete
from billing.models import MonthlyUsage, PricingTier, Subscription, UsageRecord
from billing.selectors import tier_in_force
from mlapi.bulk import rows_copy

# From this many rows on, COPY beats rows sent as arrays in the statement (1,000 rows: 34 ms against 60 ms).
COPY_MIN_ROWS = 64


# What a call's charge depends on in its tier: a memoized tier is used only while these still hold.
TIER_TERMS = (
    "id",
    "currency",
    "included_predictions",
    "price_per_prediction",
    "price_per_cpu_second",
    "price_per_mb",
    "monthly_quota",
)


def tier_terms(tier: PricingTier) -> tuple:
    return tuple(getattr(tier, name) for name in TIER_TERMS)


@dataclass(frozen=True)
class ChargedRows:
    """Rows stored with a charge, in the same statement (or transaction): each gets the usage record's id.

    `constants` are (column, PostgreSQL type, value) shared by every row; `columns` are (column, type) of
    the values that vary, one tuple per row in `values`. JSON columns (type jsonb) hold encoded JSON text."""

    model: type[Model]
    usage_column: str
    constants: tuple[tuple[str, str, Any], ...]
    columns: tuple[tuple[str, str], ...]
    values: Sequence[tuple]


@dataclass(frozen=True)
class _Statement:
    name: str
    prepare: str
    execute: str
    plain: str


_statements: dict[tuple | None, _Statement] = {}
_statements_lock = threading.Lock()


class _Placeholders:
    """Numbers each named parameter once ($1, $2, ...) and remembers its type."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.types: list[str] = []

    def __call__(self, name: str, type_: str) -> str:
        if name not in self.names:
            self.names.append(name)
            self.types.append(type_)
        return f"${self.names.index(name) + 1}"


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _statement(rows: ChargedRows | None) -> _Statement:
    key = (
        None
        if rows is None
        else (rows.model._meta.db_table, rows.usage_column, tuple(c[:2] for c in rows.constants), rows.columns)
    )
    statement = _statements.get(key)
    if statement is None:
        statement = _statement_build(rows)
        with _statements_lock:
            _statements[key] = statement
    return statement


def _statement_build(rows: ChargedRows | None) -> _Statement:
    p = _Placeholders()
    counter, usage = MonthlyUsage._meta.db_table, UsageRecord._meta.db_table
    count = p("predictions", "bigint")
    quota = p("quota", "bigint")
    billable = billable_count_sql(used_before="used_before", count=count, included=p("included", "bigint"))
    usage_values = {
        "user_id": p("user_id", "bigint"),
        "model_id": p("model_id", "bigint"),
        "tier_id": p("tier_id", "bigint"),
        "created_at": p("created_at", "timestamptz"),
        "period": p("period", "date"),
        "source": p("source", "text"),
        "idempotency_key": p("idempotency_key", "text"),
        "request_hash": p("request_hash", "text"),
        "predictions": count,
        "billable_predictions": "billable",
        "cpu_seconds": p("cpu_seconds", "numeric"),
        "stored_bytes": p("stored_bytes", "bigint"),
        "currency": p("currency", "text"),
        "price_per_prediction": p("price_per_prediction", "numeric"),
        "price_per_cpu_second": p("price_per_cpu_second", "numeric"),
        "price_per_mb": p("price_per_mb", "numeric"),
        "prediction_amount": f"billable * {p('price_per_prediction', 'numeric')}",
        "compute_amount": p("compute_amount", "numeric"),
        "storage_amount": p("storage_amount", "numeric"),
        "amount": f"billable * {p('price_per_prediction', 'numeric')} + {p('compute_amount', 'numeric')} + "
        f"{p('storage_amount', 'numeric')}",
    }
    sql = (
        f"WITH counter AS (UPDATE {_quote(counter)} SET predictions = predictions + {count} "
        f"WHERE user_id = {p('user_id', 'bigint')} AND period = {p('period', 'date')} AND closed_at IS NULL "
        f"AND ({quota} IS NULL OR predictions + {count} <= {quota}) AND {_tier_in_force_sql(p)} "
        f"RETURNING predictions - {count} AS used_before), "
        f"charged AS (SELECT {billable} AS billable FROM counter), "
        f"usage AS (INSERT INTO {_quote(usage)} ({', '.join(map(_quote, usage_values))}) "
        f"SELECT {', '.join(usage_values.values())} FROM charged RETURNING id, billable_predictions)"
    )
    if rows is not None:
        names = [c[0] for c in rows.constants] + [c[0] for c in rows.columns] + [rows.usage_column]
        selected = [p(f"constant_{column}", type_) for column, type_, _ in rows.constants]
        selected += [f"r.c{i}" for i in range(len(rows.columns))]
        arrays = ", ".join(p(f"column_{column}", f"{type_}[]") for column, type_ in rows.columns)
        aliases = ", ".join(f"c{i}" for i in range(len(rows.columns)))
        sql += (
            f", stored AS (INSERT INTO {_quote(rows.model._meta.db_table)} ({', '.join(map(_quote, names))}) "
            f"SELECT {', '.join(selected)}, usage.id FROM usage, unnest({arrays}) AS r({aliases}))"
        )
    sql += " SELECT id, billable_predictions FROM usage"
    name = "mlapi_charge_" + sha1(sql.encode()).hexdigest()[:16]
    execute_args = ", ".join(f"%({n})s::{t}" for n, t in zip(p.names, p.types, strict=True))
    plain = re.sub(r"\$(\d+)", lambda m: f"%({p.names[int(m[1]) - 1]})s::{p.types[int(m[1]) - 1]}", sql)
    return _Statement(
        name=name,
        prepare=f"PREPARE {name} ({', '.join(p.types)}) AS {sql}",
        execute=f"EXECUTE {name} ({execute_args})",
        plain=plain,
    )


def _tier_in_force_sql(p: _Placeholders) -> str:
    """True when the call's tier is the one in force at its moment (the user's subscription then, else the
    default tier; the filter of `billing.selectors.tier_in_force`) and has the terms the call was priced with."""
    tier, subscription = PricingTier._meta.db_table, Subscription._meta.db_table
    at, user = p("created_at", "timestamptz"), p("user_id", "bigint")
    in_force = (
        f"COALESCE((SELECT s.tier_id FROM {_quote(subscription)} s WHERE s.user_id = {user} AND s.started_at <= {at} "
        f"AND (s.ended_at IS NULL OR s.ended_at > {at}) ORDER BY s.started_at DESC LIMIT 1), "
        f"(SELECT d.id FROM {_quote(tier)} d WHERE d.name = {p('default_tier', 'text')}))"
    )
    terms = {
        "currency": p("currency", "text"),
        "included_predictions": p("included", "bigint"),
        "price_per_prediction": p("price_per_prediction", "numeric"),
        "price_per_cpu_second": p("price_per_cpu_second", "numeric"),
        "price_per_mb": p("price_per_mb", "numeric"),
    }
    matching = " AND ".join(f"t.{_quote(column)} = {value}" for column, value in terms.items())
    return (
        f"EXISTS (SELECT 1 FROM {_quote(tier)} t WHERE t.id = {p('tier_id', 'bigint')} AND t.id = {in_force} "
        f"AND {matching} AND t.monthly_quota IS NOT DISTINCT FROM {p('quota', 'bigint')})"
    )


def _prepared_names() -> set[str]:
    """The statements PREPAREd on this thread's current database session (a new session starts empty)."""
    raw = connection.connection
    held = getattr(connection, "_mlapi_prepared", None)
    if held is None or held[0] is not raw:
        held = (raw, set())
        connection._mlapi_prepared = held  # type: ignore[attr-defined]  # our own mark on Django's wrapper
    return held[1]


def _run(cursor, statement: _Statement, params: dict) -> tuple | None:
    if not settings.DATABASE_PREPARED_STATEMENTS:
        cursor.execute(statement.plain, params)
        return cursor.fetchone()
    connection.ensure_connection()
    prepared = _prepared_names()
    if statement.name not in prepared:
        cursor.execute(statement.prepare)
        prepared.add(statement.name)
    cursor.execute(statement.execute, params)
    return cursor.fetchone()


def _rows_copy(rows: ChargedRows, usage_id: int) -> None:
    rows_copy(
        table=rows.model._meta.db_table,
        columns=[c[0] for c in rows.constants] + [c[0] for c in rows.columns] + [rows.usage_column],
        rows=rows.values,
        prefix=tuple(value for _, _, value in rows.constants),
        suffix=(usage_id,),
    )


def _all_or_nothing(*, needed: bool):
    """A transaction for several statements, unless the caller's transaction already holds them."""
    return transaction.atomic() if needed and not connection.in_atomic_block else nullcontext()


def _postgresql(*, params: dict, rows: ChargedRows | None) -> tuple[int, int] | None:
    copy = rows is not None and len(rows.values) >= COPY_MIN_ROWS
    inline = rows if rows is not None and not copy else None
    if inline is not None:
        for index, (column, _) in enumerate(inline.columns):
            params[f"column_{column}"] = [values[index] for values in inline.values]
        for column, _, value in inline.constants:
            params[f"constant_{column}"] = value
    statement = _statement(inline)
    # Outside a transaction the one statement commits by itself; with COPY to follow, one short transaction.
    # Inside a caller's transaction that transaction is the all-or-nothing unit.
    with _all_or_nothing(needed=copy), connection.cursor() as cursor:
        found = _run(cursor, statement, params)
        if found is not None and rows is not None and copy:
            _rows_copy(rows, found[0])
    return found


def _sqlite(
    *, params: dict, rows: ChargedRows | None, tier: PricingTier, fixed: FixedCharge, user, now: datetime
) -> tuple[int, int] | None:
    counter = MonthlyUsage._meta.db_table
    within_quota = "" if params["quota"] is None else " AND predictions + %s <= %s"
    count = params["predictions"]
    with _all_or_nothing(needed=True), connection.cursor() as cursor:
        if tier_terms(tier_in_force(user=user, at=now)) != tier_terms(tier):
            return None
        cursor.execute(
            f"UPDATE {_quote(counter)} SET predictions = predictions + %s "
            f"WHERE user_id = %s AND period = %s AND closed_at IS NULL{within_quota} RETURNING predictions",
            [count, params["user_id"], params["period"].isoformat()]
            + ([] if params["quota"] is None else [count, params["quota"]]),
        )
        found = cursor.fetchone()
        if found is None:
            return None
        billable = billable_count(used_before=found[0] - count, count=count, included=tier.included_predictions)
        charge = charge_complete(tier=tier, fixed=fixed, billable=billable)
        values = _usage_values(params=params, tier=tier, charge=charge)
        usage_id = _sqlite_insert(cursor, UsageRecord, list(values), [tuple(values.values())], returning=True)
        if rows is not None:
            names = [c[0] for c in rows.constants] + [c[0] for c in rows.columns] + [rows.usage_column]
            constants = tuple(value for _, _, value in rows.constants)
            _sqlite_insert(cursor, rows.model, names, [(*constants, *values, usage_id) for values in rows.values])
    return usage_id, billable


def _sqlite_insert(cursor, model: type[Model], columns: list[str], rows: list[tuple], returning: bool = False):
    meta = model._meta
    fields = [meta.get_field(name) for name in columns]  # by attname too (user_id)

    def prep(field, value):
        if field.get_internal_type() == "JSONField":
            return value  # already encoded
        return field.get_db_prep_save(value, connection)

    sql = (
        f"INSERT INTO {_quote(meta.db_table)} ({', '.join(map(_quote, columns))}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    prepared = [[prep(f, v) for f, v in zip(fields, row, strict=True)] for row in rows]
    if returning:
        cursor.execute(sql + " RETURNING id", prepared[0])
        return cursor.fetchone()[0]
    cursor.executemany(sql, prepared)
    return None


def _usage_values(*, params: dict, tier: PricingTier, charge: Charge) -> dict:
    """The usage record's columns but its id: what SQLite inserts, and what the returned record holds."""
    return {
        **{name: params[name] for name in ("user_id", "model_id", "tier_id", "created_at", "period", "source")},
        "idempotency_key": params["idempotency_key"],
        "request_hash": params["request_hash"],
        "predictions": charge.predictions,
        "billable_predictions": charge.billable_predictions,
        "cpu_seconds": charge.cpu_seconds,
        "stored_bytes": charge.stored_bytes,
        "currency": tier.currency,
        "price_per_prediction": tier.price_per_prediction,
        "price_per_cpu_second": tier.price_per_cpu_second,
        "price_per_mb": tier.price_per_mb,
        "prediction_amount": charge.prediction_amount,
        "compute_amount": charge.compute_amount,
        "storage_amount": charge.storage_amount,
        "amount": charge.amount,
    }


_USAGE_COLUMNS = [field.attname for field in UsageRecord._meta.concrete_fields]
_USAGE_RELATIONS = [cast(ForeignKey, UsageRecord._meta.get_field(name)) for name in ("user", "model", "tier")]


def charge_write(
    *,
    user,
    tier: PricingTier,
    model,
    fixed: FixedCharge,
    period: date,
    now: datetime,
    source: str,
    idempotency_key: str | None,
    request_hash: str,
    rows: ChargedRows | None,
) -> UsageRecord | None:
    """Counts the call in `period` (if open and within quota), records its usage and stores `rows`: the
    usage record, or None when nothing was written."""
    params = {
        "predictions": fixed.predictions,
        "quota": tier.monthly_quota,
        "included": tier.included_predictions,
        "user_id": user.pk,
        "model_id": model.pk,
        "tier_id": tier.pk,
        "created_at": now,
        "period": period,
        "source": source,
        "idempotency_key": idempotency_key,
        "request_hash": request_hash,
        "cpu_seconds": fixed.cpu_seconds,
        "stored_bytes": fixed.stored_bytes,
        "currency": tier.currency,
        "price_per_prediction": tier.price_per_prediction,
        "price_per_cpu_second": tier.price_per_cpu_second,
        "price_per_mb": tier.price_per_mb,
        "compute_amount": fixed.compute_amount,
        "storage_amount": fixed.storage_amount,
        "default_tier": settings.DEFAULT_PRICING_TIER,
    }
    if connection.vendor == "postgresql":
        found = _postgresql(params=params, rows=rows)
    else:
        found = _sqlite(params=params, rows=rows, tier=tier, fixed=fixed, user=user, now=now)
    if found is None:
        return None
    usage_id, billable = found
    charge = charge_complete(tier=tier, fixed=fixed, billable=billable)
    values = {"id": usage_id, **_usage_values(params=params, tier=tier, charge=charge)}
    # The record as the database now holds it, built the way Django builds a fetched row (Model.from_db, all
    # columns in order): keyword construction through the relation descriptors cost more than the write's
    # own Python. Its user, model and tier are the objects in hand, as if fetched with select_related.
    usage = UsageRecord.from_db(connection.alias, _USAGE_COLUMNS, [values[name] for name in _USAGE_COLUMNS])
    for relation, related in zip(_USAGE_RELATIONS, (user, model, tier), strict=True):
        relation.set_cached_value(usage, related)
    return usage
