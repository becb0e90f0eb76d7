import graphene

from quality.graphql.mutations import PromoteModel, SetRollout, SubmitFeedback


class QualityMutations(graphene.ObjectType):
    submit_feedback = SubmitFeedback.Field(description=SubmitFeedback._meta.description)
    set_rollout = SetRollout.Field(description=SetRollout._meta.description)
    promote_model = PromoteModel.Field(description=PromoteModel._meta.description)
