import graphene

from accounts.graphql.schema import AccountsQueries
from billing.graphql.schema import BillingQueries
from predictions.graphql.schema import PredictionsMutations, PredictionsQueries


class Query(AccountsQueries, PredictionsQueries, BillingQueries, graphene.ObjectType):
    pass


class Mutation(PredictionsMutations, graphene.ObjectType):
    pass


schema = graphene.Schema(query=Query, mutation=Mutation)
