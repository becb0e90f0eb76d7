from django.urls import path

from portal.views import dashboard, home, invoices, models

app_name = "portal"

urlpatterns = [
    path("", home.home, name="home"),
    # usage dashboard, models + try it, invoices (h5)
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("dashboard/usage.json", dashboard.usage_chart, name="usage-chart"),
    path("models/", models.models, name="models"),
    path("models/<int:model_id>/try/", models.models, name="model-try"),
    path("invoices/", invoices.invoices, name="invoices"),
]
