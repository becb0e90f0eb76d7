from django.conf import settings
from rest_framework.pagination import CursorPagination


class NewestFirstCursorPagination(CursorPagination):
    ordering = ("-created_at", "-pk")
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = settings.RELAY_CONNECTION_MAX_LIMIT


class ByIdCursorPagination(NewestFirstCursorPagination):
    ordering = ("pk",)
