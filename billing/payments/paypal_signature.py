"""PayPal webhook signatures checked here, from PayPal's certificate, without calling PayPal's verify endpoint.

PayPal signs `<transmission id>|<transmission time>|<webhook id>|<CRC32 of the raw body, in decimal>` with
SHA256withRSA; the certificate holding the public key is at the `PAYPAL-CERT-URL` of the request
(https://developer.paypal.com/api/rest/webhooks/rest/, "verify the signature"). The certificate is fetched
only over HTTPS from PayPal's own API host for the configured mode, with a short time-out, and cached per
URL until it expires; a URL that failed is not fetched again for a while. So a forged webhook costs a
CRC32 and one RSA check, and never a call to PayPal's API (nor its quota).
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
import zlib
from collections import OrderedDict
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

logger = logging.getLogger(__name__)

CERT_HOSTS = {
    "sandbox": frozenset({"api.sandbox.paypal.com", "api-m.sandbox.paypal.com"}),
    "live": frozenset({"api.paypal.com", "api-m.paypal.com"}),
}
CERT_PATH_PREFIX = "/v1/notifications/certs/"
AUTH_ALGO = "SHA256withRSA"
MAX_CERT_URL_LENGTH = 500  # PayPal's own bounds on the header values
MAX_SIGNATURE_LENGTH = 1024
MAX_CERT_BYTES = 64 * 1024
FAILED_FETCH_RETRY_SECONDS = 300
CACHED_CERTIFICATES = 32


def cert_url_allowed(*, cert_url: str, mode: str) -> bool:
    if len(cert_url) > MAX_CERT_URL_LENGTH:
        return False
    try:
        parts = urlsplit(cert_url)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "https"
        and parts.hostname in CERT_HOSTS.get(mode, frozenset())
        and parts.username is None
        and port in (None, 443)
        and parts.path.startswith(CERT_PATH_PREFIX)
        and ".." not in parts.path
        and not parts.query
        and not parts.fragment
    )


def signed_message(*, transmission_id: str, transmission_time: str, webhook_id: str, body: bytes) -> bytes:
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{zlib.crc32(body)}".encode()


class _CertificateCache:
    """Public keys by certificate URL (bounded, until the certificate expires), and URLs that failed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: OrderedDict[str, tuple[rsa.RSAPublicKey, datetime]] = OrderedDict()
        self._failed: OrderedDict[str, float] = OrderedDict()

    def public_key(self, *, cert_url: str, timeout: float) -> rsa.RSAPublicKey | None:
        now = datetime.now(UTC)
        with self._lock:
            cached = self._keys.get(cert_url)
            if cached is not None and cached[1] > now:
                return cached[0]
            failed_at = self._failed.get(cert_url)
            if failed_at is not None and time.monotonic() - failed_at < FAILED_FETCH_RETRY_SECONDS:
                return None
        # Fetched outside the lock: one slow fetch does not hold up webhooks whose certificate is cached.
        fetched = _fetch_public_key(cert_url=cert_url, timeout=timeout, now=now)
        with self._lock:
            if fetched is None:
                self._failed[cert_url] = time.monotonic()
                _trim(self._failed)
                return None
            self._failed.pop(cert_url, None)
            self._keys[cert_url] = fetched
            _trim(self._keys)
            return fetched[0]

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()
            self._failed.clear()


def _trim(entries: OrderedDict) -> None:
    while len(entries) > CACHED_CERTIFICATES:
        entries.popitem(last=False)


def _fetch_public_key(*, cert_url: str, timeout: float, now: datetime) -> tuple[rsa.RSAPublicKey, datetime] | None:
    try:
        with requests.get(cert_url, timeout=timeout, allow_redirects=False, stream=True) as response:
            if response.status_code != 200:
                logger.warning("PayPal certificate fetch answered %s.", response.status_code)
                return None
            pem = response.raw.read(MAX_CERT_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        logger.warning("PayPal certificate fetch failed in transit: %s.", type(exc).__name__)
        return None
    if len(pem) > MAX_CERT_BYTES:
        return None
    try:
        certificate = x509.load_pem_x509_certificates(pem)[0]  # the leaf; the rest is its chain
    except (ValueError, IndexError):
        logger.warning("PayPal certificate URL returned no PEM certificate.")
        return None
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        return None
    if not certificate.not_valid_before_utc <= now < certificate.not_valid_after_utc:
        logger.warning("PayPal certificate is outside its validity period.")
        return None
    return public_key, certificate.not_valid_after_utc


_certificates = _CertificateCache()


def clear_certificate_cache() -> None:
    _certificates.clear()


def signature_valid(*, signature: dict[str, str], webhook_id: str, body: bytes, mode: str, timeout: float) -> bool:
    """`signature` holds the five PAYPAL-* header values by field name (auth_algo, cert_url, ...)."""
    if signature["auth_algo"] != AUTH_ALGO:
        return False
    if not cert_url_allowed(cert_url=signature["cert_url"], mode=mode):
        return False
    if len(signature["transmission_sig"]) > MAX_SIGNATURE_LENGTH:
        return False
    try:
        raw_signature = base64.b64decode(signature["transmission_sig"], validate=True)
    except (binascii.Error, ValueError):
        return False
    public_key = _certificates.public_key(cert_url=signature["cert_url"], timeout=timeout)
    if public_key is None:
        return False
    message = signed_message(
        transmission_id=signature["transmission_id"],
        transmission_time=signature["transmission_time"],
        webhook_id=webhook_id,
        body=body,
    )
    try:
        public_key.verify(raw_signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True
