import json

from django import forms
from django.contrib import admin, messages

from mlapi.errors import ApplicationError
from predictions.models import Prediction, RegisteredModel
from predictions.services import model_register, model_set_stage


class RegisterModelForm(forms.ModelForm):
    """Upload form: the service stores the file, hashes it, derives the schema and picks the version."""

    artifact_upload = forms.FileField(label="Artifact (.joblib, .pkl or .skops)")
    input_schema_json = forms.CharField(
        label="Input schema (JSON, optional)", required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    metrics_json = forms.CharField(label="Metrics (JSON, optional)", required=False, widget=forms.Textarea(attrs={"rows": 2}))
    approved_types = forms.CharField(
        label="skops types to trust beyond those skops and scikit-learn trust (comma separated)", required=False
    )

    class Meta:
        model = RegisteredModel
        fields = ("name", "description", "stage")

    def _json(self, field: str):
        text = self.cleaned_data.get(field) or ""
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise forms.ValidationError({field: "Not valid JSON."}) from None

    def clean(self):
        cleaned = super().clean()
        cleaned["input_schema"] = self._json("input_schema_json")
        cleaned["metrics"] = self._json("metrics_json")
        return cleaned


@admin.register(RegisteredModel)
class RegisteredModelAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "stage", "task", "artifact_format", "size_bytes", "registered_by", "created_at")
    list_filter = ("stage", "task", "artifact_format")
    search_fields = ("name", "description", "sha256")
    actions = ("promote_to_production", "archive")
    readonly_fields = (
        "name",
        "version",
        "artifact",
        "artifact_format",
        "sha256",
        "size_bytes",
        "trusted_types",
        "input_schema",
        "task",
        "classes",
        "metrics",
        "registered_by",
        "created_at",
    )

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = RegisterModelForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ()

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "description", "stage", "artifact_upload", "input_schema_json", "metrics_json", "approved_types")
        return ("description", "stage", *self.readonly_fields)

    def save_model(self, request, obj, form, change):
        if change:
            model_set_stage(model=obj, stage=form.cleaned_data["stage"], changed_by=request.user)
            RegisteredModel.objects.filter(pk=obj.pk).update(description=obj.description)
            return
        upload = form.cleaned_data["artifact_upload"]
        approved = [t.strip() for t in (form.cleaned_data.get("approved_types") or "").split(",") if t.strip()]
        registered = model_register(
            registered_by=request.user,
            name=form.cleaned_data["name"],
            artifact=upload,
            filename=upload.name,
            description=form.cleaned_data.get("description", ""),
            stage=form.cleaned_data["stage"],
            input_schema=form.cleaned_data.get("input_schema"),
            metrics=form.cleaned_data.get("metrics"),
            approved_types=approved,
        )
        obj.pk = registered.pk
        obj.version = registered.version

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except ApplicationError as error:
            for e in error.errors:
                self.message_user(request, f"{e.field or 'model'}: {e.message} ({e.code})", level=messages.ERROR)
            from django.http import HttpResponseRedirect

            return HttpResponseRedirect(request.path)

    def _set_stage(self, request, queryset, stage: str) -> None:
        for model in queryset:
            model_set_stage(model=model, stage=stage, changed_by=request.user)
        self.message_user(request, f"{queryset.count()} model(s) set to {stage}.")

    @admin.action(description="Promote to production")
    def promote_to_production(self, request, queryset):
        self._set_stage(request, queryset, RegisteredModel.Stage.PRODUCTION)

    @admin.action(description="Archive")
    def archive(self, request, queryset):
        self._set_stage(request, queryset, RegisteredModel.Stage.ARCHIVED)


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "model", "created_at", "latency_ms")
    list_filter = ("model__name", "created_at")
    search_fields = ("id", "user__username", "model__name")
    date_hierarchy = "created_at"
    list_select_related = ("user", "model")
    readonly_fields = [f.name for f in Prediction._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
