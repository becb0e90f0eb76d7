"""The schema's house rules, checked over the built schema (tests/api/test_graphql_schema_lint.py runs them), so a
field added anywhere is held to them without anyone listing it:

* descriptions: every type, field, argument, input field and enum value has a non-empty one; a deprecation
  says what to use instead (not graphql's default reason);
* closed sets are enums: no String field, argument or input field named like stage/status/task/kind/format/
  source/code (`artifactFormat` counts) unless it is deprecated;
* mutations return `<Something>Payload` with `errors: [<Domain>Error!]!`, a type implementing `Error` whose `code`
  is a non-null enum; input objects are named `<Something>Input`;
* connections (`edges` + `pageInfo`) have `totalCount: Int!`, `edges: [<X>Edge!]!` with `node: <X>!`, and their
  fields take first/after/last/before.
"""

import re

from graphql import (
    DEFAULT_DEPRECATION_REASON,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    is_introspection_type,
    is_specified_scalar_type,
)
from graphql.type import GraphQLString

CLOSED_SET_NAMES = ("stage", "status", "task", "kind", "format", "source", "code")
_CLOSED_SET = re.compile(
    r"(^|[a-z0-9])("
    + "|".join(n.capitalize() for n in CLOSED_SET_NAMES)
    + r")$|^("
    + "|".join(CLOSED_SET_NAMES)
    + r")$"
)
PAGINATION_ARGUMENTS = ("first", "after", "last", "before")


def _blank(text: str | None) -> bool:
    return not (text or "").strip()


def _is_string(type_) -> bool:
    return get_named_type(type_) is GraphQLString


def _is_connection(type_) -> bool:
    return isinstance(type_, GraphQLObjectType) and {"edges", "pageInfo"} <= set(type_.fields)


def _deprecation_problems(where: str, reason: str | None) -> list[str]:
    if reason is not None and (_blank(reason) or reason == DEFAULT_DEPRECATION_REASON):
        return [f"{where}: deprecated without saying what to use instead"]
    return []


def _closed_set_problem(where: str, name: str, type_, reason: str | None) -> list[str]:
    if reason is None and _is_string(type_) and _CLOSED_SET.search(name):
        return [f"{where}: a String named like a closed set ({'|'.join(CLOSED_SET_NAMES)}): make it an enum"]
    return []


def _description_problems(schema: GraphQLSchema) -> list[str]:
    problems = []
    for type_ in schema.type_map.values():
        if is_introspection_type(type_) or is_specified_scalar_type(type_):
            continue
        if _blank(type_.description):
            problems.append(f"{type_.name}: no description")
        if isinstance(type_, GraphQLEnumType):
            for value_name, value in type_.values.items():
                where = f"{type_.name}.{value_name}"
                if _blank(value.description):
                    problems.append(f"{where}: no description")
                problems += _deprecation_problems(where, value.deprecation_reason)
        if isinstance(type_, (GraphQLObjectType, GraphQLInterfaceType)):
            for field_name, field in type_.fields.items():
                where = f"{type_.name}.{field_name}"
                if _blank(field.description):
                    problems.append(f"{where}: no description")
                problems += _deprecation_problems(where, field.deprecation_reason)
                problems += _closed_set_problem(where, field_name, field.type, field.deprecation_reason)
                for arg_name, arg in field.args.items():
                    arg_where = f"{where}({arg_name}:)"
                    if _blank(arg.description):
                        problems.append(f"{arg_where}: no description")
                    problems += _deprecation_problems(arg_where, arg.deprecation_reason)
                    problems += _closed_set_problem(arg_where, arg_name, arg.type, arg.deprecation_reason)
        if isinstance(type_, GraphQLInputObjectType):
            if not type_.name.endswith("Input"):
                problems.append(f"{type_.name}: an input object's name must end in Input")
            for field_name, field in type_.fields.items():
                where = f"{type_.name}.{field_name}"
                if _blank(field.description):
                    problems.append(f"{where}: no description")
                problems += _deprecation_problems(where, field.deprecation_reason)
                problems += _closed_set_problem(where, field_name, field.type, field.deprecation_reason)
    return problems


def _payload_problems(schema: GraphQLSchema) -> list[str]:
    problems = []
    error_interface = schema.type_map.get("Error")
    for name, field in schema.mutation_type.fields.items() if schema.mutation_type else ():
        payload = get_named_type(field.type)
        if not payload.name.endswith("Payload"):
            problems.append(f"Mutation.{name}: returns {payload.name}, not a …Payload")
        errors = getattr(payload, "fields", {}).get("errors")
        if errors is None:
            problems.append(f"{payload.name}: no `errors` field")
            continue
        error_type = get_named_type(errors.type)
        shape_ok = (
            isinstance(errors.type, GraphQLNonNull)
            and isinstance(errors.type.of_type, GraphQLList)
            and isinstance(errors.type.of_type.of_type, GraphQLNonNull)
        )
        if not shape_ok:
            problems.append(f"{payload.name}.errors: must be [{error_type.name}!]!")
        if not (isinstance(error_type, GraphQLObjectType) and error_interface in error_type.interfaces):
            problems.append(f"{payload.name}.errors: {error_type.name} does not implement Error")
            continue
        code = error_type.fields.get("code")
        if code is None or not (
            isinstance(code.type, GraphQLNonNull) and isinstance(code.type.of_type, GraphQLEnumType)
        ):
            problems.append(f"{error_type.name}.code: must be a non-null enum")
    return problems


def _connection_problems(schema: GraphQLSchema) -> list[str]:
    problems = []
    for type_ in schema.type_map.values():
        if not _is_connection(type_):
            continue
        total = type_.fields.get("totalCount")
        if total is None or str(total.type) != "Int!":
            problems.append(f"{type_.name}: needs totalCount: Int!")
        edges = type_.fields["edges"].type
        if not (
            isinstance(edges, GraphQLNonNull)
            and isinstance(edges.of_type, GraphQLList)
            and isinstance(edges.of_type.of_type, GraphQLNonNull)
        ):
            problems.append(f"{type_.name}.edges: must be a non-null list of non-null edges")
        edge = get_named_type(edges)
        node = getattr(edge, "fields", {}).get("node")
        if node is None or not isinstance(node.type, GraphQLNonNull):
            problems.append(f"{edge.name}.node: must be non-null")
    for type_ in schema.type_map.values():
        if is_introspection_type(type_) or not isinstance(type_, (GraphQLObjectType, GraphQLInterfaceType)):
            continue
        for field_name, field in type_.fields.items():
            if _is_connection(get_named_type(field.type)):
                missing = [a for a in PAGINATION_ARGUMENTS if a not in field.args]
                if missing:
                    problems.append(f"{type_.name}.{field_name}: a connection field without {', '.join(missing)}")
    return problems


def schema_lint(schema: GraphQLSchema) -> list[str]:
    """Every rule broken by `schema`, one line each (empty: it passes)."""
    return _description_problems(schema) + _payload_problems(schema) + _connection_problems(schema)
