"""Feedback (read-only), live quality per day, and rollouts with the one-action promotion."""

from django.contrib import admin, messages

from mlapi.errors import ApplicationError
from quality.models import DriftResult, Feedback, QualityDay, Rollout
from quality.services.rollouts import rollout_promote


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Feedback)
class FeedbackAdmin(ReadOnlyAdmin):
    list_display = ("id", "prediction_id", "model", "user", "actual", "current", "observed_at", "created_at")
    list_filter = ("current", "model")
    list_select_related = ("model", "user")
    show_full_result_count = False  # no COUNT(*) over a large table on every page


@admin.register(QualityDay)
class QualityDayAdmin(ReadOnlyAdmin):
    """Live quality per model version and UTC day, on every customer's feedback (the rollup's figures)."""

    list_display = ("day", "model", "count", "accuracy", "f1_macro", "log_loss", "mae", "rmse", "r2")
    list_filter = ("model",)
    list_select_related = ("model",)
    ordering = ("-day",)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(user__isnull=True)

    def _figure(self, day: QualityDay, name: str):
        value = (day.figures or {}).get(name)
        return None if value is None else round(value, 4)

    @admin.display(description="accuracy")
    def accuracy(self, day):
        return self._figure(day, "accuracy")

    @admin.display(description="macro F1")
    def f1_macro(self, day):
        return self._figure(day, "f1_macro")

    @admin.display(description="log-loss")
    def log_loss(self, day):
        return self._figure(day, "log_loss")

    @admin.display(description="MAE")
    def mae(self, day):
        return self._figure(day, "mae")

    @admin.display(description="RMSE")
    def rmse(self, day):
        return self._figure(day, "rmse")

    @admin.display(description="R²")
    def r2(self, day):
        return self._figure(day, "r2")


@admin.register(Rollout)
class RolloutAdmin(admin.ModelAdmin):
    """Rollouts are set through the API (setRollout) or `rollout_set`; here they are promoted. (Django
    runs list actions only for those who may change: every field is read-only instead.)"""

    readonly_fields = ("name", "shadow", "canary", "canary_percent", "sticky", "updated_at")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    list_display = ("name", "shadow", "canary", "canary_percent", "sticky", "updated_at")
    list_select_related = ("shadow", "canary")
    actions = ["promote"]

    @admin.action(description="Promote the canary (or the shadow) to production")
    def promote(self, request, queryset):
        for rollout in queryset:
            try:
                model = rollout_promote(name=rollout.name, promoted_by=request.user)
            except ApplicationError as error:
                codes = ", ".join(e.code for e in error.errors)
                messages.error(request, f"{rollout.name}: not promoted ({codes}): {error.errors[0].message}")
            else:
                messages.success(request, f"{model} is now in production.")


@admin.register(DriftResult)
class DriftResultAdmin(ReadOnlyAdmin):
    """The latest drift figures per model version, feature and window (flagged ones first)."""

    list_display = (
        "model",
        "window",
        "feature",
        "statistic",
        "value",
        "p_value",
        "threshold",
        "drifted",
        "rows",
        "computed_at",
    )
    list_filter = ("drifted", "window", "model")
    list_select_related = ("model",)
    ordering = ("-drifted", "model", "feature", "statistic")
