import graphene
from graphene.types.generic import GenericScalar

from mlapi.graphql_core.mutations import BaseMutation
from mlapi.graphql_core.permissions import require_scope
from quality.graphql.types import FeedbackType
from quality.services.feedback import FeedbackItem, feedback_submit


class SubmitFeedbackItemInput(graphene.InputObjectType):
    class Meta:
        description = "The ground truth of one prediction, named by its id or by the idempotency key of its call."

    prediction_id = graphene.ID(description="The prediction's id; or give idempotencyKey.")
    idempotency_key = graphene.String(description="The idempotency key the prediction was created with.")
    position = graphene.Int(description="With idempotencyKey: the instance's index in that call (default 0).")
    actual = GenericScalar(
        required=True,
        description="The observed value: one of the model's classes, a number (regression), or a list of labels (multi-label).",
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
