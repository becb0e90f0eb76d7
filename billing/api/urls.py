from django.urls import path

from billing.api import views

urlpatterns = [
    path("invoices", views.InvoiceListView.as_view(), name="invoice-list"),
    path("invoices/<str:pk>", views.InvoiceDetailView.as_view(), name="invoice-detail"),
]
