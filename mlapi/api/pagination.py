from django.conf import settings
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination

from mlapi.cursors import MAX_CURSOR_LENGTH, InvalidCursorError, PaginationErrorCode, cursor_field, cursor_value
from mlapi.errors import ApplicationError


class StrictCursorPagination(CursorPagination):
    """DRF's cursor pagination; a cursor that is not one it handed out is a 400 INVALID_CURSOR, never a 404 or a
    500: its position must be a value of the first ordering field."""

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is not None and len(encoded) > MAX_CURSOR_LENGTH:
            raise _invalid_cursor()
        try:
            cursor = super().decode_cursor(request)
            if cursor is not None and cursor.position is not None:
                cursor_value(cursor_field(self._model, self.ordering[0].lstrip("-")), cursor.position)
        except (NotFound, InvalidCursorError):
            raise _invalid_cursor() from None
        return cursor


def _invalid_cursor() -> ApplicationError:
    return ApplicationError.single(PaginationErrorCode.INVALID_CURSOR, "Invalid cursor.", field="cursor")


class NewestFirstCursorPagination(StrictCursorPagination):
    ordering = ("-created_at", "-pk")
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = settings.RELAY_CONNECTION_MAX_LIMIT


class ByIdCursorPagination(NewestFirstCursorPagination):
    ordering = ("pk",)
