from django.contrib import admin

from batch.models import BatchChunk, BatchJob, BatchUpload
from batch.services.jobs import batch_job_cancel, batch_job_resume
from mlapi.errors import ApplicationError


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return obj is None  # the changelist (and its actions), never editing a row's fields

    def has_delete_permission(self, request, obj=None):
        return False


class BatchChunkInline(admin.TabularInline):
    model = BatchChunk
    fields = ("index", "first_row", "row_count", "rows_done", "rows_failed", "done_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0


@admin.register(BatchJob)
class BatchJobAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "user",
        "model",
        "status",
        "rows_total",
        "rows_done",
        "rows_failed",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "model__name")
    search_fields = ("id", "user__username", "upload__filename")
    date_hierarchy = "created_at"
    list_select_related = ("user", "model")
    readonly_fields = [f.name for f in BatchJob._meta.fields]
    inlines = (BatchChunkInline,)
    actions = ("cancel", "resume")

    def _apply(self, request, queryset, service, verb: str) -> None:
        done = 0
        for job in queryset.select_related("user"):
            try:
                service(user=job.user, job_id=job.pk)
                done += 1
            except ApplicationError as error:
                self.message_user(request, f"{job.pk}: {error.errors[0].message}", level="WARNING")
        self.message_user(request, f"{done} job(s) {verb}.")

    @admin.action(description="Cancel")
    def cancel(self, request, queryset):
        self._apply(request, queryset, batch_job_cancel, "cancelled")

    @admin.action(description="Resume (paused or failed)")
    def resume(self, request, queryset):
        self._apply(request, queryset, batch_job_resume, "resumed")


@admin.register(BatchUpload)
class BatchUploadAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "filename", "format", "size_bytes", "created_at")
    list_filter = ("format",)
    search_fields = ("id", "user__username", "filename", "sha256")
    list_select_related = ("user",)
    readonly_fields = [f.name for f in BatchUpload._meta.fields]
