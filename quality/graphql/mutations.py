import graphene
from graphene.types.generic import GenericScalar

from mlapi.errors import FieldError, NotFoundError
from mlapi.graphql_core.mutations import BaseMutation
from mlapi.graphql_core.permissions import require_scope
from quality.graphql.enums import QualityError
from quality.graphql.types import ExplanationType, FeedbackType
from quality.services.batch_feedback import batch_feedback_submit
from quality.services.feedback import FeedbackItem, feedback_submit


class SubmitFeedbackItemInput(graphene.InputObjectType):
    class Meta:
        description = "The ground truth of one prediction, named by its id or by the idempotency key of its call."

    prediction_id = graphene.ID(description="The prediction's id; or give idempotencyKey.")
    idempotency_key = graphene.String(description="The idempotency key the prediction was created with.")
    position = graphene.Int(description="With idempotencyKey: the instance's index in that call (default 0).")
    actual = GenericScalar(
        required=True,
        description=(
            "The observed value: one of the model's classes, a number (regression), or a list of labels (multi-label)."
        ),
    )
    observed_at = graphene.DateTime(description="When the outcome was observed; default now.")


class SubmitFeedbackInput(graphene.InputObjectType):
    class Meta:
        description = "Up to FEEDBACK_MAX_ITEMS (1,000) ground-truth values, stored all or nothing."

    items = graphene.List(
        graphene.NonNull(SubmitFeedbackItemInput), required=True, description="One item per prediction."
    )


class SubmitFeedback(BaseMutation):
    class Meta:
        name = "SubmitFeedbackPayload"
        error_type_class = QualityError
        description = (
            "Record what actually happened for your predictions (not billed). Re-submitting replaces the value "
            "and keeps the old one as history. Another customer's prediction is NOT_FOUND."
        )

    feedback = graphene.List(
        graphene.NonNull(FeedbackType), description="The stored values, in input order (null when errors is not empty)."
    )

    class Arguments:
        input = SubmitFeedbackInput(required=True, description="The values to record.")

    @classmethod
    def perform(cls, root, info, input):
        user = require_scope(info, "predict")
        items = [
            FeedbackItem(
                actual=item.get("actual"),
                prediction_id=item.get("prediction_id"),
                idempotency_key=item.get("idempotency_key"),
                position=item.get("position"),
                observed_at=item.get("observed_at"),
            )
            for item in input["items"]
        ]
        return cls(feedback=feedback_submit(user=user, items=items), errors=[])


class SubmitBatchFeedbackInput(graphene.InputObjectType):
    class Meta:
        description = "A batch job and the ground-truth CSV file for it, stored with REST POST /api/v1/batch-uploads."

    job_id = graphene.ID(required=True, description="One of your batch jobs.")
    upload_id = graphene.ID(
        required=True,
        description="The CSV file: a header of `actual` and one of `prediction_id` or `row` (the job's input row "
        "number, as in its results).",
    )


class SubmitBatchFeedback(BaseMutation):
    class Meta:
        name = "SubmitBatchFeedbackPayload"
        error_type_class = QualityError
        description = (
            "Record what actually happened for a batch job's rows from a CSV file (not billed), all or nothing; "
            "errors name the file's data row (`rows.12.actual`). Someone else's job or upload is NOT_FOUND."
        )

    stored = graphene.Int(description="Feedback rows stored, one per file row (null when errors is not empty).")
    replaced = graphene.Int(
        description="Of those, how many replaced an earlier value (kept as history; null when errors is not empty)."
    )

    class Arguments:
        input = SubmitBatchFeedbackInput(required=True, description="The job and the file.")

    @classmethod
    def perform(cls, root, info, input):
        user = require_scope(info, "predict")
        try:
            stored = batch_feedback_submit(user=user, job_id=input["job_id"], upload_id=input["upload_id"])
        except NotFoundError as error:  # the batch selectors name REST's fields
            field = {"id": "jobId", "uploadId": "uploadId"}
            raise NotFoundError(
                FieldError(field.get(e.field or "", e.field), e.code, e.message) for e in error.errors
            ) from None
        return cls(stored=len(stored), replaced=sum(1 for f in stored if f.replaces_id is not None), errors=[])


def _staff_caller(info):
    """Staff acting with the staff scope, or a pipeline's token with the registry scope (promotion is a
    registry action); anyone else gets PERMISSION_DENIED in the payload (a staff member's token with plain
    `read`, granted to some third-party app, may not change rollouts)."""
    from mlapi.errors import PermissionDeniedError
    from mlapi.graphql_core.permissions import caller_of
    from quality.error_codes import RolloutErrorCode

    user = require_scope(info, "read")
    caller = caller_of(info)
    if not (caller.sees_every_tenant or (getattr(caller.user, "is_staff", False) and "registry" in caller.scopes)):
        raise PermissionDeniedError.single(
            RolloutErrorCode.PERMISSION_DENIED, "Only staff, with the staff scope, may change rollouts."
        )
    return user


class RolloutSticky(graphene.Enum):
    class Meta:
        description = "How a canary split places calls."

    CALL = "call"
    CALLER = "caller"

    @property
    def description(self):
        return {
            "CALL": "Per call; a call with an idempotency key is placed by its key, so a retry hits the same version.",
            "CALLER": "Per caller: a customer always gets the same version.",
        }[self.name]


class RolloutType(graphene.ObjectType):
    class Meta:
        name = "Rollout"
        description = "The shadow and canary versions beside a model's production version."

    name = graphene.String(required=True, description="The model name.")
    shadow_version = graphene.Int(description="The version scoring every prediction after the response, if any.")
    canary_version = graphene.Int(description="The version answering canaryPercent % of unpinned calls, if any.")
    canary_percent = graphene.Decimal(required=True, description="The canary's share of unpinned calls, 0 to 100.")
    sticky = graphene.Field(RolloutSticky, required=True, description="How calls are placed.")

    @staticmethod
    def resolve_shadow_version(rollout, info):
        return rollout.shadow.version if rollout.shadow_id else None

    @staticmethod
    def resolve_canary_version(rollout, info):
        return rollout.canary.version if rollout.canary_id else None


class SetRolloutInput(graphene.InputObjectType):
    class Meta:
        description = "The shadow and canary of a model name (staff only); omitted versions clear them."

    model_name = graphene.String(required=True, description="The model name (it must have a production version).")
    shadow_version = graphene.Int(description="A staging version to score every prediction in the shadow.")
    canary_version = graphene.Int(description="A staging version to answer a share of unpinned calls.")
    canary_percent = graphene.Decimal(description="The canary's share of unpinned calls, 0 to 100 (two decimals).")
    sticky = graphene.Argument(RolloutSticky, description="How calls are placed; default CALL.")


class SetRollout(BaseMutation):
    class Meta:
        name = "SetRolloutPayload"
        error_type_class = QualityError
        description = "Set or clear the shadow and canary versions of a production model (staff only)."

    rollout = graphene.Field(RolloutType, description="The rollout as stored.")

    class Arguments:
        input = SetRolloutInput(required=True, description="The rollout to set.")

    @classmethod
    def perform(cls, root, info, input):
        from quality.services.rollouts import rollout_set

        user = _staff_caller(info)
        sticky = input.get("sticky")
        rollout = rollout_set(
            name=input["model_name"],
            changed_by=user,
            shadow_version=input.get("shadow_version"),
            canary_version=input.get("canary_version"),
            canary_percent=input.get("canary_percent") or 0,
            sticky=getattr(sticky, "value", sticky) or "call",
        )
        return cls(rollout=rollout, errors=[])


class PromoteModelInput(graphene.InputObjectType):
    class Meta:
        description = "Which model's canary or shadow to promote."

    model_name = graphene.String(required=True, description="The model name.")
    version = graphene.Int(description="The canary or shadow version to promote; default the canary, else the shadow.")
    allow_breaking = graphene.Boolean(
        description="Promote even if its inputs break clients of the current production version."
    )


class PromoteModel(BaseMutation):
    class Meta:
        name = "PromoteModelPayload"
        error_type_class = QualityError
        description = (
            "Promote a canary or shadow version to production in one action, with the input-schema compatibility "
            "check (BREAKING_CHANGE), and take it out of the rollout (staff only)."
        )

    model = graphene.Field("predictions.graphql.types.ModelType", description="The promoted version.")

    class Arguments:
        input = PromoteModelInput(required=True, description="What to promote.")

    @classmethod
    def perform(cls, root, info, input):
        from quality.services.rollouts import rollout_promote

        user = _staff_caller(info)
        model = rollout_promote(
            name=input["model_name"],
            promoted_by=user,
            version=input.get("version"),
            allow_breaking=bool(input.get("allow_breaking")),
        )
        return cls(model=model, errors=[])


class ExplainPredictionInput(graphene.InputObjectType):
    class Meta:
        description = "Which of your predictions to explain."

    prediction_id = graphene.ID(required=True, description="The prediction's id.")


class ExplainPrediction(BaseMutation):
    class Meta:
        name = "ExplainPredictionPayload"
        error_type_class = QualityError
        description = (
            "Per-feature contributions of one of your predictions (linear models and tree ensembles; else "
            "UNSUPPORTED_MODEL), billed by its CPU time at your tier's price."
        )

    explanation = graphene.Field(ExplanationType, description="The explanation.")
    cost = graphene.Field("billing.graphql.types.CostType", description="What the explanation cost.")

    class Arguments:
        input = ExplainPredictionInput(required=True, description="What to explain.")

    @classmethod
    def perform(cls, root, info, input):
        from quality.services.explanations import prediction_explain

        user = require_scope(info, "predict")
        outcome = prediction_explain(user=user, prediction_id=input["prediction_id"])
        return cls(explanation=outcome.explanation, cost=outcome.usage, errors=[])
