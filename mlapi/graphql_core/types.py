"""Types every app shares: the `Error` interface with its per-domain error types, and `Money`."""

import importlib
from dataclasses import dataclass
from decimal import Decimal as PyDecimal
from enum import Enum
from functools import cache

import graphene
from django.apps import apps

from mlapi.graphql_core.enums import error_code_enum
from mlapi.graphql_core.scalars import Decimal


class Error(graphene.Interface):
    """A user-level problem, returned as data in a mutation payload's `errors` (or a job's `error`). Each domain
    has its own type implementing this interface, whose `code` is that domain's enum."""

    field = graphene.String(
        description="The input path the problem is about, in the API's spelling (`instances.0.sepal_length`); "
        "null when it is about the request as a whole."
    )
    message = graphene.String(required=True, description="A human-readable explanation; wording may change.")


def error_type(name: str, code_enums: tuple[type[Enum], ...], *, description: str) -> type[graphene.ObjectType]:
    """A `<name> { field code: <name>Code! message }` type; its code enum is generated from `code_enums`."""
    code_enum = error_code_enum(
        f"{name}Code",
        code_enums,
        description=f"Every `code` of a {name}, generated from "
        + ", ".join(f"{e.__module__}.{e.__name__}" for e in code_enums)
        + ".",
    )
    attributes = {
        "code": graphene.Field(code_enum, required=True, description="Stable machine-readable code: switch on this."),
        "Meta": type("Meta", (), {"interfaces": (Error,), "description": description}),
    }
    return type(name, (graphene.ObjectType,), attributes)


def _error_code_enums() -> tuple[type[Enum], ...]:
    """Every Enum defined in an installed app's `error_codes` module, in app order."""
    found: list[type[Enum]] = []
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.error_codes")
        except ModuleNotFoundError as error:
            if error.name != f"{config.name}.error_codes":
                raise
            continue
        found += [
            value
            for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, Enum) and value.__module__ == module.__name__
        ]
    return tuple(found)


@cache
def default_error_type() -> type[graphene.ObjectType]:
    """The error type of a mutation that names none: any code of any app (give yours `error_type_class`)."""
    return error_type(
        "MutationError",
        _error_code_enums(),
        description="A user-level problem of a mutation that has no domain error type yet: any app's code.",
    )


@dataclass(frozen=True)
class MoneyValue:
    amount: PyDecimal
    currency: str


class Money(graphene.ObjectType):
    """An amount of money: an exact Decimal string and its ISO 4217 currency, never a float."""

    amount = Decimal(required=True, description='Exact decimal string, e.g. "12.3400".')
    currency = graphene.String(required=True, description="ISO 4217 code, e.g. USD.")


def money_field(amount: str, *, currency: str = "currency", description: str, required: bool = True) -> graphene.Field:
    """A `Money` field reading attribute `amount` of the parent and its currency (a dotted path: `invoice.currency`)."""

    def resolve(parent, info):
        value = getattr(parent, amount) if not isinstance(parent, dict) else parent[amount]
        if value is None:
            return None
        holder = parent
        for part in currency.split("."):
            holder = holder[part] if isinstance(holder, dict) else getattr(holder, part)
        return MoneyValue(amount=value, currency=holder)

    return graphene.Field(Money, required=required, description=description, resolver=resolve)
