from mlapi.graphql_core import scalars  # noqa: F401 - registers the Decimal converter before any type is built
