import hashlib
from base64 import b64decode, b64encode
from urllib.parse import parse_qs, urlencode

from django.conf import settings
from rest_framework.pagination import Cursor, CursorPagination, _positive_int
from rest_framework.utils.urls import replace_query_param

from mlapi.cursors import MAX_CURSOR_LENGTH, InvalidCursorError, PaginationErrorCode, cursor_field, cursor_value
from mlapi.errors import ApplicationError

# offset, reverse, position (what DRF's encode_cursor writes), and the list the cursor was handed out for
_CURSOR_TOKENS = {"o", "r", "p", "l"}


class StrictCursorPagination(CursorPagination):
    """DRF's cursor pagination, decoding only what its `encode_cursor` writes: anything else is a 400
    INVALID_CURSOR (DRF answers 404 for some forged cursors, and 500 for a position its field cannot hold).

    Each cursor also names its list: a hash of the path, the ordering and the filter parameters. A cursor
    from another list, or from this list under other filters, is INVALID_CURSOR too, rather than a page of
    a list it was not made for (or page 1: DRF reads a cursor without a position as the start)."""

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        self._list_key = self._key_of(request)
        return super().paginate_queryset(queryset, request, view)

    def _key_of(self, request) -> str:
        ignored = {self.cursor_query_param, self.page_size_query_param}
        params = request.query_params
        filters = sorted((k, v) for k in params if k not in ignored for v in params.getlist(k))
        text = "\n".join([request.path, ",".join(self.ordering), urlencode(filters)])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def encode_cursor(self, cursor):
        tokens = {"l": self._list_key}
        if cursor.offset != 0:
            tokens["o"] = str(cursor.offset)
        if cursor.reverse:
            tokens["r"] = "1"
        if cursor.position is not None:
            tokens["p"] = cursor.position
        encoded = b64encode(urlencode(tokens, doseq=True).encode("ascii")).decode("ascii")
        return replace_query_param(self.base_url, self.cursor_query_param, encoded)

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
            if tokens.get("l", [None])[0] != self._list_key:  # checked last: a forged position is refused as such
                raise InvalidCursorError
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
