"""The customer's invoices: the list links to each invoice's printable page and PDF (billing.views)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from billing.documents import invoice_document_context
from billing.selectors import invoice_list_for_owner


@require_GET
@login_required
def invoices(request: HttpRequest) -> HttpResponse:
    rows = [invoice_document_context(invoice=invoice) for invoice in invoice_list_for_owner(user=request.user)]
    return render(request, "portal/invoices.html", {"rows": rows})
