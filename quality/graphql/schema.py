import graphene

from quality.graphql.mutations import (
    ExplainPrediction,
    PromoteModel,
    SetRollout,
    SubmitBatchFeedback,
    SubmitFeedback,
)


class QualityMutations(graphene.ObjectType):
    submit_feedback = SubmitFeedback.Field(description=SubmitFeedback._meta.description)
    submit_batch_feedback = SubmitBatchFeedback.Field(description=SubmitBatchFeedback._meta.description)
    set_rollout = SetRollout.Field(description=SetRollout._meta.description)
    promote_model = PromoteModel.Field(description=PromoteModel._meta.description)
    explain_prediction = ExplainPrediction.Field(description=ExplainPrediction._meta.description)
