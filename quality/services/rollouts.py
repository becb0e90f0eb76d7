"""Canary and shadow versions of a production model, and promoting one to production in one action.

Two hooks into serving, both cheap and both here: `rollout_route` picks the answering version of an
unpinned call before it is scored, and `shadow_enqueue` schedules the shadow's scoring after commit.
"""

import hashlib
import logging
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from mlapi.errors import ApplicationError, NotFoundError, PermissionDeniedError
from mlapi.hot_cache import HotCache
from predictions.models import Prediction, RegisteredModel
from predictions.registry.cache import loaded_model_get
from predictions.registry.inference import predict
from predictions.registry.schema import instances_prepare
from predictions.services.registry import model_production_current, model_set_stage
from quality.error_codes import RolloutErrorCode
from quality.models import Rollout, RollupWatermark, ShadowPrediction

logger = logging.getLogger(__name__)
Stage = RegisteredModel.Stage

# name -> Rollout | None (with its canary and shadow), for QUALITY_ROLLOUT_CACHE_SECONDS: the hot path
# pays no query for it; a change reaches every worker within that time (at once in the changing one).
_rollouts = HotCache(setting="QUALITY_ROLLOUT_CACHE_SECONDS")
_random = random.SystemRandom()
BUCKETS = 10_000  # canary_percent has two decimals: 0.01 % is one bucket


def rollout_cache_clear() -> None:
    _rollouts.clear()


def _rollout_of(name: str) -> Rollout | None:
    def load():
        return Rollout.objects.select_related("canary", "shadow").filter(name=name).first()

    return _rollouts.get_or_load(name, load)


def _bucket(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") % BUCKETS


def rollout_route(*, model: RegisteredModel, user, idempotency_key: str | None) -> RegisteredModel:
    """The version that answers an unpinned call resolved to `model` (the production version):
    the canary for `canary_percent` % of calls, else `model`.

    Sticky per caller when the rollout says so; otherwise per call, except that a call with an
    idempotency key is placed by its key (a retry must hit the version that answered first)."""
    rollout = _rollout_of(model.name)
    if rollout is None or rollout.canary is None or rollout.canary_percent <= 0 or rollout.canary_id == model.pk:
        return model
    if rollout.sticky == Rollout.Sticky.CALLER:
        bucket = _bucket(f"{model.name}:caller:{user.pk}")
    elif idempotency_key:
        bucket = _bucket(f"{model.name}:key:{user.pk}:{idempotency_key}")
    else:
        bucket = _random.randrange(BUCKETS)
    return rollout.canary if bucket < rollout.canary_percent * (BUCKETS // 100) else model


# --- shadow scoring ---

_shadow_pool: ThreadPoolExecutor | None = None
_shadow_lock = threading.Lock()
_shadow_buffer: list[tuple[list[str], int]] = []
_shadow_draining = False


def _shadow_drain() -> None:
    """Scores everything buffered, one vectorized call per shadow version, until the buffer is empty:
    under load many calls' predictions share one model call."""
    global _shadow_draining
    try:
        while True:
            with _shadow_lock:
                pending = list(_shadow_buffer)
                _shadow_buffer.clear()
                if not pending:
                    break
            by_shadow: dict[int, list[str]] = {}
            for ids, shadow_id in pending:
                by_shadow.setdefault(shadow_id, []).extend(ids)
            for shadow_id, ids in by_shadow.items():
                try:
                    shadow_score(prediction_ids=ids, shadow_id=shadow_id)
                except Exception:
                    logger.exception("shadow scoring failed")
    finally:
        connection.close()  # this thread's own connection: none is held between drains
        with _shadow_lock:
            if _shadow_buffer and _shadow_pool is not None:  # arrived while closing: drain again (one at a time)
                _shadow_pool.submit(_shadow_drain)
            else:
                _shadow_draining = False


def shadow_thread_idle() -> bool:
    with _shadow_lock:
        return not _shadow_draining


def _in_thread(prediction_ids: list[str], shadow_id: int) -> None:
    global _shadow_pool, _shadow_draining
    with _shadow_lock:
        _shadow_buffer.append((prediction_ids, shadow_id))
        if _shadow_draining:
            return
        _shadow_draining = True
        if _shadow_pool is None:
            _shadow_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shadow")
    _shadow_pool.submit(_shadow_drain)


def shadow_enqueue(*, model: RegisteredModel, predictions: list[Prediction]) -> None:
    """After commit, has the name's shadow version (if any) score these predictions' inputs: a Celery
    task (QUALITY_SHADOW_EXECUTION=celery; inline when there is no broker) or a background thread of
    this process (=thread). The caller's answer never waits for it. With =beat it does nothing at all:
    `shadow_catch_up`, a beat task, scores the stored predictions past its watermark instead."""
    if settings.QUALITY_SHADOW_EXECUTION == "beat":
        return  # the beat task (`shadow_catch_up`) finds them past its watermark: nothing on the request path
    rollout = _rollout_of(model.name)
    if rollout is None or rollout.shadow_id is None or rollout.shadow_id == model.pk or not predictions:
        return
    ids = [str(p.pk) for p in predictions]
    shadow_id = rollout.shadow_id
    if settings.QUALITY_SHADOW_EXECUTION == "thread":
        transaction.on_commit(lambda: _in_thread(ids, shadow_id))
    else:
        from quality.tasks import score_shadow

        transaction.on_commit(lambda: score_shadow.delay(prediction_ids=ids, shadow_id=shadow_id))


def _agreement(task: str, answer: dict, shadow: dict) -> tuple[bool | None, float | None]:
    if "label" in answer:
        return answer.get("label") == shadow.get("label"), None
    if isinstance(answer.get("value"), (int, float)) and isinstance(shadow.get("value"), (int, float)):
        difference = abs(shadow["value"] - answer["value"])
        return difference <= 1e-9 * max(1.0, abs(answer["value"])), difference
    if "labels" in answer:
        return answer.get("labels") == shadow.get("labels"), None
    if "cluster" in answer:
        return answer.get("cluster") == shadow.get("cluster"), None
    return None, None


def shadow_score(*, prediction_ids: list[str], shadow_id: int) -> int:
    """Scores stored predictions' inputs with the shadow version and stores its outputs (unmetered:
    no usage record, nothing billed). Rows the shadow's schema refuses are skipped."""
    shadow = RegisteredModel.objects.get(pk=shadow_id)
    rows = list(
        Prediction.objects.filter(pk__in=prediction_ids).exclude(shadow__isnull=False).values("id", "input", "output")
    )
    if not rows:
        return 0
    prepared = instances_prepare(schema=shadow.input_schema, instances=[r["input"] for r in rows], path="instances")
    kept, kept_rows = rows, prepared.rows
    if prepared.errors:  # keep the rows the shadow's schema accepts, one by one
        kept, kept_rows = [], []
        for row in rows:
            one = instances_prepare(schema=shadow.input_schema, instances=[row["input"]], path="instances")
            if not one.errors:
                kept.append(row)
                kept_rows.extend(one.rows)
        if not kept:
            return 0
    result = predict(loaded=loaded_model_get(model=shadow), instances=kept_rows)
    now = timezone.now()
    shadows = []
    for row, output in zip(kept, result.outputs, strict=True):
        agrees, difference = _agreement(shadow.task, row["output"], output)
        shadows.append(
            ShadowPrediction(
                prediction_id=row["id"],
                model=shadow,
                output=output,
                agrees=agrees,
                absolute_difference=difference,
                created_at=now,
            )
        )
    ShadowPrediction.objects.bulk_create(shadows, ignore_conflicts=True)
    return len(shadows)


# --- beat mode: a watermark over stored predictions ---


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _moment(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1_000_000, tz=UTC)


def _shadow_advance(*, rollout: Rollout, shadow_id: int, settle: datetime, batch: int) -> tuple[int, bool]:
    """Scores the next (at most `batch`) settled predictions of the rollout's name past its shadow's
    watermark; returns (how many were read, whether that was all of them up to the settle time)."""
    name = f"shadow:{rollout.pk}:{shadow_id}"  # a new shadow version starts its own watermark
    RollupWatermark.objects.get_or_create(name=name, defaults={"last_id": _micros(rollout.updated_at)})
    with transaction.atomic():
        mark = RollupWatermark.objects.select_for_update().get(name=name)
        # created_at >= the mark (ties at a full batch's end are read again) and no shadow row yet: a
        # prediction read twice is skipped, so a run repeated or overlapping stores nothing twice.
        rows = list(
            Prediction.objects.filter(
                model__name=rollout.name, created_at__gte=_moment(mark.last_id), created_at__lte=settle
            )
            .exclude(model_id=shadow_id)
            .exclude(shadow__isnull=False)
            .order_by("created_at", "id")
            .values_list("id", "created_at")[:batch]
        )
        if rows:
            shadow_score(prediction_ids=[str(pk) for pk, _ in rows], shadow_id=shadow_id)
        complete = len(rows) < batch
        if rows or complete:
            # All read up to the settle time: the mark passes it (rows older than it have committed);
            # else it stays on the last row's time, whose unscored ties the next batch reads.
            last = _micros(rows[-1][1]) if rows else mark.last_id
            if not complete and last == mark.last_id:  # a full batch of one instant, none scorable: pass it
                last += 1
            mark.last_id = max(mark.last_id, _micros(settle) + 1 if complete else last)
            mark.save(update_fields=["last_id", "updated_at"])
        return len(rows), complete


def shadow_catch_up(*, now: datetime | None = None, batch: int | None = None) -> int:
    """The beat task of QUALITY_SHADOW_EXECUTION=beat: for each name with a shadow version, scores the
    predictions stored since its watermark (by created_at, QUALITY_SHADOW_BATCH at a time, one vectorized
    call of the shadow each, through `shadow_score` like the other modes), only those older than
    QUALITY_SHADOW_SETTLE_SECONDS so that one still committing is not passed. Returns how many were read.
    In the other modes it sweeps up what their per-call path lost (a thread's buffer at a restart)."""
    now = now or timezone.now()
    batch = batch or settings.QUALITY_SHADOW_BATCH
    settle = now - timedelta(seconds=settings.QUALITY_SHADOW_SETTLE_SECONDS)
    total = 0
    for rollout in Rollout.objects.filter(shadow__isnull=False):
        assert rollout.shadow_id is not None
        complete = False
        while not complete:
            read, complete = _shadow_advance(rollout=rollout, shadow_id=rollout.shadow_id, settle=settle, batch=batch)
            total += read
    return total


# --- configuring and promoting ---


def _staff_only(user) -> None:
    if not user.is_staff:
        raise PermissionDeniedError.single(RolloutErrorCode.PERMISSION_DENIED, "Only staff may change rollouts.")


def _candidate(*, name: str, version: int | None, field: str) -> RegisteredModel | None:
    if version is None:
        return None
    model = RegisteredModel.objects.filter(name=name, version=version).first()
    if model is None:
        raise NotFoundError.single(RolloutErrorCode.NOT_FOUND, f"{name} has no version {version}.", field=field)
    if model.stage != Stage.STAGING:
        raise ApplicationError.single(
            RolloutErrorCode.INVALID_CANDIDATE, "A shadow or canary must be a staging version.", field=field
        )
    return model


def rollout_set(
    *,
    name: str,
    changed_by,
    shadow_version: int | None = None,
    canary_version: int | None = None,
    canary_percent: Decimal | int | float | str = 0,
    sticky: str = Rollout.Sticky.CALL,
) -> Rollout:
    """Sets (or clears, with None) the shadow and canary versions of `name`, which must be in production."""
    _staff_only(changed_by)
    if model_production_current(name=name) is None:
        raise NotFoundError.single(RolloutErrorCode.NOT_FOUND, f"{name} has no production version.", field="name")
    try:
        percent = Decimal(str(canary_percent)).quantize(Decimal("0.01"))
    except ArithmeticError:
        percent = Decimal(-1)
    if not (0 <= percent <= 100) or (canary_version is None and percent > 0):
        raise ApplicationError.single(
            RolloutErrorCode.INVALID_PERCENT,
            "canaryPercent is 0 to 100, and above 0 only with a canary.",
            field="canaryPercent",
        )
    if sticky not in Rollout.Sticky.values:
        raise ApplicationError.single(
            RolloutErrorCode.INVALID_INPUT, f"sticky is one of {Rollout.Sticky.values}.", field="sticky"
        )
    shadow = _candidate(name=name, version=shadow_version, field="shadowVersion")
    canary = _candidate(name=name, version=canary_version, field="canaryVersion")
    rollout, _ = Rollout.objects.update_or_create(
        name=name, defaults={"shadow": shadow, "canary": canary, "canary_percent": percent, "sticky": sticky}
    )
    rollout_cache_clear()
    return rollout


def rollout_promote(
    *, name: str, promoted_by, version: int | None = None, allow_breaking: bool = False
) -> RegisteredModel:
    """Moves the canary (or, without one, the shadow; or the given `version` of them) to production, with
    the registry's schema compatibility check, and takes it out of the rollout: one transaction."""
    _staff_only(promoted_by)
    with transaction.atomic():
        rollout = Rollout.objects.select_for_update().filter(name=name).first()
        candidates = [m for m in (rollout.canary, rollout.shadow) if m is not None] if rollout else []
        if version is not None:
            candidates = [m for m in candidates if m.version == version]
        if rollout is None or not candidates:
            raise ApplicationError.single(
                RolloutErrorCode.NO_CANDIDATE, f"{name} has no canary or shadow version to promote.", field="name"
            )
        candidate = candidates[0]
        current = model_production_current(name=name)
        if current is not None and current.version > candidate.version:
            raise ApplicationError.single(
                RolloutErrorCode.INVALID_CANDIDATE,
                f"{current} is newer and would still answer unpinned calls.",
                field="version",
            )
        model_set_stage(model=candidate, stage=Stage.PRODUCTION, changed_by=promoted_by, allow_breaking=allow_breaking)
        if rollout.canary_id == candidate.pk:
            rollout.canary, rollout.canary_percent = None, Decimal(0)
        if rollout.shadow_id == candidate.pk:
            rollout.shadow = None
        rollout.save()
    rollout_cache_clear()
    from predictions.selectors import model_lookup_cache_clear

    model_lookup_cache_clear()
    return candidate
