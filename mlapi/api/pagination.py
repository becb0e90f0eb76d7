from base64 import b64decode
from urllib.parse import parse_qs

from django.conf import settings
from rest_framework.pagination import Cursor, CursorPagination, _positive_int

from mlapi.cursors import MAX_CURSOR_LENGTH, InvalidCursorError, PaginationErrorCode, cursor_field, cursor_value
from mlapi.errors import ApplicationError

_CURSOR_TOKENS = {"o", "r", "p"}  # offset, reverse, position: what DRF's encode_cursor writes


class StrictCursorPagination(CursorPagination):
    """DRF's cursor pagination, decoding only what its `encode_cursor` writes: anything else is a 400
    INVALID_CURSOR (DRF answers 404 for some forged cursors, and 500 for a position its field cannot hold)."""

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            if len(encoded) > MAX_CURSOR_LENGTH:
                raise InvalidCursorError
            querystring = b64decode(encoded.encode("ascii"), validate=True).decode("ascii")
            tokens = parse_qs(querystring, keep_blank_values=True, strict_parsing=bool(querystring))
            if set(tokens) - _CURSOR_TOKENS or any(len(values) != 1 for values in tokens.values()):
                raise InvalidCursorError
            offset = _positive_int(tokens.get("o", ["0"])[0], cutoff=self.offset_cutoff)
            reverse = tokens.get("r", ["0"])[0]
            if reverse not in ("0", "1"):
                raise InvalidCursorError
            position = tokens.get("p", [None])[0]
            if position is not None:
                cursor_value(cursor_field(self._model, self.ordering[0].lstrip("-")), position)
        except (ValueError, InvalidCursorError):
            raise ApplicationError.single(
                PaginationErrorCode.INVALID_CURSOR, "Invalid cursor.", field=self.cursor_query_param
            ) from None
        return Cursor(offset=offset, reverse=reverse == "1", position=position)


class NewestFirstCursorPagination(StrictCursorPagination):
    ordering = ("-created_at", "-pk")
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = settings.RELAY_CONNECTION_MAX_LIMIT


class ByIdCursorPagination(NewestFirstCursorPagination):
    ordering = ("pk",)
