"""Abuse limits, checked before execution: the document's size (at parse), then depth, aliases, cost and mutations
per operation, then graphql-core's standard rules.

Every measure follows fragment spreads, and each fragment is measured once (in dependency order), so the work is
linear in the document however the fragments nest. The limits run before the standard rules, and the one standard
rule whose work can grow faster than the document (field merging) runs on a small budget: a refusal is cheap.
"""

from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    get_named_type,
    is_list_type,
    is_non_null_type,
    parse,
    specified_rules,
    validate,
)
from graphql.language import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    Visitor,
    visit,
)
from graphql.language.visitor import BREAK
from graphql.validation import NoSchemaIntrospectionCustomRule
from graphql.validation.rules.overlapping_fields_can_be_merged import OverlappingFieldsCanBeMergedRule
from graphql.validation.validate import ValidationAbortedError

from mlapi.graphql_core.pagination import DEFAULT_PAGE_SIZE
from mlapi.unstorable_text import INVALID_CHARACTER, INVALID_CHARACTER_MESSAGE, UNSTORABLE

CONNECTION_SIZE_ARGUMENTS = ("first", "last")
_SATURATED = 2**62  # measures stop growing here: a limit is far below, and the numbers stay machine-sized


def _limit_error(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


def document_parse(query: str, *, max_tokens: int | None = None) -> DocumentNode:
    """Parses a document no longer than GRAPHQL_MAX_QUERY_LENGTH characters and `max_tokens` tokens (and as many
    comments); raises GraphQLError (code QUERY_TOO_LARGE for a limit) before doing more work than that."""
    max_tokens = settings.GRAPHQL_MAX_TOKENS if max_tokens is None else max_tokens
    max_length = settings.GRAPHQL_MAX_QUERY_LENGTH
    if len(query) > max_length:
        raise _limit_error(f"The document is longer than {max_length} characters.", "QUERY_TOO_LARGE")
    try:
        return parse(query, max_lexical_tokens=max_tokens, max_comments=max_tokens, max_source_length=max_length)
    except GraphQLError as error:
        if "contains more than" in error.message:  # graphql-core's wording for its token and comment limits
            raise _limit_error(
                f"The document has more than {max_tokens} tokens or comments.", "QUERY_TOO_LARGE"
            ) from None
        raise


@dataclass(frozen=True)
class _Measures:
    """Of one selection set, as if reached at depth 0 through parents of size 1."""

    depth: int = 0  # levels of selection sets below it
    cost: int = 0  # fields, each times the sizes of the lists above it
    aliases: int = 0
    fields: int = 0  # fields at its own level (the mutations of a mutation operation)

    def plus(self, other: "_Measures") -> "_Measures":
        """`other` merged in at the same level (an inline fragment or a fragment spread)."""
        return _Measures(
            depth=max(self.depth, other.depth),
            cost=min(self.cost + other.cost, _SATURATED),
            aliases=min(self.aliases + other.aliases, _SATURATED),
            fields=min(self.fields + other.fields, _SATURATED),
        )


_NOTHING = _Measures()


def _is_connection_type(type_) -> bool:
    fields = getattr(type_, "fields", None) or {}
    return "edges" in fields and "pageInfo" in fields


def _list_bound(output_type) -> int:
    """How many items a field of `output_type` can return: the list bound for each list level ([[T]] squares it)."""
    bound = 1
    while True:
        if is_non_null_type(output_type):
            output_type = output_type.of_type
        elif is_list_type(output_type):
            bound = min(bound * settings.GRAPHQL_LIST_COST_BOUND, _SATURATED)
            output_type = output_type.of_type
        else:
            return bound


def _connection_size(field: FieldNode) -> int:
    """Rows a connection can return: `first`/`last` as written, the maximum for a variable, the default if absent."""
    limit = settings.RELAY_CONNECTION_MAX_LIMIT
    size = min(DEFAULT_PAGE_SIZE, limit)
    for argument in field.arguments or ():
        if argument.name.value in CONNECTION_SIZE_ARGUMENTS:
            size = int(argument.value.value) if isinstance(argument.value, IntValueNode) else limit
    return max(1, min(size, limit))  # more than the limit is refused before any row is read


class _DocumentMeasure:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode):
        self.schema = schema
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.fragment_measures: dict[str, _Measures] = {}
        for name in self._dependency_order():
            fragment = self.fragments[name]
            self.fragment_measures[name] = self.selection_set(
                fragment.selection_set, schema.get_type(fragment.type_condition.name.value)
            )

    def _dependency_order(self) -> list[str]:
        """Fragments, each after the fragments it spreads (without recursion). A spread closing a cycle (refused by
        the standard rules) counts as nothing: its fragment is not measured yet when the spread is."""
        spreads = {name: _spread_names(fragment.selection_set) for name, fragment in self.fragments.items()}
        order: list[str] = []
        seen: set[str] = set()
        for root in self.fragments:
            if root in seen:
                continue
            seen.add(root)
            path = [(root, iter(spreads[root]))]
            while path:
                name, pending = path[-1]
                for spread in pending:
                    if spread in self.fragments and spread not in seen:
                        seen.add(spread)
                        path.append((spread, iter(spreads[spread])))
                        break
                else:
                    path.pop()
                    order.append(name)
        return order

    def operation(self, operation: OperationDefinitionNode) -> _Measures:
        return self.selection_set(operation.selection_set, self.schema.get_root_type(operation.operation))

    def selection_set(self, selection_set: SelectionSetNode | None, parent_type) -> _Measures:
        measures = _NOTHING
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                measures = measures.plus(self.field(selection, parent_type))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner_type = self.schema.get_type(condition.name.value) if condition else parent_type
                measures = measures.plus(self.selection_set(selection.selection_set, inner_type))
            elif isinstance(selection, FragmentSpreadNode):
                measures = measures.plus(self.fragment_measures.get(selection.name.value, _NOTHING))
        return measures

    def field(self, field: FieldNode, parent_type) -> _Measures:
        name = field.name.value
        if name.startswith("__"):
            return _NOTHING  # introspection: allowed or refused as a whole by NoSchemaIntrospectionCustomRule
        aliases = 1 if field.alias is not None else 0
        if field.selection_set is None:
            return _Measures(cost=1, aliases=aliases, fields=1)
        definition = (getattr(parent_type, "fields", None) or {}).get(name)
        field_type = definition.type if definition is not None else None
        if (definition is not None and "first" in definition.args) or any(
            a.name.value in CONNECTION_SIZE_ARGUMENTS for a in field.arguments or ()
        ):
            size = _connection_size(field)  # the page size applies to everything below the connection ...
        elif name == "edges" and _is_connection_type(parent_type):
            size = 1  # ... so not again to its edges
        elif field_type is not None:
            size = _list_bound(field_type)
        else:
            size = 1  # an unknown field: refused by the standard rules
        child = self.selection_set(field.selection_set, get_named_type(field_type) if field_type else None)
        return _Measures(
            depth=child.depth + 1,
            cost=min(1 + size * child.cost, _SATURATED),
            aliases=min(aliases + child.aliases, _SATURATED),
            fields=1,
        )


def _spread_names(selection_set: SelectionSetNode) -> list[str]:
    names, pending = [], [selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                names.append(selection.name.value)
            elif selection.selection_set is not None:
                pending.append(selection.selection_set)
    return names


def limit_errors(schema: GraphQLSchema, document: DocumentNode) -> list[GraphQLError]:
    """Depth, aliases, cost and mutations of each operation over its limit (the schema gives the list fields)."""
    measure = _DocumentMeasure(schema, document)
    errors = []
    for operation in (d for d in document.definitions if isinstance(d, OperationDefinitionNode)):
        measures = measure.operation(operation)
        name = operation.name.value if operation.name else "anonymous"
        if measures.depth > settings.GRAPHQL_MAX_DEPTH:
            errors.append(
                _limit_error(
                    f"Operation {name} is {measures.depth} levels deep; the limit is {settings.GRAPHQL_MAX_DEPTH}.",
                    "QUERY_TOO_DEEP",
                )
            )
        if measures.aliases > settings.GRAPHQL_MAX_ALIASES:
            errors.append(
                _limit_error(
                    f"Operation {name} uses {measures.aliases} aliases; the limit is {settings.GRAPHQL_MAX_ALIASES}.",
                    "TOO_MANY_ALIASES",
                )
            )
        if measures.cost > settings.GRAPHQL_MAX_COST:
            errors.append(
                _limit_error(
                    f"Operation {name} costs {measures.cost}; the limit is {settings.GRAPHQL_MAX_COST}.",
                    "QUERY_TOO_COMPLEX",
                )
            )
        if operation.operation == OperationType.MUTATION and measures.fields > settings.GRAPHQL_MAX_MUTATIONS:
            errors.append(
                _limit_error(f"At most {settings.GRAPHQL_MAX_MUTATIONS} mutation(s) per request.", "TOO_MANY_MUTATIONS")
            )
    return errors


class BudgetedOverlappingFieldsRule(OverlappingFieldsCanBeMergedRule):
    """The standard field-merging rule, stopped after GRAPHQL_FIELD_MERGE_BUDGET units of work (QUERY_TOO_COMPLEX).

    Its work grows with the square of repeated fields (`{ a a a ... }`); graphql-core meters it, with a budget that
    is about a second of CPU here. Ordinary documents spend nothing or a few units of it."""

    def __init__(self, context):
        super().__init__(context)
        self.rule_context.remaining_complexity_budget = settings.GRAPHQL_FIELD_MERGE_BUDGET

    def enter_selection_set(self, *args):
        try:
            return super().enter_selection_set(*args)
        except ValidationAbortedError:
            if self.rule_context.remaining_complexity_budget >= 0:
                raise  # aborted for another reason (too many errors)
            raise ValidationAbortedError(
                "The document repeats too many fields to check that they merge.",
                extensions={"code": "QUERY_TOO_COMPLEX"},
            ) from None


@lru_cache(maxsize=4)
def _rules(introspection: bool) -> tuple:
    standard = tuple(
        BudgetedOverlappingFieldsRule if rule is OverlappingFieldsCanBeMergedRule else rule for rule in specified_rules
    )
    return standard if introspection else (*standard, NoSchemaIntrospectionCustomRule)


def validation_rules() -> tuple:
    """graphql-core's standard rules (graphene-django's `validation_rules` would replace them, not add to them)."""
    return _rules(settings.GRAPHQL_INTROSPECTION_ENABLED)


def document_errors(schema: GraphQLSchema, document: DocumentNode) -> list[GraphQLError]:
    """The limits' errors if any (the standard rules do not run then), else a string literal that holds text
    nothing can store, else the standard rules' errors."""
    return (
        limit_errors(schema, document)
        or _unstorable_literals(document)
        or validate(schema, document, validation_rules())
    )


class _StringLiterals(Visitor):
    def __init__(self):
        super().__init__()
        self.unstorable = False

    def enter_string_value(self, node: StringValueNode, *_args):
        if UNSTORABLE.search(node.value):
            self.unstorable = True
            return BREAK
        return None


def _unstorable_literals(document: DocumentNode) -> list[GraphQLError]:
    # GraphQL's lexer refuses unpaired surrogate escapes but lets "\u0000" through to the resolvers.
    literals = _StringLiterals()
    visit(document, literals)
    return (
        [GraphQLError(INVALID_CHARACTER_MESSAGE, extensions={"code": INVALID_CHARACTER})] if literals.unstorable else []
    )


def validation_settings() -> tuple:
    """What the outcome of parsing and validation depends on besides the document (a cache key part)."""
    return (
        settings.GRAPHQL_INTROSPECTION_ENABLED,
        settings.GRAPHQL_MAX_DEPTH,
        settings.GRAPHQL_MAX_ALIASES,
        settings.GRAPHQL_MAX_COST,
        settings.GRAPHQL_MAX_MUTATIONS,
        settings.GRAPHQL_MAX_TOKENS,
        settings.GRAPHQL_MAX_QUERY_LENGTH,
        settings.GRAPHQL_LIST_COST_BOUND,
        settings.GRAPHQL_FIELD_MERGE_BUDGET,
        settings.RELAY_CONNECTION_MAX_LIMIT,
    )
