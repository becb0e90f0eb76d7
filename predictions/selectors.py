import uuid
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from accounts.oauth import REGISTRY_SCOPE, STAFF_SCOPE
from mlapi.auth import Caller
from mlapi.errors import NotFoundError
from mlapi.hot_cache import HotCache
from predictions.error_codes import PredictionErrorCode, RegistryErrorCode
from predictions.models import Prediction, RegisteredModel

REGISTRANT_VISIBLE_TO_SCOPES = frozenset({STAFF_SCOPE, REGISTRY_SCOPE})


def model_list_for_user(*, user, name: str | None = None, stage: str | None = None) -> QuerySet[RegisteredModel]:
    """Staff see every version; everyone else sees production models only."""
    models = RegisteredModel.objects.all()
    if not user.is_staff:
        models = models.filter(stage=RegisteredModel.Stage.PRODUCTION)
    if name:
        models = models.filter(name=name)
    if stage:
        models = models.filter(stage=stage)
    return models.order_by("name", "-version")


def _not_found(field: str) -> NotFoundError:
    return NotFoundError.single(PredictionErrorCode.NOT_FOUND, "No such model.", field=field)


# Resolved models, for MODEL_LOOKUP_CACHE_SECONDS: a stage change reaches every worker within that time.
_resolved = HotCache(setting="MODEL_LOOKUP_CACHE_SECONDS")


def model_get_for_user(
    *, user, model_id: int | str | None = None, name: str | None = None, version: int | None = None
) -> RegisteredModel:
    """By id, or by name and version (no version: the latest production version)."""
    key = (str(model_id) if model_id is not None else None, name, version, user.is_staff)
    return _resolved.get_or_load(key, lambda: _model_resolve(user=user, model_id=model_id, name=name, version=version))


def model_lookup_cache_clear() -> None:
    _resolved.clear()


def _model_resolve(*, user, model_id, name, version) -> RegisteredModel:
    visible = model_list_for_user(user=user)
    if model_id is not None:
        try:
            return visible.get(pk=int(model_id))
        except (ValueError, TypeError, RegisteredModel.DoesNotExist):
            raise _not_found("modelId") from None
    if not name:
        raise _not_found("modelName")
    if version is None:
        model = visible.filter(name=name, stage=RegisteredModel.Stage.PRODUCTION).order_by("-version").first()
    else:
        model = visible.filter(name=name, version=version).first()
    if model is None:
        raise _not_found("modelVersion" if version is not None else "modelName")
    return model


def model_versions(*, model: RegisteredModel, user) -> QuerySet[RegisteredModel]:
    return model_list_for_user(user=user, name=model.name)


def prediction_list_for_user(
    *,
    user,
    every_tenant: bool = False,
    model: RegisteredModel | None = None,
    model_id: int | str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[Prediction]:
    """Newest first; only the user's own, unless a staff user asks with `every_tenant` (the caller's
    `sees_every_tenant`: the staff scope, never plain `read`). `model_id` names a model the user may see
    (`model_get_for_user`): an unknown or hidden one matches nothing. Both dates are exclusive bounds."""
    if model_id is not None:
        try:
            model = model_get_for_user(user=user, model_id=model_id)
        except NotFoundError:
            return Prediction.objects.none()
    predictions = Prediction.objects.select_related("model")
    if not (every_tenant and user.is_staff):
        predictions = predictions.filter(user=user)
    if model is not None:
        predictions = predictions.filter(model=model)
    if created_after is not None:
        predictions = predictions.filter(created_at__gt=created_after)
    if created_before is not None:
        predictions = predictions.filter(created_at__lt=created_before)
    return predictions.order_by("-created_at", "-id")


def prediction_get_for_user(*, user, prediction_id, every_tenant: bool = False) -> Prediction:
    try:
        key = uuid.UUID(str(prediction_id))
        return prediction_list_for_user(user=user, every_tenant=every_tenant).get(pk=key)
    except (ValueError, Prediction.DoesNotExist):
        raise NotFoundError.single(PredictionErrorCode.NOT_FOUND, "No such prediction.", field="id") from None


def prediction_list_recent_with_cost(*, user, limit: int = 20) -> QuerySet[Prediction]:
    """The user's newest predictions with their model and billed call (`usage`: amount, source) joined in."""
    return Prediction.objects.select_related("model", "usage").filter(user=user).order_by("-created_at", "-id")[:limit]


def model_list_callable(*, user) -> QuerySet[RegisteredModel]:
    """What the user may call by name: the production versions (staff included), newest first per name."""
    return RegisteredModel.objects.filter(stage=RegisteredModel.Stage.PRODUCTION).order_by("name", "-version")


EXAMPLE_VALUES = {"number": 1.0, "integer": 1, "string": "text", "boolean": True}


def model_example_features(*, model: RegisteredModel) -> dict:
    """One instance that passes the model's input schema: the first allowed value, else a value of the type."""
    return {
        feature["name"]: (feature["allowed"][0] if feature.get("allowed") else EXAMPLE_VALUES.get(feature["type"]))
        for feature in model.input_schema.get("features", [])
    }


def model_get_for_registry(*, model_id: int | str) -> RegisteredModel:
    """Any version, whatever its stage, for a registry caller (staff with the `registry` scope)."""
    try:
        return RegisteredModel.objects.get(pk=int(model_id))
    except (ValueError, TypeError, RegisteredModel.DoesNotExist):
        raise NotFoundError.single(RegistryErrorCode.NOT_FOUND, "No such model.", field="id") from None


def model_registrant_username(
    *, model: RegisteredModel, caller: Caller, memo: dict[int, str | None] | None = None
) -> str | None:
    """Who registered `model`, for staff callers only: a staff user with the `staff` or `registry` scope
    (a staff session has `staff`). Customers get None, so no staff account name or email reaches them.

    `memo` (user id -> username, kept for one request) makes a listing cost one query per registrant, not
    one per model, without joining users into the model lookups that serving shares.
    """
    if not (getattr(caller.user, "is_staff", False) and caller.scopes & REGISTRANT_VISIBLE_TO_SCOPES):
        return None
    memo = {} if memo is None else memo
    user_id = model.registered_by_id
    if user_id not in memo:
        memo[user_id] = get_user_model().objects.filter(pk=user_id).values_list("username", flat=True).first()
    return memo[user_id]
