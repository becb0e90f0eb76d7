from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics

from billing.api.serializers import InvoiceFilterSerializer, InvoiceSerializer
from billing.error_codes import BillingErrorCode
from billing.selectors import invoice_get_for_owner, invoice_list_for_owner
from mlapi.api.filters import filters_from_query
from mlapi.api.pagination import StrictCursorPagination
from mlapi.api.permissions import HasScope
from mlapi.errors import NotFoundError


class InvoicePagination(StrictCursorPagination):
    ordering = ("-period", "-pk")
    page_size = 12


class InvoiceListView(generics.ListAPIView):
    """Your invoices, newest period first (scope billing; cursor pages), optionally only those in one status."""

    serializer_class = InvoiceSerializer
    permission_classes = [HasScope]
    required_scope = "billing"
    pagination_class = InvoicePagination
    error_statuses = (400,)

    @extend_schema(summary="List invoices", parameters=[InvoiceFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return invoice_list_for_owner(
            user=self.request.user, **filters_from_query(self.request, InvoiceFilterSerializer)
        )


class InvoiceDetailView(generics.RetrieveAPIView):
    """One of your invoices by id, with its lines (scope billing)."""

    serializer_class = InvoiceSerializer
    permission_classes = [HasScope]
    required_scope = "billing"
    error_statuses = (404,)

    @extend_schema(summary="Get an invoice", parameters=[OpenApiParameter("id", int, location=OpenApiParameter.PATH)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_object(self):
        invoice = invoice_get_for_owner(user=self.request.user, invoice_id=self.kwargs["pk"])
        if invoice is None:
            raise NotFoundError.single(BillingErrorCode.NOT_FOUND, "No such invoice.", field="id")
        return invoice
