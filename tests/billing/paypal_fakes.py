"""PayPal's sandbox endpoints and a signed webhook's headers, as the faked HTTP layer (`responses`) sees them."""

import base64
import zlib
from datetime import UTC, datetime, timedelta
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

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
CERT_URL = SIGNATURE_HEADERS["Paypal-Cert-Url"]


@cache
def signing_key_and_cert_pem() -> tuple[rsa.RSAPrivateKey, bytes]:
    """A test RSA key and its self-signed certificate, standing in for PayPal's (made once per test run)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.sandbox.paypal.com")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, certificate.public_bytes(serialization.Encoding.PEM)


def cert_pem() -> bytes:
    return signing_key_and_cert_pem()[1]


def add_cert(api, *, url: str = CERT_URL, **response) -> None:
    """PayPal's certificate host, as `responses` serves it (a PEM by default)."""
    api.get(url, **(response or {"body": cert_pem(), "content_type": "application/x-pem-file"}))


def signed_headers(body: bytes, *, webhook_id: str, **overrides: str) -> dict[str, str]:
    """SIGNATURE_HEADERS with a real signature over `body`, the way PayPal signs a webhook."""
    headers = {**SIGNATURE_HEADERS, **overrides}
    message = "|".join(
        [headers["Paypal-Transmission-Id"], headers["Paypal-Transmission-Time"], webhook_id, str(zlib.crc32(body))]
    ).encode()
    signature = signing_key_and_cert_pem()[0].sign(message, padding.PKCS1v15(), hashes.SHA256())
    return {**headers, "Paypal-Transmission-Sig": base64.b64encode(signature).decode()}
