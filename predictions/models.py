import uuid

from django.conf import settings
from django.db import models

from predictions.ids import uuid7


def artifact_upload_to(instance: "RegisteredModel", filename: str) -> str:
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"models/{instance.name}/{uuid.uuid4().hex}.{suffix}"


class RegisteredModel(models.Model):
    """One version of a trained estimator in the registry."""

    class Stage(models.TextChoices):
        STAGING = "staging"
        PRODUCTION = "production"
        ARCHIVED = "archived"

    class Task(models.TextChoices):
        CLASSIFICATION = "classification"
        MULTILABEL_CLASSIFICATION = "multilabel_classification", "multi-label classification"
        REGRESSION = "regression"
        MULTIOUTPUT_REGRESSION = "multioutput_regression", "multi-output regression"
        CLUSTERING = "clustering"
        OUTLIER_DETECTION = "outlier_detection", "outlier detection"

    class Format(models.TextChoices):
        JOBLIB = "joblib"
        SKOPS = "skops"

    name = models.SlugField(max_length=100)
    version = models.PositiveIntegerField()
    description = models.TextField(blank=True)
    artifact = models.FileField(upload_to=artifact_upload_to, max_length=255)
    artifact_format = models.CharField(max_length=8, choices=Format.choices)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveBigIntegerField()
    trusted_types = models.JSONField(default=list, blank=True, help_text="skops types approved at registration.")
    input_schema = models.JSONField()
    task = models.CharField(max_length=32, choices=Task.choices)
    classes = models.JSONField(default=list, blank=True)
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.STAGING, db_index=True)
    metrics = models.JSONField(default=dict, blank=True)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="registered_models"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    # What both APIs show of a model (not the artifact path, trusted types or registrant).
    PUBLIC_FIELDS = (
        "id",
        "name",
        "version",
        "description",
        "stage",
        "task",
        "artifact_format",
        "sha256",
        "size_bytes",
        "input_schema",
        "classes",
        "metrics",
        "created_at",
    )

    class Meta:
        ordering = ["name", "-version"]
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="registered_model_name_version")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class Prediction(models.Model):
    """One scored instance; `usage` is the billed call it belongs to (same transaction)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)  # time-ordered: see predictions.ids
    # `user` and `model` are copies of the usage record's, written by the same statement (they let the
    # caller's listings use an index). The database checks them there, on the usage record: checking them
    # again on every row would be two more foreign-key lookups per prediction.
    # Not indexed alone: prediction_user_recent_idx leads with user (one index less on every insert).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="predictions",
        db_index=False,
        db_constraint=False,
    )
    model = models.ForeignKey(
        RegisteredModel, on_delete=models.PROTECT, related_name="predictions", db_constraint=False
    )
    usage = models.ForeignKey("billing.UsageRecord", on_delete=models.PROTECT, related_name="prediction_rows")
    position = models.PositiveIntegerField(default=0, help_text="Index of the instance within its call.")
    input = models.JSONField()
    output = models.JSONField()
    latency_ms = models.DecimalField(max_digits=12, decimal_places=3)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="prediction_user_recent_idx"),
            models.Index(fields=["-created_at", "-id"], name="prediction_recent_idx"),
            # predictions(filter: {model}) with totalCount: an index-only COUNT, not a scan of the caller's rows
            models.Index(fields=["user", "model", "-created_at", "-id"], name="prediction_user_model_idx"),
        ]

    def __str__(self) -> str:
        return f"prediction {self.pk} by {self.model}"
