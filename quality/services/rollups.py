"""The quality rollup: folds feedback rows past a watermark into hourly sums, never rescanning.

Each feedback row adds its contribution to the hour its prediction was made in, for its customer and
for everyone; a row that replaces an earlier value first takes that value's contribution away (the
earlier row has a lower id, so it was folded in already). One run at a time: the watermark row is
locked for the run's transaction, and rollup rows are only written under it.
"""

from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from predictions.models import RegisteredModel
from quality.actuals import CLASS_TASKS, model_classes
from quality.hours import hour_of
from quality.metrics import (
    SUM_FIELDS,
    Sums,
    figures_of,
    label_key,
    probability_sums,
    regression_sums,
)
from quality.models import AgreementRollup, Feedback, QualityDay, QualityRollup, RollupWatermark, ShadowPrediction

FEEDBACK_WATERMARK = "feedback"
Task = RegisteredModel.Task


def _settled(rows: list[dict], *, now: datetime) -> list[dict]:
    """The rows up to (not including) the first one younger than the settle time, in id order."""
    settle = now - timedelta(seconds=settings.QUALITY_ROLLUP_SETTLE_SECONDS)
    for index, row in enumerate(rows):
        if row["created_at"] > settle:
            return rows[:index]
    return rows


def _contributions(*, model: RegisteredModel, terms: list[tuple[dict, object]]) -> Sums:
    """Sums over (prediction output, actual) pairs of one model version."""
    sums = Sums(count=len(terms))
    if model.task in CLASS_TASKS:
        classes = model_classes(model)
        keys = [str(c) for c in classes]
        with_proba = []
        for output, actual in terms:
            row = sums.confusion.setdefault(label_key(actual), {})
            predicted = label_key(output.get("label"))
            row[predicted] = row.get(predicted, 0) + 1
            probabilities = output.get("probabilities")
            if isinstance(probabilities, dict) and len(classes) >= 2:
                with_proba.append((actual, [probabilities.get(k, 0.0) for k in keys]))
        if with_proba:
            sums.probability_count = len(with_proba)
            sums.log_loss_sum, sums.brier_sum = probability_sums(
                actuals=[a for a, _ in with_proba], probabilities=[p for _, p in with_proba], classes=classes
            )
    elif model.task == Task.REGRESSION:
        pairs = [
            (actual, output.get("value")) for output, actual in terms if isinstance(output.get("value"), (int, float))
        ]
        sums.count = len(pairs)
        if pairs:
            for name, value in regression_sums(actuals=[a for a, _ in pairs], predicted=[p for _, p in pairs]).items():
                setattr(sums, name, value)
    # Other tasks: feedback is stored and counted; no figures are computed for them yet.
    return sums


def _rollup_apply(table, bucket: str, deltas: dict[tuple, Sums]) -> list:
    """Adds each (model, user or None, bucket) delta to its row of `table`, creating rows as needed;
    returns the rows written."""
    if not deltas:
        return []
    users = {k[1] for k in deltas if k[1] is not None}
    existing = {
        (r.model_id, r.user_id, getattr(r, bucket)): r
        for r in table.objects.filter(
            Q(user_id__in=users) | Q(user__isnull=True),
            model_id__in={k[0] for k in deltas},
            **{f"{bucket}__in": {k[2] for k in deltas}},
        )
    }
    changed, created = [], []
    for (model_id, user_id, value), delta in deltas.items():
        row = existing.get((model_id, user_id, value))
        if row is None:
            row = table(model_id=model_id, user_id=user_id, **{bucket: value})
            created.append(row)
        else:
            changed.append(row)
        sums = Sums(**{name: getattr(row, name) for name in SUM_FIELDS})
        sums.add(delta)
        for name in SUM_FIELDS:
            setattr(row, name, getattr(sums, name))
    return created, changed


def _write(table, created: list, changed: list, fields: list[str]) -> None:
    table.objects.bulk_create(created)
    table.objects.bulk_update(changed, fields, batch_size=500)


def _days_apply(deltas: dict[tuple, Sums], models: dict[int, RegisteredModel]) -> None:
    """The day rows take the same deltas, then get their figures recomputed from their new sums."""
    by_day: dict[tuple, Sums] = defaultdict(Sums)
    for (model_id, user_id, hour), delta in deltas.items():
        by_day[(model_id, user_id, hour.date())].add(delta)
    created, changed = _rollup_apply(QualityDay, "day", by_day)
    for row in (*created, *changed):
        row.figures = figures_of(
            model=models[row.model_id], sums=Sums(**{name: getattr(row, name) for name in SUM_FIELDS})
        )
    _write(QualityDay, created, changed, [*SUM_FIELDS, "figures"])


def quality_rollup_advance(*, now: datetime | None = None, batch: int | None = None) -> int:
    """Folds the next settled feedback rows (at most `batch`) into the rollups; returns how many."""
    now = now or timezone.now()
    batch = batch or settings.QUALITY_ROLLUP_BATCH
    RollupWatermark.objects.get_or_create(name=FEEDBACK_WATERMARK)
    with transaction.atomic():
        mark = RollupWatermark.objects.select_for_update().get(name=FEEDBACK_WATERMARK)
        rows = list(
            Feedback.objects.filter(id__gt=mark.last_id)
            .order_by("id")
            .values(
                "id",
                "model_id",
                "user_id",
                "actual",
                "replaces_id",
                "created_at",
                "prediction_id",
                "prediction__output",
                "prediction__created_at",
            )[:batch]
        )
        rows = _settled(rows, now=now)
        if not rows:
            return 0
        replaced = dict(
            Feedback.objects.filter(id__in=[r["replaces_id"] for r in rows if r["replaces_id"]]).values_list(
                "id", "actual"
            )
        )
        # The shadow version's answers to the same predictions get the same feedback (a shadow answer
        # stored after its feedback was folded in is not counted for the shadow).
        shadows = {
            s["prediction_id"]: s
            for s in ShadowPrediction.objects.filter(prediction_id__in=[r["prediction_id"] for r in rows]).values(
                "prediction_id", "model_id", "output"
            )
        }
        model_ids = {r["model_id"] for r in rows} | {s["model_id"] for s in shadows.values()}
        models = {m.pk: m for m in RegisteredModel.objects.filter(pk__in=model_ids)}
        # (model, user, hour, sign) -> [(output, actual)]
        terms: dict[tuple, list] = defaultdict(list)
        for row in rows:
            hour = hour_of(row["prediction__created_at"])
            answers = [(row["model_id"], row["prediction__output"])]
            if row["prediction_id"] in shadows:
                shadow = shadows[row["prediction_id"]]
                answers.append((shadow["model_id"], shadow["output"]))
            for model_id, output in answers:
                key = (model_id, row["user_id"], hour)
                terms[(*key, 1)].append((output, row["actual"]))
                if row["replaces_id"]:
                    terms[(*key, -1)].append((output, replaced[row["replaces_id"]]))
        deltas: dict[tuple, Sums] = defaultdict(Sums)
        for (model_id, user_id, hour, sign), group in terms.items():
            sums = _contributions(model=models[model_id], terms=group)
            deltas[(model_id, user_id, hour)].add(sums, sign)
            deltas[(model_id, None, hour)].add(sums, sign)
        created, changed = _rollup_apply(QualityRollup, "hour", deltas)
        _write(QualityRollup, created, changed, SUM_FIELDS)
        _days_apply(deltas, models)
        mark.last_id = rows[-1]["id"]
        mark.save(update_fields=["last_id", "updated_at"])
    return len(rows)


SHADOW_WATERMARK = "shadow"


def agreement_rollup_advance(*, now: datetime | None = None, batch: int | None = None) -> int:
    """Folds the next settled shadow answers (at most `batch`) into the hourly agreement rollup."""
    now = now or timezone.now()
    batch = batch or settings.QUALITY_ROLLUP_BATCH
    RollupWatermark.objects.get_or_create(name=SHADOW_WATERMARK)
    with transaction.atomic():
        mark = RollupWatermark.objects.select_for_update().get(name=SHADOW_WATERMARK)
        rows = list(
            ShadowPrediction.objects.filter(id__gt=mark.last_id)
            .order_by("id")
            .values(
                "id",
                "model_id",
                "agrees",
                "absolute_difference",
                "created_at",
                "prediction__model_id",
                "prediction__user_id",
                "prediction__created_at",
            )[:batch]
        )
        rows = _settled(rows, now=now)
        if not rows:
            return 0
        deltas: dict[tuple, list] = defaultdict(lambda: [0, 0, 0.0, 0])
        for row in rows:
            hour = hour_of(row["prediction__created_at"])
            for user_id in (row["prediction__user_id"], None):
                delta = deltas[(row["prediction__model_id"], row["model_id"], user_id, hour)]
                if row["agrees"] is not None:
                    delta[0] += 1
                    delta[1] += int(row["agrees"])
                if row["absolute_difference"] is not None:
                    delta[2] += row["absolute_difference"]
                    delta[3] += 1
        users = {k[2] for k in deltas if k[2] is not None}
        existing = {
            (r.model_id, r.shadow_id, r.user_id, r.hour): r
            for r in AgreementRollup.objects.filter(
                Q(user_id__in=users) | Q(user__isnull=True),
                model_id__in={k[0] for k in deltas},
                hour__in={k[3] for k in deltas},
            )
        }
        created, changed = [], []
        for (model_id, shadow_id, user_id, hour), (compared, agreed, difference, differences) in deltas.items():
            row = existing.get((model_id, shadow_id, user_id, hour))
            if row is None:
                row = AgreementRollup(model_id=model_id, shadow_id=shadow_id, user_id=user_id, hour=hour)
                created.append(row)
            else:
                changed.append(row)
            row.compared += compared
            row.agreed += agreed
            row.absolute_difference_sum += difference
            row.absolute_difference_count += differences
        AgreementRollup.objects.bulk_create(created)
        AgreementRollup.objects.bulk_update(
            changed, ["compared", "agreed", "absolute_difference_sum", "absolute_difference_count"], batch_size=500
        )
        mark.last_id = rows[-1]["id"]
        mark.save(update_fields=["last_id", "updated_at"])
    return len(rows)


def quality_rollup_catch_up(*, now: datetime | None = None) -> int:
    """Runs the agreement and then the feedback rollups until nothing settled is left (the beat task)."""
    total = 0
    while folded := agreement_rollup_advance(now=now):
        total += folded
    while folded := quality_rollup_advance(now=now):
        total += folded
    return total
