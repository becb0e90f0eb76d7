"""Base mutation: services raise ApplicationError, the payload carries it as `errors` (saleor's pattern)."""

import graphene

from mlapi.errors import ApplicationError
from mlapi.graphql_core.types import Error


class BaseMutation(graphene.Mutation):
    errors = graphene.List(graphene.NonNull(Error), required=True)

    class Meta:
        abstract = True

    @classmethod
    def perform(cls, root, info, **data):
        raise NotImplementedError

    @classmethod
    def mutate(cls, root, info, **data):
        try:
            return cls.perform(root, info, **data)
        except ApplicationError as error:
            info.context.application_error = error
            return cls(errors=[Error(**e.as_dict()) for e in error.errors])
