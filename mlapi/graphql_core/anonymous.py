"""Answers for callers with no token and no session: every root field needs a scope, so nothing runs for them.

They are refused before validation. The document is parsed only up to ANONYMOUS_MAX_TOKENS tokens, to name the
refused root fields in the answer as the resolvers' own UNAUTHENTICATED errors would (an error per field, with its
path); a document too large for that, or one whose root level is not plain fields, gets one top-level error.
"""

from graphql import ExecutionResult, GraphQLError, GraphQLSchema, get_operation_ast, is_non_null_type
from graphql.language import FieldNode

from mlapi.graphql_core.validation import document_parse

ANONYMOUS_MAX_TOKENS = 200  # a few root fields with their arguments; anything larger is refused unread
AUTHENTICATION_REQUIRED = "Authentication required: send Authorization: Bearer <token>."


def _unauthenticated(**kwargs) -> GraphQLError:
    return GraphQLError(AUTHENTICATION_REQUIRED, extensions={"code": "UNAUTHENTICATED"}, **kwargs)


def anonymous_refusal(schema: GraphQLSchema, query: str, operation_name) -> ExecutionResult:
    try:
        document = document_parse(query, max_tokens=ANONYMOUS_MAX_TOKENS)
    except GraphQLError:
        return ExecutionResult(errors=[_unauthenticated()])
    operation = get_operation_ast(document, operation_name)
    root_type = schema.get_root_type(operation.operation) if operation is not None else None
    selections = operation.selection_set.selections if operation is not None else ()
    if root_type is None or not selections or not all(isinstance(s, FieldNode) for s in selections):
        return ExecutionResult(errors=[_unauthenticated()])
    fields = {(s.alias or s.name).value: s for s in selections}  # one error per response key, in order
    definitions = [root_type.fields.get(field.name.value) for field in fields.values()]
    # A null for a non-null root field makes the whole `data` null, as execution would.
    nullable = all(d is not None and not is_non_null_type(d.type) for d in definitions)
    return ExecutionResult(
        data={key: None for key in fields} if nullable else None,
        errors=[_unauthenticated(nodes=field, path=[key]) for key, field in fields.items()],
    )
