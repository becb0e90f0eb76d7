"""Connection filters: one `<Type>FilterInput` argument per list, with the older loose arguments kept
(deprecated) for one cycle. Giving a criterion both ways is refused rather than silently preferring one."""

from graphql import GraphQLError

LOOSE_ARGUMENT_DEPRECATED = "Use the `filter` argument."


def filter_merge(filter_input, **loose) -> dict:
    """The criteria of `filter_input` (an input object, or None) and the loose arguments, as one dict."""
    criteria = {key: value for key, value in dict(filter_input or {}).items() if value is not None}
    given_loose = {key: value for key, value in loose.items() if value is not None}
    both = sorted(set(criteria) & set(given_loose))
    if both:
        raise GraphQLError(
            f"Give {', '.join(both)} in `filter` or as a (deprecated) argument, not both.",
            extensions={"code": "BAD_USER_INPUT"},
        )
    return {**given_loose, **criteria}
