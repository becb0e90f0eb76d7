from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.oauth import ResourceServerIntrospectTokenView
from mlapi.graphql_core.unavailable import GraphQLEndpoint
from mlapi.observability.metrics import metrics_view
from mlapi.observability.views import healthz, readyz

# django-oauth-toolkit's application pages register clients of any kind for whoever is logged in: staff only,
# now that customers log in too (they make client-credentials keys on /keys/, within their tier's limit and
# scopes). Its list of authorized third-party apps (authorized_tokens) stays theirs, behind the customer login.
_STAFF_ONLY_OAUTH2_VIEWS = frozenset({"list", "register", "detail", "delete", "update"})


def _oauth2_patterns():
    from django.contrib.admin.views.decorators import staff_member_required
    from oauth2_provider import urls as oauth2_urls

    return [
        path(str(pattern.pattern), staff_member_required(pattern.callback), name=pattern.name)
        if pattern.name in _STAFF_ONLY_OAUTH2_VIEWS
        else pattern
        for pattern in oauth2_urls.urlpatterns
    ]


urlpatterns = [
    path("admin/", admin.site.urls),
    # Before the toolkit's own /o/introspect/, which accepts any client's credentials (see accounts.oauth).
    path("o/introspect/", ResourceServerIntrospectTokenView.as_view(), name="oauth2-introspect"),
    path("o/", include((_oauth2_patterns(), "oauth2_provider"), namespace="oauth2_provider")),
    # CSRF is checked inside the view for session callers only; bearer-token callers carry no cookie.
    path("graphql/", csrf_exempt(GraphQLEndpoint.as_view(graphiql=settings.GRAPHIQL_ENABLED))),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("billing/", include("billing.urls")),
    path("api/v1/", include("mlapi.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script from ?script: no inline script (Content-Security-Policy).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    # Customer accounts (django-allauth): sign up, log in, verification, password change and reset.
    path("accounts/", include("allauth.urls")),
    path("", include("portal.urls")),
]

# JSON on the API paths, branded pages for browsers; an outage is 503 with Retry-After (see the module).
handler400 = "mlapi.error_handlers.bad_request"
handler403 = "mlapi.error_handlers.permission_denied"
handler404 = "mlapi.error_handlers.page_not_found"
handler500 = "mlapi.error_handlers.server_error"
