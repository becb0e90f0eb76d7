from billing.error_codes import BillingErrorCode
from billing.models import Invoice, InvoiceLine
from mlapi.graphql_core.enums import choices_enum
from mlapi.graphql_core.types import error_type

InvoiceStatus = choices_enum(
    Invoice.Status,
    name="InvoiceStatus",
    description="Where an invoice is in its life: draft → open (finalized, numbered, sent) → paid, or void.",
    values={
        "draft": "Being built for the current or just-ended month; no number yet, amounts may still change.",
        "open": "Finalized and numbered; sent for payment and not yet paid.",
        "paid": "Payment received.",
        "void": "Cancelled after finalization; nothing is owed.",
    },
)

InvoiceLineKind = choices_enum(
    InvoiceLine.Kind,
    name="InvoiceLineKind",
    description="What an invoice line charges for.",
    values={
        "subscription": "The tier's monthly fee (prorated when the tier changed during the month).",
        "predictions": "Predictions beyond the tier's monthly allowance.",
        "compute": "CPU seconds spent predicting.",
        "storage": "Megabytes of stored inputs and outputs.",
    },
)

BillingError = error_type(
    "BillingError",
    (BillingErrorCode,),
    description="A user-level problem of a billing operation (periods, invoices, tiers).",
)
