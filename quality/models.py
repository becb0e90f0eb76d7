"""Ground-truth feedback on stored predictions, the hourly quality rollups built from it, and the
shadow/canary set-up of a production model."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Feedback(models.Model):
    """One submitted ground-truth value. Re-submitting adds a row that `replaces` the previous one, which
    stops being `current`: the history is every row of a prediction, in id order.

    Rows are append-only apart from `current`; the rollup reads them by id past its watermark."""

    id = models.BigAutoField(primary_key=True)
    prediction = models.ForeignKey("predictions.Prediction", on_delete=models.CASCADE, related_name="feedback")
    # Denormalized from the prediction (the version that answered) so the rollup never joins wide rows.
    # No indexes of their own on model/user/replaces: every read goes by id (the rollup) or by
    # prediction (history, the current row), and each index costs the bulk insert.
    model = models.ForeignKey("predictions.RegisteredModel", on_delete=models.PROTECT, related_name="+", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False)
    actual = models.JSONField()
    observed_at = models.DateTimeField()
    created_at = models.DateTimeField()
    replaces = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replaced_by", db_index=False
    )
    current = models.BooleanField(default=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["prediction"], condition=Q(current=True), name="feedback_one_current"),
        ]
        verbose_name_plural = "feedback"

    def __str__(self) -> str:
        return f"feedback {self.pk} on {self.prediction_id}"


class RollupSums(models.Model):
    """Sufficient statistics of the current feedback on one model version's predictions made in one
    period, for one customer (`user`) or for every customer (`user` null: what staff see).

    Every figure is a sum, so replacing a value is a subtraction and a window is a sum of periods."""

    model = models.ForeignKey("predictions.RegisteredModel", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    count = models.BigIntegerField(default=0, help_text="Predictions with current feedback.")
    # Classifiers: {json(actual): {json(predicted): n}}.
    confusion = models.JSONField(default=dict, blank=True)
    probability_count = models.BigIntegerField(
        default=0, help_text="Of those, predictions that returned probabilities."
    )
    log_loss_sum = models.FloatField(default=0.0)
    brier_sum = models.FloatField(default=0.0)
    # Regressors.
    actual_sum = models.FloatField(default=0.0)
    actual_square_sum = models.FloatField(default=0.0)
    absolute_error_sum = models.FloatField(default=0.0)
    squared_error_sum = models.FloatField(default=0.0)

    class Meta:
        abstract = True


class QualityRollup(RollupSums):
    """One UTC hour: windows are sums of hours."""

    hour = models.DateTimeField(help_text="Start of the UTC hour the predictions were made in.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["model", "user", "hour"], condition=Q(user__isnull=False), name="quality_rollup_user_hour"
            ),
            models.UniqueConstraint(
                fields=["model", "hour"], condition=Q(user__isnull=True), name="quality_rollup_all_hour"
            ),
        ]
        indexes = [models.Index(fields=["model", "user", "hour"], name="quality_rollup_read_idx")]


class QualityDay(RollupSums):
    """One UTC day, with its figures computed (by scikit-learn) when the rollup last changed it."""

    day = models.DateField()
    figures = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["model", "user", "day"], condition=Q(user__isnull=False), name="quality_day_user"
            ),
            models.UniqueConstraint(fields=["model", "day"], condition=Q(user__isnull=True), name="quality_day_all"),
        ]
        indexes = [models.Index(fields=["model", "user", "day"], name="quality_day_read_idx")]


class RollupWatermark(models.Model):
    """How far a rollup has read its source table (the last id folded in)."""

    name = models.CharField(max_length=40, unique=True)
    last_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_id}"


class Rollout(models.Model):
    """How the unpinned traffic of one model name is served beside its production version.

    `canary`: answers `canary_percent` % of unpinned calls (the answer and the stored prediction are
    the canary's own). `shadow`: scores every prediction of the name after the response; its output
    is stored linked to the prediction, never returned and never billed."""

    class Sticky(models.TextChoices):
        CALL = "call", "per call (a call with an idempotency key: per key, so a retry hits the same version)"
        CALLER = "caller", "per caller (a customer always gets the same version)"

    name = models.SlugField(max_length=100, unique=True)
    shadow = models.ForeignKey(
        "predictions.RegisteredModel", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    canary = models.ForeignKey(
        "predictions.RegisteredModel", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    canary_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    sticky = models.CharField(max_length=8, choices=Sticky.choices, default=Sticky.CALL)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(canary_percent__gte=0) & Q(canary_percent__lte=100), name="rollout_canary_percent_range"
            ),
        ]

    def __str__(self) -> str:
        return f"rollout of {self.name}"


class ShadowPrediction(models.Model):
    """A shadow version's answer to a stored prediction's input (never returned, never billed)."""

    prediction = models.OneToOneField("predictions.Prediction", on_delete=models.CASCADE, related_name="shadow")
    model = models.ForeignKey("predictions.RegisteredModel", on_delete=models.PROTECT, related_name="+")
    output = models.JSONField()
    agrees = models.BooleanField(null=True, help_text="Same label (classifiers) / within 1e-9 (numbers) as the answer.")
    absolute_difference = models.FloatField(null=True, blank=True, help_text="Regressors: |shadow − answer|.")
    created_at = models.DateTimeField()


class AgreementRollup(models.Model):
    """Per UTC hour: how often a shadow version agreed with the version that answered (`model`), for
    one customer or for everyone (`user` null). Folded in from ShadowPrediction rows past a watermark."""

    model = models.ForeignKey("predictions.RegisteredModel", on_delete=models.CASCADE, related_name="+")
    shadow = models.ForeignKey("predictions.RegisteredModel", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    hour = models.DateTimeField()
    compared = models.BigIntegerField(default=0)
    agreed = models.BigIntegerField(default=0)
    absolute_difference_sum = models.FloatField(default=0.0)
    absolute_difference_count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["model", "shadow", "user", "hour"], condition=Q(user__isnull=False), name="agreement_user_hour"
            ),
            models.UniqueConstraint(
                fields=["model", "shadow", "hour"], condition=Q(user__isnull=True), name="agreement_all_hour"
            ),
        ]
        indexes = [models.Index(fields=["model", "user", "hour"], name="agreement_read_idx")]


class DriftReference(models.Model):
    """Per-feature statistics of a model version's reference inputs (a registered sample, or its first
    production inputs), and of its outputs on them."""

    class Source(models.TextChoices):
        SAMPLE = "sample", "a reference sample (CSV)"
        PRODUCTION = "production", "the first production inputs"

    model = models.OneToOneField(
        "predictions.RegisteredModel", on_delete=models.CASCADE, related_name="drift_reference"
    )
    source = models.CharField(max_length=12, choices=Source.choices)
    rows = models.PositiveIntegerField()
    # {feature: {"kind": "number", "edges": [...], "fractions": [...], "sample": [...], "mean", "std", "null_rate"}
    #          | {"kind": "category", "frequencies": {value: fraction}, "null_rate"}}; outputs under "__output__".
    statistics = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)


class DriftResult(models.Model):
    """The latest drift figure of one feature (or the output) of a model version over a window."""

    model = models.ForeignKey("predictions.RegisteredModel", on_delete=models.CASCADE, related_name="+")
    window = models.CharField(max_length=4)
    feature = models.CharField(max_length=200, help_text='A feature name, or "__output__".')
    statistic = models.CharField(max_length=16)  # psi, ks, chi_square, jensen_shannon
    value = models.FloatField()
    p_value = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    drifted = models.BooleanField()
    rows = models.PositiveIntegerField(help_text="Recent inputs compared with the reference.")
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model", "window", "feature", "statistic"], name="drift_result_unique"),
        ]
