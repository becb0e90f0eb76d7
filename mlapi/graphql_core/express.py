"""The express lane: a persisted `createPrediction` document answered from a plan built once, without graphql-core's
per-request execution machinery, with exactly what graphene would answer.

The plan is read off the live schema when the document is first seen: which fields each object selects (collected
and merged by graphql-core's own `collect_fields`), each field's definition and resolver, and how its value is
completed (non-null, list, the scalar's or enum's own `serialize`, the object type's `is_type_of`). At request time
it coerces the variables with graphql-core's `get_variable_values`, calls the same resolvers (so the same services,
scope checks, limits and payload errors) and completes the values with the same rules and messages as
`graphql.execution.execute.ExecutionContext`. Errors are located and collected the same way, so the view formats
them, picks the status code and encodes the body exactly as for graphene's own results.

Anything the planner does not understand gets no plan and goes through graphene: a root field other than
`createPrediction`, directives anywhere, abstract (interface or union) return types, introspection fields other than
`__typename`, GraphQL middleware. New fields, types and scalars that others add to the schema are planned from the
schema itself, so they need no change here. One root field only (more go through graphene). At request time,
anything that fails before the mutation's resolver runs (variables that do not coerce, arguments that do not)
also goes to graphene, which answers it with its own
errors; nothing has run yet, so nothing runs twice.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphene.types.resolver import dict_or_attr_resolver
from graphene_django import DjangoObjectType
from graphql import (
    ExecutionResult,
    GraphQLError,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    OperationType,
    default_field_resolver,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
    located_error,
)
from graphql.execution.collect_fields import collect_fields, collect_sub_fields
from graphql.execution.execute import invalid_return_type_error
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.language import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    OperationDefinitionNode,
    Visitor,
    visit,
)
from graphql.pyutils import Path, Undefined, inspect, is_iterable
from graphql.type import TypeNameMetaFieldDef

# Root fields the express lane answers; every other document goes through graphene.
EXPRESS_ROOT_FIELDS = frozenset({"createPrediction"})
MAX_COERCION_ERRORS = 50  # graphql-core's default for `execute`


class _NotPlannable(Exception):
    """The document uses something the planner does not handle: graphene answers it."""


class _HasDirective(Visitor):
    def enter_directive(self, node: DirectiveNode, *_):
        raise _NotPlannable("directive")


class _Errors:
    """graphql-core's CollectedErrors: an error below a position already nulled by an error is not added."""

    def __init__(self):
        self.errors: list[GraphQLError] = []
        self._positions: set = set()

    def add(self, error: GraphQLError, path: Path | None) -> None:
        position = path
        while position is not None:
            if position in self._positions:
                return
            position = position.prev
        if None in self._positions:
            return
        self._positions.add(path)
        self.errors.append(error)


@dataclass
class _Request:
    """What every resolver's `info` carries for one request."""

    schema: GraphQLSchema
    fragments: dict
    root_value: Any
    operation: OperationDefinitionNode
    variable_values: dict
    context: Any
    errors: _Errors


Completer = Callable[[_Request, GraphQLResolveInfo, Path, Any], Any]


@dataclass(frozen=True)
class _FieldNames:
    """What a leaf's completion reads of `info` (its error messages): enough when the resolver needs no info."""

    parent_type: GraphQLObjectType
    field_name: str


@dataclass(frozen=True)
class _FieldPlan:
    key: str
    nodes: list[FieldNode]
    definition: Any  # GraphQLField
    parent_type: GraphQLObjectType
    resolve: Callable
    has_arguments: bool
    complete: Completer
    # A leaf field whose resolver is known to read only its source (see `_plain_read`): answered without
    # building a GraphQLResolveInfo, on a path of its own that is otherwise the same.
    read: Callable[[Any], Any] | None = None
    names: _FieldNames | None = None

    def execute(
        self, request: _Request, source: Any, parent_path: Path | None, *, arguments: dict | None = None
    ) -> Any:
        """graphql-core's `execute_field` (synchronous resolvers only); `arguments` when already coerced."""
        path = Path(parent_path, self.key, self.parent_type.name)
        definition = self.definition
        try:
            if self.read is not None:
                return self.complete(request, self.names, path, self.read(source))
            info = GraphQLResolveInfo(
                self.nodes[0].name.value,
                self.nodes,
                definition.type,
                self.parent_type,
                path,
                request.schema,
                request.fragments,
                request.root_value,
                request.operation,
                request.variable_values,
                request.context,
                _never_awaitable,
            )
            if arguments is None:
                arguments = (
                    get_argument_values(definition, self.nodes[0], request.variable_values)
                    if self.has_arguments
                    else {}
                )
            return self.complete(request, info, path, self.resolve(source, info, **arguments))
        except Exception as raw_error:  # noqa: BLE001 - graphql-core's rule: located, collected or propagated
            error = located_error(raw_error, self.nodes, path.as_list())
            if is_non_null_type(definition.type):
                raise error from None
            request.errors.add(error, path)
            return None


def _plain_read(resolve: Callable) -> Callable[[Any], Any] | None:
    """For a resolver known to use neither `info` nor arguments, the same read of its source: graphene's default
    resolver (a key of a dict, else an attribute) and graphene-django's `resolve_id` (the primary key)."""
    if (
        isinstance(resolve, functools.partial)
        and resolve.func is dict_or_attr_resolver
        and len(resolve.args) == 2
        and not resolve.keywords
    ):
        name, default = resolve.args
        return lambda source: source.get(name, default) if isinstance(source, dict) else getattr(source, name, default)
    if resolve is DjangoObjectType.resolve_id:
        return lambda source: source.pk
    return None


def _never_awaitable(_value) -> bool:
    return False


def _typename_resolver(source, info, **_):
    return info.parent_type.name


class _Planner:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode):
        self.schema = schema
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}

    def fields(self, parent_type: GraphQLObjectType, collected: dict[str, list[FieldNode]]) -> tuple[_FieldPlan, ...]:
        plans = []
        for key, nodes in collected.items():
            name = nodes[0].name.value
            if name == "__typename":
                definition, resolve = TypeNameMetaFieldDef, _typename_resolver
            elif name.startswith("__"):
                raise _NotPlannable(f"introspection field {name}")
            else:
                definition = parent_type.fields.get(name)
                if definition is None:
                    raise _NotPlannable(f"unknown field {parent_type.name}.{name}")
                resolve = definition.resolve or default_field_resolver
            complete = self.completer(definition.type, nodes)
            has_arguments = bool(nodes[0].arguments)
            plain = not has_arguments and not getattr(complete, "needs_info", True)
            plans.append(
                _FieldPlan(
                    key=key,
                    nodes=nodes,
                    definition=definition,
                    parent_type=parent_type,
                    resolve=resolve,
                    has_arguments=has_arguments,
                    complete=complete,
                    read=_plain_read(resolve) if plain else None,
                    names=_FieldNames(parent_type, name),
                )
            )
        return tuple(plans)

    def completer(self, return_type, nodes: list[FieldNode]) -> Completer:
        """graphql-core's `complete_value` for one return type, decided once."""
        if is_non_null_type(return_type):
            return _non_null(self.completer(return_type.of_type, nodes))
        if is_list_type(return_type):
            return _list(self.completer(return_type.of_type, nodes), return_type.of_type, nodes)
        if is_leaf_type(return_type):
            return _leaf(return_type)
        if is_abstract_type(return_type) or not is_object_type(return_type):
            raise _NotPlannable(f"abstract type {return_type}")
        sub_fields = self.fields(return_type, collect_sub_fields(self.schema, self.fragments, {}, return_type, nodes))
        return _object(return_type, sub_fields, nodes)


def _nullable(complete: Completer) -> Completer:
    def run(request, info, path, result):
        if isinstance(result, Exception):
            raise result
        if result is None or result is Undefined:
            return None
        return complete(request, info, path, result)

    run.needs_info = getattr(complete, "needs_info", True)
    return run


def _non_null(inner: Completer) -> Completer:
    def run(request, info, path, result):
        if isinstance(result, Exception):
            raise result
        completed = inner(request, info, path, result)
        if completed is None:
            raise TypeError(f"Cannot return null for non-nullable field {info.parent_type.name}.{info.field_name}.")
        return completed

    run.non_null = True
    run.needs_info = getattr(inner, "needs_info", True)
    return run


def _wrap(complete: Completer) -> Completer:
    """Non-null completers check for null themselves; the others answer null for null."""
    return complete if getattr(complete, "non_null", False) else _nullable(complete)


def _list(item: Completer, item_type, nodes: list[FieldNode]) -> Completer:
    item_non_null = is_non_null_type(item_type)
    item = _wrap(item)

    def run(request, info, path, result):
        if not is_iterable(result):
            raise GraphQLError(
                f"Expected Iterable, but did not find one for field '{info.parent_type.name}.{info.field_name}'."
            )
        completed = []
        for index, value in enumerate(result):
            item_path = path.add_key(index, None)
            try:
                completed.append(item(request, info, item_path, value))
            except Exception as raw_error:  # noqa: BLE001 - as graphql-core's complete_list_value
                error = located_error(raw_error, nodes, item_path.as_list())
                if item_non_null:
                    raise error from None
                request.errors.add(error, item_path)
                completed.append(None)
        return completed

    run.needs_info = getattr(item, "needs_info", True)
    return _wrap(run)


def _leaf(return_type) -> Completer:
    serialize = return_type.serialize

    def run(request, info, path, result):
        serialized = serialize(result)
        if serialized is Undefined or serialized is None:
            raise TypeError(
                f"Expected `{inspect(return_type)}.serialize({inspect(result)})`"
                f" to return non-nullable value, returned: {inspect(serialized)}"
            )
        return serialized

    run.needs_info = False  # only its messages name the field
    return _wrap(run)


def _object(return_type: GraphQLObjectType, fields: tuple[_FieldPlan, ...], nodes: list[FieldNode]) -> Completer:
    is_type_of = return_type.is_type_of

    def run(request, info, path, result):
        if is_type_of is not None and not is_type_of(result, info):
            raise invalid_return_type_error(return_type, result, nodes)
        data = {}
        for field in fields:
            data[field.key] = field.execute(request, result, path)
        return data

    return _wrap(run)


@dataclass(frozen=True)
class ExpressPlan:
    """How to answer one operation of one document."""

    operation: OperationDefinitionNode
    fragments: dict
    root_field: _FieldPlan  # one mutation per request (GRAPHQL_MAX_MUTATIONS is 1; more go through graphene)

    def execute(
        self, *, schema: GraphQLSchema, root_value: Any, context: Any, variables: dict | None
    ) -> ExecutionResult | None:
        """The result graphene would give, or None (nothing has run) when graphene must answer instead."""
        coerced = get_variable_values(
            schema, self.operation.variable_definitions or (), variables or {}, max_errors=MAX_COERCION_ERRORS
        )
        if isinstance(coerced, list):
            return None  # graphene reports the coercion errors
        field = self.root_field
        try:
            arguments = get_argument_values(field.definition, field.nodes[0], coerced) if field.has_arguments else {}
        except Exception:  # noqa: BLE001 - graphene answers it with its own error; nothing has run yet
            return None
        request = _Request(schema, self.fragments, root_value, self.operation, coerced, context, _Errors())
        data: dict | None = {}
        try:
            data[field.key] = field.execute(request, root_value, None, arguments=arguments)
        except GraphQLError as error:  # a non-null root field's error nulls the whole data
            request.errors.errors.append(error)
            data = None
        errors = request.errors.errors
        if not errors:
            return ExecutionResult(data, None)
        errors.sort(key=lambda error: (error.locations or [], error.path or [], error.message))
        return ExecutionResult(data, errors)


def express_plan_build(
    *, schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode
) -> ExpressPlan | None:
    """A plan for a validated document's `operation`, or None when graphene must answer it."""
    if operation.operation != OperationType.MUTATION:
        return None
    root_type = schema.mutation_type
    if root_type is None:
        return None
    planner = _Planner(schema, document)
    try:
        visit(operation, _HasDirective())
        for fragment in planner.fragments.values():
            visit(fragment, _HasDirective())
        collected = collect_fields(schema, planner.fragments, {}, root_type, operation.selection_set)
        if len(collected) != 1 or any(nodes[0].name.value not in EXPRESS_ROOT_FIELDS for nodes in collected.values()):
            return None
        (root_field,) = planner.fields(root_type, collected)
    except (_NotPlannable, RecursionError):
        return None
    return ExpressPlan(operation=operation, fragments=planner.fragments, root_field=root_field)
