"""/plan/: the public tiers side by side, and the customer's change of plan (billing's subscription service)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from billing.selectors import pricing_tier_list_public
from billing.services.subscriptions import subscription_change_by_customer
from billing.services.usage import pricing_tier_for_user
from mlapi.errors import ApplicationError


@login_required
def plan(request: HttpRequest) -> HttpResponse:
    current = pricing_tier_for_user(user=request.user)
    tiers = list(pricing_tier_list_public())
    if current.pk not in {tier.pk for tier in tiers}:
        tiers.insert(0, current)  # a tier an operator gave them: shown, though not offered to others
    return render(request, "portal/plan.html", {"tiers": tiers, "current": current})


@login_required
@require_POST
def plan_change(request: HttpRequest) -> HttpResponse:
    try:
        subscription = subscription_change_by_customer(user=request.user, tier_name=request.POST.get("tier", ""))
    except ApplicationError as error:
        for problem in error.errors:
            messages.error(request, problem.message)
    else:
        messages.success(
            request,
            (
                f"You are on the {subscription.tier.name} plan from now on; "
                "this month's invoice prorates the monthly fees."
            ),
        )
    return redirect("portal:plan")
