"""Abuse limits checked before execution: depth, aliases, cost and mutations per document.

graphene-django's `validation_rules` *replaces* graphql-core's standard rules, so `validation_rules()`
returns the standard rules plus these. Every count follows fragment spreads.
"""

from functools import lru_cache

from django.conf import settings
from graphql import GraphQLError, ValidationRule, specified_rules
from graphql.language import FieldNode, FragmentSpreadNode, InlineFragmentNode, IntValueNode, OperationType
from graphql.validation import NoSchemaIntrospectionCustomRule

CONNECTION_SIZE_ARGUMENTS = ("first", "last")


def _limit_error(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


class _Measure:
    """Walks one operation through its fragments: depth, aliases and cost."""

    def __init__(self, fragments: dict):
        self.fragments = fragments
        self.aliases = 0

    def selections(self, selection_set, seen: frozenset) -> list[FieldNode]:
        fields = []
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                fields.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                fields.extend(self.selections(selection.selection_set, seen))
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:
                    fields.extend(self.selections(fragment.selection_set, seen | {name}))
        return fields

    def walk(self, selection_set, depth: int, multiplier: int, seen: frozenset = frozenset()) -> tuple[int, int]:
        """(deepest depth, cost) of a selection set reached at `depth` with `multiplier` parents' sizes."""
        deepest, cost = depth, 0
        for field in self.selections(selection_set, seen):
            if field.name.value.startswith("__"):
                continue  # introspection: allowed or refused as a whole by NoSchemaIntrospectionCustomRule
            if field.alias is not None:
                self.aliases += 1
            size = 1
            for argument in field.arguments or ():
                if argument.name.value in CONNECTION_SIZE_ARGUMENTS:
                    size = (
                        int(argument.value.value)
                        if isinstance(argument.value, IntValueNode)
                        else settings.RELAY_CONNECTION_MAX_LIMIT
                    )
            cost += multiplier
            if field.selection_set is not None:
                child_depth, child_cost = self.walk(field.selection_set, depth + 1, multiplier * max(size, 1), seen)
                deepest, cost = max(deepest, child_depth), cost + child_cost
        return deepest, cost


class QueryLimitsRule(ValidationRule):
    def enter_document(self, document, *args):
        fragments = {d.name.value: d for d in document.definitions if d.kind == "fragment_definition"}
        operations = [d for d in document.definitions if d.kind == "operation_definition"]
        for operation in operations:
            measure = _Measure(fragments)
            depth, cost = measure.walk(operation.selection_set, 0, 1)
            name = operation.name.value if operation.name else "anonymous"
            if depth > settings.GRAPHQL_MAX_DEPTH:
                self.report_error(
                    _limit_error(f"Operation {name} is {depth} levels deep; the limit is {settings.GRAPHQL_MAX_DEPTH}.", "QUERY_TOO_DEEP")
                )
            if measure.aliases > settings.GRAPHQL_MAX_ALIASES:
                self.report_error(
                    _limit_error(f"Operation {name} uses {measure.aliases} aliases; the limit is {settings.GRAPHQL_MAX_ALIASES}.", "TOO_MANY_ALIASES")
                )
            if cost > settings.GRAPHQL_MAX_COST:
                self.report_error(
                    _limit_error(f"Operation {name} costs {cost}; the limit is {settings.GRAPHQL_MAX_COST}.", "QUERY_TOO_COMPLEX")
                )
            if operation.operation == OperationType.MUTATION:
                mutations = len(measure.selections(operation.selection_set, frozenset()))
                if mutations > settings.GRAPHQL_MAX_MUTATIONS:
                    self.report_error(
                        _limit_error(
                            f"At most {settings.GRAPHQL_MAX_MUTATIONS} mutation(s) per request.", "TOO_MANY_MUTATIONS"
                        )
                    )
        return self.SKIP


@lru_cache(maxsize=4)
def _rules(introspection: bool) -> tuple:
    extra = [QueryLimitsRule] if introspection else [QueryLimitsRule, NoSchemaIntrospectionCustomRule]
    return (*specified_rules, *extra)


def validation_rules() -> tuple:
    return _rules(settings.GRAPHQL_INTROSPECTION_ENABLED)


def validation_settings() -> tuple:
    """What the outcome of validation depends on besides the document (a cache key part)."""
    return (
        settings.GRAPHQL_INTROSPECTION_ENABLED,
        settings.GRAPHQL_MAX_DEPTH,
        settings.GRAPHQL_MAX_ALIASES,
        settings.GRAPHQL_MAX_COST,
        settings.GRAPHQL_MAX_MUTATIONS,
        settings.RELAY_CONNECTION_MAX_LIMIT,
    )
