import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from mlapi.admin_display import admin_link, decimal, size
from mlapi.errors import ApplicationError
from predictions.error_codes import RegistryErrorCode
from predictions.models import Prediction, RegisteredModel
from predictions.services import model_register, model_set_stage
from predictions.services.registry import model_production_differences
from quality.selectors import model_quality_chart

# Where a service error's `field` is shown on the admin forms (anything else: at the top of the form).
FORM_FIELD_BY_ERROR_FIELD = {
    "name": "name",
    "stage": "stage",
    "description": "description",
    "artifact": "artifact_upload",
    "input_schema": "input_schema_json",
    "metrics": "metrics_json",
}


# Shown beside the checkbox that overrides them.
FORM_FIELD_BY_ERROR_CODE = {
    RegistryErrorCode.BREAKING_CHANGE.value: "allow_breaking",
    RegistryErrorCode.DUPLICATE_ARTIFACT.value: "force",
}


def _errors_onto_form(form: forms.Form, error: ApplicationError) -> None:
    for e in error.errors:
        top = (e.field or "").split(".", 1)[0]
        field = FORM_FIELD_BY_ERROR_CODE.get(e.code) or FORM_FIELD_BY_ERROR_FIELD.get(top)
        form.add_error(field if field in form.fields else None, f"{e.message} ({e.code})")


class RegisterModelForm(forms.ModelForm):
    """Upload form: the service stores the file, hashes it, derives the schema and picks the version.

    The admin re-renders a bound form (keeping what was typed) only when validation fails, and only
    the service knows every reason a registration is refused, so the service call is the form's last
    validation step; `save_model` then has nothing left to write.
    """

    artifact_upload = forms.FileField(label="Artifact (.joblib, .pkl or .skops)")
    input_schema_json = forms.CharField(
        label="Input schema (JSON, optional)", required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    metrics_json = forms.CharField(
        label="Metrics (JSON, optional)", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    approved_types = forms.CharField(
        label="skops types to trust beyond those skops and scikit-learn trust (comma separated)", required=False
    )
    force = forms.BooleanField(label="Register even if this file is already registered under this name", required=False)
    allow_breaking = forms.BooleanField(
        label="Into production even if its inputs break clients of the current production version", required=False
    )

    # Set per request by RegisteredModelAdmin.get_form.
    registrant = None

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

    def full_clean(self):
        super().full_clean()
        self.registered = None
        if self.is_bound and not self._errors:
            self._register()

    def _register(self) -> None:
        data = self.cleaned_data
        upload = data["artifact_upload"]
        try:
            self.registered = model_register(
                registered_by=self.registrant,
                name=data["name"],
                artifact=upload,
                filename=upload.name,
                description=data.get("description", ""),
                stage=data["stage"],
                input_schema=data.get("input_schema"),
                metrics=data.get("metrics"),
                approved_types=[t.strip() for t in (data.get("approved_types") or "").split(",") if t.strip()],
                force=data.get("force", False),
                allow_breaking=data.get("allow_breaking", False),
            )
        except ApplicationError as error:
            _errors_onto_form(self, error)


class ChangeModelForm(forms.ModelForm):
    """Description and stage; a stage change goes through model_set_stage as the last validation step."""

    allow_breaking = forms.BooleanField(
        label="Into production even if its inputs break clients of the current production version", required=False
    )

    changed_by = None

    class Meta:
        model = RegisteredModel
        fields = ("description", "stage")

    def full_clean(self):
        super().full_clean()
        if self.is_bound and not self._errors and "stage" in self.changed_data:
            try:
                model_set_stage(
                    model=self.instance,
                    stage=self.cleaned_data["stage"],
                    changed_by=self.changed_by,
                    allow_breaking=self.cleaned_data.get("allow_breaking", False),
                )
            except ApplicationError as error:
                _errors_onto_form(self, error)


@admin.register(RegisteredModel)
class RegisteredModelAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "version",
        "stage",
        "task",
        "artifact_format",
        "artifact_size",
        "registered_by",
        "created_at",
    )
    list_filter = ("stage", "task", "artifact_format")
    search_fields = ("name", "description", "sha256")
    actions = ("promote_to_production", "archive")
    breaking_confirmation_template = "admin/predictions/registeredmodel/breaking_change_confirmation.html"
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

    @admin.display(description="size", ordering="size_bytes")
    def artifact_size(self, model):
        return size(model.size_bytes)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        model = self.get_object(request, object_id)
        extra_context = {**(extra_context or {}), "quality_chart": model and model_quality_chart(model=model)}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, **kwargs):
        kwargs["form"] = RegisterModelForm if obj is None else ChangeModelForm
        form = super().get_form(request, obj, **kwargs)
        # modelform_factory made a fresh class for this request, so a class attribute is per request.
        form.registrant = form.changed_by = request.user
        return form

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ()

    def get_fields(self, request, obj=None):
        if obj is None:
            return (
                "name",
                "description",
                "stage",
                "artifact_upload",
                "input_schema_json",
                "metrics_json",
                "approved_types",
                "force",
                "allow_breaking",
            )
        return ("description", "stage", "allow_breaking", *self.readonly_fields)

    def save_form(self, request, form, change):
        if not change:
            return form.registered
        return super().save_form(request, form, change)

    def save_related(self, request, form, formsets, change):
        if change:  # a new model has no many-to-many fields, and its form was never saved by Django
            super().save_related(request, form, formsets, change)

    def save_model(self, request, obj, form, change):
        # A new model was saved by model_register and a stage by model_set_stage, during validation.
        if change:
            RegisteredModel.objects.filter(pk=obj.pk).update(description=obj.description)

    def _set_stage(self, request, queryset, stage: str, *, allow_breaking: bool = False) -> None:
        changed = 0
        for model in queryset:
            try:
                model_set_stage(model=model, stage=stage, changed_by=request.user, allow_breaking=allow_breaking)
                changed += 1
            except ApplicationError as error:
                for e in error.errors:
                    self.message_user(request, f"{model}: {e.message} ({e.code})", level=messages.ERROR)
        self.message_user(request, f"{changed} model(s) set to {stage}.")

    @admin.action(description="Promote to production")
    def promote_to_production(self, request, queryset):
        confirmed = request.POST.get("confirm_breaking") == "yes"
        if not confirmed:
            breaking = [
                (model, [d for d in model_production_differences(model=model) if d.breaking])
                for model in queryset
                if model.stage != RegisteredModel.Stage.PRODUCTION
            ]
            breaking = [(model, differences) for model, differences in breaking if differences]
            if breaking:
                return self._breaking_confirmation(request, queryset, breaking)
        self._set_stage(request, queryset, RegisteredModel.Stage.PRODUCTION, allow_breaking=confirmed)
        return None

    def _breaking_confirmation(self, request, queryset, breaking) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": "Promote despite breaking input changes?",
            "subtitle": None,
            "opts": self.model._meta,
            "queryset": queryset,
            "breaking": breaking,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.breaking_confirmation_template, context)

    @admin.action(description="Archive")
    def archive(self, request, queryset):
        self._set_stage(request, queryset, RegisteredModel.Stage.ARCHIVED)


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = ("id", "user_link", "model_link", "created_at", "latency", "cost")
    list_filter = ("model__name", "created_at")
    search_fields = ("id", "user__username", "model__name")
    date_hierarchy = "created_at"
    list_select_related = ("user", "model", "usage")
    readonly_fields = [f.name for f in Prediction._meta.fields]

    @admin.display(description="user", ordering="user__username")
    def user_link(self, prediction):
        return admin_link(prediction.user)

    @admin.display(description="model", ordering="model__name")
    def model_link(self, prediction):
        return admin_link(prediction.model)

    @admin.display(description="latency (ms)", ordering="latency_ms")
    def latency(self, prediction):
        return decimal(prediction.latency_ms)

    @admin.display(description="cost of its call")
    def cost(self, prediction):
        usage = prediction.usage
        return admin_link(usage, f"{decimal(usage.amount)} {usage.currency}")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
