"""The one metered-inference path, for online calls and batch chunks alike:
tier → rate limit (online) → quota → predict → count stored bytes → charge + store in one transaction → metrics.

Billed predictions = stored predictions = returned predictions: the estimator's answer is checked to
hold exactly one output per row (MODEL_OUTPUT_MISMATCH otherwise) before anything is charged, and the
caller's `store` writes exactly the rows that were charged, inside the charging transaction.
"""

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from django.db import connection, transaction

from billing.models import UsageRecord
from billing.services.charge import ChargedRows
from billing.services.usage import call_limits_check, usage_charge
from mlapi.compact_json import compact_json
from mlapi.errors import ApplicationError, LimitExceededError
from mlapi.observability.context import context_update
from mlapi.observability.metrics import limit_rejection_observed, prediction_observed
from predictions.error_codes import PredictionErrorCode
from predictions.models import RegisteredModel
from predictions.registry.cache import loaded_model_get
from predictions.registry.inference import estimator_input, predict

Stored = TypeVar("Stored")


@dataclass(frozen=True)
class ScoredRows:
    """What the model answered for the rows, with the compact JSON that is stored and billed."""

    inputs: list[dict]
    outputs: list[dict]  # empty when only the JSON was asked for (a batch chunk)
    inputs_json: list[str]
    outputs_json: list[str]
    stored_bytes: int
    cpu_seconds: float
    wall_seconds: float
    explanations: list | None = None  # per row, when asked (quality.explanations.Explanation)


NOTHING_SCORED = ScoredRows([], [], [], [], 0, 0.0, 0.0)


def rows_score(
    *, model: RegisteredModel, rows: list[dict], explain: bool = False, json_only: bool = False
) -> ScoredRows:
    """Scores rows (objects with every schema feature, see `schema.instances_prepare`) in one call.

    With `json_only` the outputs are only encoded (`outputs` is empty): what a batch chunk stores.

    With `explain`, per-feature contributions of every row too; their CPU time is billed with the call's.
    A model that cannot be explained refuses the call here, before anything is charged or stored."""
    loaded = loaded_model_get(model=model)
    result = predict(loaded=loaded, instances=rows, as_json=json_only)
    cpu_seconds, explanations = result.cpu_seconds, None
    if explain:
        cpu_start = time.thread_time()
        explanations = rows_explain(loaded=loaded, rows=rows)
        cpu_seconds += time.thread_time() - cpu_start
    inputs_json = loaded.inputs_json(rows)
    outputs_json = result.outputs if json_only else [compact_json(output) for output in result.outputs]
    stored_bytes = sum(map(len, inputs_json)) + sum(map(len, outputs_json))
    return ScoredRows(
        rows,
        [] if json_only else result.outputs,
        inputs_json,
        outputs_json,
        stored_bytes,
        cpu_seconds,
        result.wall_seconds,
        explanations,
    )


def rows_explain(*, loaded, rows: list[dict]) -> list:
    """Per-feature contributions of each row (quality.explanations); EXPLANATION_UNSUPPORTED otherwise."""
    from quality.explanations import UnsupportedExplanation, explain

    try:
        return explain(
            estimator=loaded.estimator,
            features=estimator_input(loaded=loaded, instances=rows),
            feature_names=list(loaded.feature_names),
        )
    except UnsupportedExplanation as error:
        raise ApplicationError.single(
            PredictionErrorCode.EXPLANATION_UNSUPPORTED, str(error), field="explain"
        ) from None


def metered_inference(
    *,
    user,
    model: RegisteredModel,
    rows: list[dict],
    source: str,
    now: datetime,
    idempotency_key: str | None,
    request_hash: str,
    store: Callable[[UsageRecord | None, ScoredRows], Stored],
    rate_limited: bool,
    charged_rows: Callable[[ScoredRows], ChargedRows] | None = None,
    explain: bool = False,
    json_only: bool = False,
) -> tuple[UsageRecord | None, Stored]:
    """Checks the limits, scores `rows`, then charges and stores, all or nothing.

    Two ways to store:
    - `charged_rows(scored)` gives the rows written by the charging statement itself (one round trip on
      PostgreSQL, see `billing.services.charge`); `store(usage, scored)` then only shapes the answer and
      must not write. The online path.
    - Without it, `store(None, scored)` and then the charge run in one transaction (a batch chunk's claim,
      result rows and job counters).

    With no rows nothing is scored or charged, and `store(None, NOTHING_SCORED)` still runs (a batch chunk
    whose rows all failed validation records them). Limits raise LimitExceededError before inference;
    the charge re-checks the quota under the counter's row lock."""
    context_update(model=f"{model.name}:{model.version}")
    try:
        tier = call_limits_check(user=user, now=now, count=len(rows), rate_limited=rate_limited)
        scored = rows_score(model=model, rows=rows, explain=explain, json_only=json_only) if rows else NOTHING_SCORED

        def charge(with_rows: ChargedRows | None) -> UsageRecord | None:
            if not rows:
                return None
            return usage_charge(
                user=user,
                tier=tier,
                model=model,
                predictions=len(scored.outputs_json),
                cpu_seconds=scored.cpu_seconds,
                stored_bytes=scored.stored_bytes,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
                source=source,
                now=now,
                rows=with_rows,
            )

        if charged_rows is not None:
            # Inside a caller's transaction (a test's, say) a savepoint keeps a failed write recoverable.
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                usage = charge(charged_rows(scored) if rows else None)
            stored = store(usage, scored)
        else:
            # The rows first, then the charge: the month's counter row, which every chunk of a user's jobs
            # charges, is locked only from the charge to the commit, not while the rows are copied (two
            # workers on one job waited for each other's COPY). A refused charge still rolls the rows back.
            with transaction.atomic():
                stored = store(None, scored)
                usage = charge(None)
    except LimitExceededError as error:
        limit_rejection_observed(code=error.errors[0].code)
        raise
    if rows:
        prediction_observed(
            model_name=model.name,
            version=model.version,
            instances=len(rows),
            seconds=scored.wall_seconds,
            source=source,
        )
    return usage, stored
