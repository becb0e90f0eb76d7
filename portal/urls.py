from django.urls import path

from portal.views import dashboard, home, invoices, keys, models, plan

app_name = "portal"

urlpatterns = [
    path("", home.home, name="home"),
    # API keys and plan (h4)
    path("keys/", keys.key_list, name="keys"),
    path("keys/create/", keys.key_create, name="key-create"),
    path("keys/<int:key_id>/rotate/", keys.key_rotate, name="key-rotate"),
    path("keys/<int:key_id>/rename/", keys.key_rename, name="key-rename"),
    path("keys/<int:key_id>/revoke/", keys.key_revoke, name="key-revoke"),
    path("plan/", plan.plan, name="plan"),
    path("plan/change/", plan.plan_change, name="plan-change"),
    # usage dashboard, models + try it, invoices (h5)
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("dashboard/usage.json", dashboard.usage_chart, name="usage-chart"),
    path("models/", models.models, name="models"),
    path("models/<int:model_id>/try/", models.models, name="model-try"),
    path("invoices/", invoices.invoices, name="invoices"),
]
