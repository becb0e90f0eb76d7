from django.urls import path

from billing import views

urlpatterns = [
    path("invoices/<int:invoice_id>/", views.invoice_page, name="invoice-page"),
    path("invoices/<int:invoice_id>/pdf/", views.invoice_pdf, name="invoice-pdf"),
    path("webhooks/payments/", views.payment_webhook, name="payment-webhook"),
]
