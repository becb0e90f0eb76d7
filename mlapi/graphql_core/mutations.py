"""Base mutation: services raise ApplicationError, the payload carries it as typed `errors` (saleor's pattern).

    class CreatePrediction(BaseMutation):
        class Meta:
            name = "CreatePredictionPayload"
            error_type_class = PredictionError  # its code enum is generated from the domain's error_codes.py

A mutation that names no error type gets `MutationError`, whose code enum holds every app's codes.
"""

import logging

import graphene
from graphene.types.mutation import MutationOptions

from mlapi.errors import ApplicationError
from mlapi.graphql_core.types import default_error_type

logger = logging.getLogger(__name__)


class BaseMutationOptions(MutationOptions):
    error_type_class = None


class BaseMutation(graphene.Mutation):
    class Meta:
        abstract = True

    @classmethod
    def __init_subclass_with_meta__(cls, error_type_class=None, _meta=None, **options):
        if _meta is None:
            _meta = BaseMutationOptions(cls)
        _meta.error_type_class = error_type_class or default_error_type()
        _meta.fields = {
            "errors": graphene.Field(
                graphene.List(graphene.NonNull(_meta.error_type_class)),
                required=True,
                description="User-level problems (bad input, not found, limits); empty when the mutation succeeded.",
            )
        }
        super().__init_subclass_with_meta__(_meta=_meta, **options)

    @classmethod
    def perform(cls, root, info, **data):
        raise NotImplementedError

    @classmethod
    def error_list(cls, errors) -> list:
        """`FieldError`s as this mutation's error type; a code its enum lacks is logged, then fails loudly."""
        error_type = cls._meta.error_type_class
        code_enum = error_type._meta.fields["code"].type.of_type
        known = set(code_enum._meta.enum.__members__)
        for error in errors:
            if error.code not in known:
                logger.error(
                    "error code %s is not in %s: add its Enum to the error type", error.code, code_enum._meta.name
                )
        return [error_type(**e.as_dict()) for e in errors]

    @classmethod
    def mutate(cls, root, info, **data):
        try:
            return cls.perform(root, info, **data)
        except ApplicationError as error:
            info.context.application_error = error
            return cls(errors=cls.error_list(error.errors))
