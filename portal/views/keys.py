"""/keys/: the customer's API keys. Parsing and shaping only: the rules are in accounts.services.api_keys."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.oauth import CUSTOMER_KEY_SCOPES, DEFAULT_KEY_SCOPES
from accounts.selectors import api_key_list
from accounts.services.api_keys import (
    api_key_create,
    api_key_rename,
    api_key_revoke,
    api_key_rotate_secret,
)
from billing.services.usage import pricing_tier_for_user
from mlapi.errors import ApplicationError

SCOPE_LABELS = {
    "read": "read: the model registry and your own predictions",
    "predict": "predict: create predictions (each one is billed to you)",
    "billing": "billing: your usage and invoices",
    "keys": "keys: create, rotate and revoke API keys (for scripts that manage keys)",
}


def _page(request: HttpRequest, *, shown=None, status: int = 200) -> HttpResponse:
    keys = list(api_key_list(user=request.user))
    tier = pricing_tier_for_user(user=request.user)
    response = render(
        request,
        "portal/keys.html",
        {
            "keys": keys,
            "tier": tier,
            "at_limit": tier.max_api_keys is not None and len(keys) >= tier.max_api_keys,
            "scope_choices": [
                (scope, SCOPE_LABELS[scope], scope in DEFAULT_KEY_SCOPES) for scope in sorted(CUSTOMER_KEY_SCOPES)
            ],
            "shown": shown,
            "token_url": request.build_absolute_uri("/o/token/"),
        },
        status=status,
    )
    return response


def _error(request: HttpRequest, error: ApplicationError) -> HttpResponse:
    for problem in error.errors:
        messages.error(request, problem.message)
    return _page(request, status=error.http_status)


@never_cache
@login_required
def key_list(request: HttpRequest) -> HttpResponse:
    return _page(request)


@never_cache
@login_required
@require_POST
def key_create(request: HttpRequest) -> HttpResponse:
    try:
        created = api_key_create(
            user=request.user, name=request.POST.get("name", ""), scopes=request.POST.getlist("scopes")
        )
    except ApplicationError as error:
        return _error(request, error)
    # Rendered, not redirected: the secret is in this one response only (never in the session or a URL).
    return _page(request, shown=created)


@never_cache
@login_required
@require_POST
def key_rotate(request: HttpRequest, key_id: int) -> HttpResponse:
    try:
        rotated = api_key_rotate_secret(user=request.user, key_id=key_id)
    except ApplicationError as error:
        return _error(request, error)
    return _page(request, shown=rotated)


@login_required
@require_POST
def key_rename(request: HttpRequest, key_id: int) -> HttpResponse:
    try:
        application = api_key_rename(user=request.user, key_id=key_id, name=request.POST.get("name", ""))
    except ApplicationError as error:
        return _error(request, error)
    messages.success(request, f"Renamed to “{application.name}”.")
    return redirect("portal:keys")


@login_required
@require_POST
def key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    try:
        api_key_revoke(user=request.user, key_id=key_id)
    except ApplicationError as error:
        return _error(request, error)
    messages.success(request, "Key revoked: its secret and its tokens no longer work.")
    return redirect("portal:keys")
