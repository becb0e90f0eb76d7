from django.urls import path

from portal.views import home, keys, plan

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
]
