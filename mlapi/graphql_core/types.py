import graphene

from mlapi.graphql_core.scalars import Decimal


class Error(graphene.ObjectType):
    """A user-level problem: `code` is stable, `field` is the input path it is about (or null)."""

    field = graphene.String()
    code = graphene.String(required=True)
    message = graphene.String(required=True)


class Money(graphene.ObjectType):
    amount = Decimal(required=True, description="Exact decimal string.")
    currency = graphene.String(required=True)
