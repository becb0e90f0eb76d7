"""The usage dashboard and the JSON its chart is drawn from (session-authenticated)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from billing.selectors.usage import CHART_DAYS, SPLITS, usage_daily_series, usage_overview
from predictions.selectors import prediction_list_recent_with_cost


@require_GET
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    context = {
        "overview": usage_overview(user=request.user, now=now),
        "recent": prediction_list_recent_with_cost(user=request.user, limit=20),
        "chart_days": CHART_DAYS,
        "splits": SPLITS,
    }
    return render(request, "portal/dashboard.html", context)


@require_GET
def usage_chart(request: HttpRequest) -> JsonResponse:
    if not request.user.is_authenticated:
        return JsonResponse({"error": {"code": "UNAUTHENTICATED", "message": "Log in first."}}, status=401)
    try:
        days = int(request.GET.get("days", CHART_DAYS[0]))
    except ValueError:
        days = -1
    split = request.GET.get("split", SPLITS[0])
    if days not in CHART_DAYS or split not in SPLITS:
        return JsonResponse(
            {"error": {"code": "INVALID_INPUT", "message": f"days in {CHART_DAYS}, split in {SPLITS}."}}, status=400
        )
    return JsonResponse(usage_daily_series(user=request.user, now=timezone.now(), days=days, split=split))
