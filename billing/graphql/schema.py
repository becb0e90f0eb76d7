import graphene

from billing.graphql.enums import InvoiceStatus
from billing.graphql.types import InvoiceConnection, InvoiceType
from billing.selectors import invoice_get_for_owner, invoice_list_for_owner
from mlapi.graphql_core.enums import enum_value
from mlapi.graphql_core.filters import LOOSE_ARGUMENT_DEPRECATED, filter_merge
from mlapi.graphql_core.pagination import connection_resolve, pagination_arguments
from mlapi.graphql_core.permissions import require_scope


class InvoiceFilterInput(graphene.InputObjectType):
    """Which invoices to list; every criterion given must hold."""

    status = graphene.Field(InvoiceStatus, description="Only invoices in this status.")


class BillingQueries(graphene.ObjectType):
    invoices = graphene.Field(
        InvoiceConnection,
        status=graphene.String(
            description="Only invoices in this status.", deprecation_reason=LOOSE_ARGUMENT_DEPRECATED
        ),
        filter=InvoiceFilterInput(description="Which invoices to list."),
        **pagination_arguments(),
        description="Your invoices, newest period first (scope billing). Nullable: a token without the billing "
        "scope gets null here (and a FORBIDDEN error) while the rest of its query is answered.",
    )
    invoice = graphene.Field(
        InvoiceType,
        id=graphene.ID(required=True, description="The invoice's id."),
        description="One of your invoices by id (scope billing); null when there is no such invoice of yours.",
    )

    @staticmethod
    def resolve_invoices(root, info, status=None, filter=None, first=None, after=None, last=None, before=None):
        user = require_scope(info, "billing")
        criteria = filter_merge(filter, status=status)
        invoices = invoice_list_for_owner(user=user, status=enum_value(criteria.get("status")))
        return connection_resolve(
            InvoiceConnection, invoices, order=("-period", "-id"), first=first, after=after, last=last, before=before
        )

    @staticmethod
    def resolve_invoice(root, info, id):
        user = require_scope(info, "billing")
        return invoice_get_for_owner(user=user, invoice_id=id)
