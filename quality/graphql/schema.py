import graphene

from quality.graphql.mutations import SubmitFeedback


class QualityMutations(graphene.ObjectType):
    submit_feedback = SubmitFeedback.Field(description=SubmitFeedback._meta.description)
