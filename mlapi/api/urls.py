from django.urls import include, path

urlpatterns = [
    path("", include("predictions.api.urls")),
    path("", include("accounts.api.urls")),
    path("", include("billing.api.urls")),
]
