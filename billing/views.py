"""Server-rendered billing pages and the payment provider's webhook (not part of the JSON APIs)."""

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from billing.documents import invoice_document_context, invoice_pdf_render
from billing.selectors import invoice_get_for_viewer
from billing.services.payments import payment_webhook_handle
from billing.services.webhook_limits import webhook_rate_limit_consume
from mlapi.auth import InvalidTokenError, caller_from_request

WEBHOOK_MAX_BYTES = 256 * 1024


def _invoice_for_request(request, invoice_id: int):
    """(invoice, None) or (None, the response refusing it): the owner's invoice (session or a bearer token
    with the billing scope); staff see any from their session or with a staff-scoped token; else 404."""
    try:
        caller = caller_from_request(request)
    except InvalidTokenError:
        return None, HttpResponse("Invalid token.", status=401, content_type="text/plain")
    if not caller.is_authenticated:
        return None, redirect_to_login(request.get_full_path())
    if "billing" not in caller.scopes:
        return None, HttpResponse("This token lacks the billing scope.", status=403, content_type="text/plain")
    invoice = invoice_get_for_viewer(user=caller.user, invoice_id=invoice_id, every_tenant=caller.sees_every_tenant)
    if invoice is None:
        raise Http404("No such invoice.")
    return invoice, None


@require_GET
def invoice_page(request, invoice_id: int):
    """Printable invoice page (see `_invoice_for_request` for who may see it)."""
    invoice, refused = _invoice_for_request(request, invoice_id)
    if refused is not None:
        return refused
    return render(request, "billing/invoice.html", invoice_document_context(invoice=invoice))


@require_GET
def invoice_pdf(request, invoice_id: int):
    """The same invoice as a PDF download, for the same callers. A draft has no number yet: no PDF."""
    invoice, refused = _invoice_for_request(request, invoice_id)
    if refused is not None:
        return refused
    if invoice.number is None:
        raise Http404("A draft invoice has no PDF yet.")
    response = HttpResponse(invoice_pdf_render(invoice=invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="invoice-{invoice.number}.pdf"'
    return response


@csrf_exempt
@require_POST
def payment_webhook(request):
    """Always answers quickly: rate limited per client address, and verified locally (no call to the provider
    in the request). Only a verified, first-seen paid event changes anything."""
    retry_after = webhook_rate_limit_consume(address=request.META.get("REMOTE_ADDR", ""), now=timezone.now())
    if retry_after is not None:
        response = JsonResponse({"status": "ignored", "code": "RATE_LIMITED"}, status=429)
        response["Retry-After"] = str(retry_after)
        return response
    if int(request.META.get("CONTENT_LENGTH") or 0) > WEBHOOK_MAX_BYTES:
        return JsonResponse({"status": "ignored"}, status=413)
    outcome = payment_webhook_handle(headers=request.headers, body=request.body)
    return JsonResponse({"status": outcome}, status=400 if outcome == "ignored" else 200)
