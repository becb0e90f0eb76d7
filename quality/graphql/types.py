import graphene
from graphene.types.generic import GenericScalar


class FeedbackType(graphene.ObjectType):
    class Meta:
        name = "Feedback"
        description = "A ground-truth value submitted for one of your predictions."

    id = graphene.ID(required=True, description="The feedback row's id.")
    prediction_id = graphene.ID(required=True, description="The prediction it is the ground truth of.")
    actual = GenericScalar(required=True, description="The observed value: a class label, a number or a label list.")
    observed_at = graphene.DateTime(required=True, description="When the outcome was observed (default: when submitted).")
    replaced = graphene.Boolean(
        required=True, description="True when it replaced an earlier value for the same prediction (kept as history)."
    )

    @staticmethod
    def resolve_replaced(feedback, info):
        return feedback.replaces_id is not None
