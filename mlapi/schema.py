"""The one GraphQL schema: each app's Query and Mutation classes joined. Its SDL is committed as
`schema.graphql` (`python manage.py export_schema` writes it; `tests/api/test_graphql_schema.py` guards it)."""

import graphene
from graphene.types.uuid import UUID

from accounts.graphql.enums import AccountError
from accounts.graphql.schema import AccountsMutations, AccountsQueries
from batch.graphql.schema import BatchMutations, BatchQueries
from billing.graphql.enums import BillingError
from billing.graphql.schema import BillingQueries
from mlapi.graphql_core.scalars import DECIMAL_SPECIFIED_BY_URL
from predictions.graphql.enums import RegistryError
from predictions.graphql.registry_mutations import RegistryMutations
from predictions.graphql.schema import PredictionsMutations, PredictionsQueries
from quality.graphql.schema import QualityMutations

DATETIME_SPECIFIED_BY_URL = "https://scalars.graphql.org/andimarek/date-time"
UUID_SPECIFIED_BY_URL = "https://www.rfc-editor.org/rfc/rfc9562"


class Query(AccountsQueries, PredictionsQueries, BillingQueries, BatchQueries, graphene.ObjectType):
    """Reads. Every field needs a token with a scope (read; billing for invoices and usage)."""


class Mutation(
    AccountsMutations, PredictionsMutations, RegistryMutations, BatchMutations, QualityMutations, graphene.ObjectType
):
    """Writes. User-level problems come back in each payload's `errors`; missing auth or scope is a top-level error."""


# Error types no mutation answers yet are published too, for the clients and the mutations to come.
# UUID stays in the schema for documents that declare `$id: UUID`, though every id is now an `ID`.
schema = graphene.Schema(query=Query, mutation=Mutation, types=[AccountError, BillingError, RegistryError, UUID])
for _name, _url in (
    ("Decimal", DECIMAL_SPECIFIED_BY_URL),
    ("DateTime", DATETIME_SPECIFIED_BY_URL),
    ("UUID", UUID_SPECIFIED_BY_URL),
):
    schema.graphql_schema.type_map[_name].specified_by_url = _url
