"""GraphQL enums generated from the Python ones, so each closed set has one source of truth.

* `choices_enum`: a Django `TextChoices` (a model field's closed set). The GraphQL value *names* are the stored
  values (`production`, `succeeded`): the wire format stays what it was when these fields were Strings and what
  REST answers, so documents and clients written against either keep working.
* `error_code_enum`: one domain's error codes, the union of one or more `error_codes.py` Enums (a domain's
  mutations can answer codes of the domains they call: a prediction can hit a billing limit). Codes added to
  those Enums appear in the schema on the next build, with the member's `description`.

A value without a description is published without one; the schema lint test names it.
"""

from collections.abc import Iterable, Mapping
from enum import Enum

import graphene
from django.db.models import TextChoices


class _Described(str, Enum):
    description: str | None

    def __new__(cls, value: str, description: str | None = None):
        member = str.__new__(cls, value)
        member._value_ = value
        member.description = description
        return member


def choices_enum(
    choices: type[TextChoices], *, name: str, description: str, values: Mapping[str, str]
) -> type[graphene.Enum]:
    """`choices` as a GraphQL enum named `name`; `values` describes each stored value."""
    members = {choice.value: (choice.value, values.get(choice.value)) for choice in choices}
    return graphene.Enum.from_enum(_Described(name, members), description=description)


def error_code_enum(name: str, code_enums: Iterable[type[Enum]], *, description: str) -> type[graphene.Enum]:
    """The codes of `code_enums` (first one wins on a code two of them define) as one GraphQL enum."""
    members: dict[str, tuple[str, str | None]] = {}
    for code_enum in code_enums:
        for member in code_enum:
            members.setdefault(member.value, (member.value, getattr(member, "description", None)))
    return graphene.Enum.from_enum(_Described(name, members), description=description)


def enum_value(value):
    """A resolver argument given as one of these enums, as the stored string (None stays None)."""
    return getattr(value, "value", value)
