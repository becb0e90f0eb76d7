"""PayPal's sandbox endpoints and a signed webhook's headers, as the faked HTTP layer (`responses`) sees them."""

SANDBOX = "https://api-m.sandbox.paypal.com"
TOKEN_URL = f"{SANDBOX}/v1/oauth2/token"
INVOICES_URL = f"{SANDBOX}/v2/invoicing/invoices"
VERIFY_URL = f"{SANDBOX}/v1/notifications/verify-webhook-signature"
INVOICE_ID = "INV2-Z56S-5LLA-Q52L-CPZ5"
SEND_URL = f"{INVOICES_URL}/{INVOICE_ID}/send"
PAYER_URL = f"https://www.sandbox.paypal.com/invoice/p/#{INVOICE_ID}"
SIGNATURE_HEADERS = {
    "Paypal-Auth-Algo": "SHA256withRSA",
    "Paypal-Cert-Url": "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42",
    "Paypal-Transmission-Id": "69cd13f0-d67a-11e5-baa3-778b53f4ae55",
    "Paypal-Transmission-Sig": "lmI95Jx3Y9nhR5SJWlHVIWpg4AgFk7n9bCHSRxbrd8A9zrhdu2rMyFrmz",
    "Paypal-Transmission-Time": "2026-11-01T20:01:35Z",
}
