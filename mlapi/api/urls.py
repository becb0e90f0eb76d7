from django.urls import include, path, re_path

from mlapi.api.exceptions import api_not_found

urlpatterns = [
    path("", include("predictions.api.urls")),
    path("", include("accounts.api.urls")),
    path("", include("billing.api.urls")),
    path("", include("batch.api.urls")),
    path("", include("quality.api.urls")),
    re_path(r"^.*$", api_not_found),
]
