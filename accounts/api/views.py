from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.serializers import MeSerializer
from billing.periods import period_of, period_parse
from billing.selectors import quota_remaining, usage_summary
from billing.services.usage import pricing_tier_for_user
from mlapi.api.permissions import HasScope


class MeView(APIView):
    """The caller: tier, usage for a month (default: this month; needs the billing scope, else null) and quota left."""

    permission_classes = [HasScope]
    required_scope = "read"
    error_statuses = (400,)

    @extend_schema(
        summary="Get the caller's account",
        responses=MeSerializer,
        parameters=[OpenApiParameter("period", str, description="The usage month, YYYY-MM (default: this month).")],
    )
    def get(self, request):
        user, now = request.user, timezone.now()
        period_text = request.query_params.get("period")
        period = period_parse(period_text) if period_text else period_of(now)
        return Response(
            MeSerializer(
                {
                    "username": user.username,
                    "email": user.email,
                    "is_staff": user.is_staff,
                    "tier": pricing_tier_for_user(user=user),
                    "usage": usage_summary(user=user, period=period) if "billing" in request.auth.scopes else None,
                    "quota_remaining": quota_remaining(user=user, now=now),
                }
            ).data
        )
