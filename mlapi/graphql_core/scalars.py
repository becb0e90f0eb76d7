"""Money and other exact decimals as plain fixed-point strings ("0.0000000000", never "0E-10")."""

from decimal import Decimal as PyDecimal

import graphene
from django.db import models
from graphene_django.converter import convert_django_field, get_django_field_description


class Decimal(graphene.Decimal):  # noqa: A001 - the schema keeps graphene's scalar name
    @staticmethod
    def serialize(value):
        if not isinstance(value, PyDecimal):
            value = PyDecimal(str(value))
        return format(value, "f")


@convert_django_field.register(models.DecimalField)
def _convert_decimal_field(field, registry=None):
    return Decimal(description=get_django_field_description(field), required=not field.null)
