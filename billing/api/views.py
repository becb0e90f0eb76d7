from rest_framework import generics

from billing.api.serializers import InvoiceSerializer
from billing.error_codes import BillingErrorCode
from billing.selectors import invoice_get_for_owner, invoice_list_for_owner
from mlapi.api.pagination import StrictCursorPagination
from mlapi.api.permissions import HasScope
from mlapi.errors import NotFoundError


class InvoicePagination(StrictCursorPagination):
    ordering = ("-period", "-pk")
    page_size = 12


class InvoiceListView(generics.ListAPIView):
    """Your invoices, newest period first (scope billing)."""

    serializer_class = InvoiceSerializer
    permission_classes = [HasScope]
    required_scope = "billing"
    pagination_class = InvoicePagination

    def get_queryset(self):
        return invoice_list_for_owner(user=self.request.user, status=self.request.query_params.get("status"))


class InvoiceDetailView(generics.RetrieveAPIView):
    serializer_class = InvoiceSerializer
    permission_classes = [HasScope]
    required_scope = "billing"

    def get_object(self):
        invoice = invoice_get_for_owner(user=self.request.user, invoice_id=self.kwargs["pk"])
        if invoice is None:
            raise NotFoundError.single(BillingErrorCode.NOT_FOUND, "No such invoice.", field="id")
        return invoice
