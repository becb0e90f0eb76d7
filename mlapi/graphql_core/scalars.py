"""Money and other exact decimals as plain fixed-point strings ("0.0000000000", never "0E-10")."""

from decimal import Decimal as PyDecimal

import graphene
from django.db import models
from graphene_django.converter import convert_django_field, get_django_field_description

DECIMAL_SPECIFIED_BY_URL = "https://speleotrove.com/decimal/daconvs.html"


class Decimal(graphene.Decimal):  # noqa: A001 - the schema keeps graphene's scalar name
    """An exact decimal number as a JSON string in plain fixed-point notation ("12.3400", never "1.234E+1" and
    never a JSON number, so no precision is lost). Input accepts the numeric-string syntax of the General Decimal
    Arithmetic specification. Money amounts keep the scale of their column (e.g. 4 places)."""

    @staticmethod
    def serialize(value):
        if not isinstance(value, PyDecimal):
            value = PyDecimal(str(value))
        return format(value, "f")


@convert_django_field.register(models.DecimalField)
def _convert_decimal_field(field, registry=None):
    return Decimal(description=get_django_field_description(field), required=not field.null)
