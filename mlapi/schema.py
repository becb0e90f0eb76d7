import graphene

from accounts.graphql.schema import AccountsQueries
from batch.graphql.schema import BatchMutations, BatchQueries
from billing.graphql.schema import BillingQueries
from predictions.graphql.schema import PredictionsMutations, PredictionsQueries
from quality.graphql.schema import QualityMutations


class Query(AccountsQueries, PredictionsQueries, BillingQueries, BatchQueries, graphene.ObjectType):
    pass


class Mutation(PredictionsMutations, BatchMutations, QualityMutations, graphene.ObjectType):
    pass


schema = graphene.Schema(query=Query, mutation=Mutation)
