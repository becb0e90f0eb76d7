import graphene

from billing.graphql.types import InvoiceConnection, InvoiceType
from billing.selectors import invoice_get_for_owner, invoice_list_for_owner
from mlapi.graphql_core.pagination import connection_resolve
from mlapi.graphql_core.permissions import require_scope


class BillingQueries(graphene.ObjectType):
    invoices = graphene.Field(
        InvoiceConnection,
        required=True,
        status=graphene.String(),
        first=graphene.Int(),
        after=graphene.String(),
        description="Your invoices, newest period first (scope billing).",
    )
    invoice = graphene.Field(InvoiceType, id=graphene.ID(required=True))

    @staticmethod
    def resolve_invoices(root, info, status=None, first=None, after=None):
        user = require_scope(info, "billing")
        invoices = invoice_list_for_owner(user=user, status=status)
        return connection_resolve(InvoiceConnection, invoices, order=("-period", "-id"), first=first, after=after)

    @staticmethod
    def resolve_invoice(root, info, id):
        user = require_scope(info, "billing")
        return invoice_get_for_owner(user=user, invoice_id=id)
