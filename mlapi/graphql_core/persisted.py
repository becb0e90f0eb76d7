"""Persisted documents: a client sends `{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "…"}}}`
instead of (or beside) the query text, as in Apollo's automatic persisted queries (APQ).

Modes (setting GRAPHQL_PERSISTED_DOCUMENTS):

- "trusted" (the default, and the one for production): the hash must name a document of the server's allow-list,
  the manifest at GRAPHQL_TRUSTED_DOCUMENTS_FILE (Apollo's persisted-query manifest format). Nobody can add to it
  over the network. An unknown hash is PERSISTED_QUERY_NOT_FOUND.
- "apq": the allow-list, plus documents clients register by sending the query with its hash (Apollo's APQ flow:
  hash alone → PERSISTED_QUERY_NOT_FOUND → query + hash, stored once it parses and validates). Registered
  documents live in the cache (GRAPHQL_APQ_CACHE_SECONDS) and get the express lane too. Any caller can fill the
  store, up to the cache's size: for development and trusted networks.
- "off": any persistedQuery extension is PERSISTED_QUERY_NOT_SUPPORTED.

In every mode a hash that is not the sha256 of the query sent with it is PERSISTED_QUERY_HASH_MISMATCH, and a
request without the extension is an ordinary GraphQL request, as before. A query sent with its matching hash but
not on the allow-list ("trusted" mode) runs as an ordinary request (free-form documents are allowed), without the
express lane. All of these are top-level errors, HTTP 400, like every request-level GraphQL error here.
"""

import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from graphql import GraphQLError

from mlapi.graphql_core.error_codes import PersistedDocumentErrorCode

MODES = ("trusted", "apq", "off")
DEFAULT_MODE = "trusted"
DEFAULT_TRUSTED_DOCUMENTS_FILE = Path(__file__).resolve().parent / "trusted_documents.json"
DEFAULT_APQ_CACHE_SECONDS = 24 * 3600
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_APQ_CACHE_PREFIX = "graphql-apq:"
# Apollo's own messages: some clients match on them.
_MESSAGES = {
    PersistedDocumentErrorCode.PERSISTED_QUERY_NOT_FOUND: "PersistedQueryNotFound",
    PersistedDocumentErrorCode.PERSISTED_QUERY_NOT_SUPPORTED: "PersistedQueryNotSupported",
    PersistedDocumentErrorCode.PERSISTED_QUERY_HASH_MISMATCH: (
        "The sha256Hash is not the SHA-256 of the query sent with it."
    ),
    PersistedDocumentErrorCode.PERSISTED_QUERY_INVALID: (
        'persistedQuery must be {"version": 1, "sha256Hash": "<64 lowercase hex digits>"}.'
    ),
}


class PersistedDocumentError(Exception):
    def __init__(self, code: PersistedDocumentErrorCode):
        self.code = code
        super().__init__(_MESSAGES[code])

    def graphql_error(self) -> GraphQLError:
        return GraphQLError(str(self), extensions={"code": self.code.value})


@dataclass(frozen=True)
class ResolvedDocument:
    """The query to run; `sha256` is set when it is a persisted document (trusted or registered)."""

    query: object
    sha256: str | None = None
    register: bool = False  # APQ: store it once it has validated


NOT_PERSISTED = ResolvedDocument(query=None)


def persisted_mode() -> str:
    mode = getattr(settings, "GRAPHQL_PERSISTED_DOCUMENTS", DEFAULT_MODE)
    if mode not in MODES:
        raise ImproperlyConfigured(f"GRAPHQL_PERSISTED_DOCUMENTS must be one of {MODES}, not {mode!r}.")
    return mode


def document_sha256(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8")).hexdigest()


@lru_cache(maxsize=4)
def _manifest_load(path: str) -> dict[str, str]:
    try:
        manifest = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise ImproperlyConfigured(f"Cannot read the trusted documents manifest {path}: {error}") from error
    documents = {}
    for operation in manifest.get("operations", []):
        body, sha256 = operation["body"], operation["id"]
        if document_sha256(body) != sha256:
            raise ImproperlyConfigured(
                f"Trusted document {operation.get('name')!r} in {path}: id is not the body's sha256."
            )
        documents[sha256] = body
    return documents


def trusted_documents() -> dict[str, str]:
    """sha256 → document text, from the manifest (read once per process)."""
    return _manifest_load(str(getattr(settings, "GRAPHQL_TRUSTED_DOCUMENTS_FILE", DEFAULT_TRUSTED_DOCUMENTS_FILE)))


def persisted_extension(extensions) -> dict | None:
    """The persistedQuery extension of a request's `extensions` (a dict, or JSON text from a GET), if any."""
    if isinstance(extensions, str):
        try:
            extensions = json.loads(extensions)
        except ValueError:
            raise PersistedDocumentError(PersistedDocumentErrorCode.PERSISTED_QUERY_INVALID) from None
    if not isinstance(extensions, dict) or "persistedQuery" not in extensions:
        return None
    return extensions["persistedQuery"]


def persisted_document_resolve(*, extensions, query) -> ResolvedDocument:
    """Which document a request runs. Raises PersistedDocumentError for a refused persisted document."""
    extension = persisted_extension(extensions)
    if extension is None:
        return ResolvedDocument(query=query)
    if (
        not isinstance(extension, dict)
        or extension.get("version") != 1
        or not isinstance(extension.get("sha256Hash"), str)
        or not _SHA256_HEX.match(extension["sha256Hash"])
    ):
        raise PersistedDocumentError(PersistedDocumentErrorCode.PERSISTED_QUERY_INVALID)
    mode = persisted_mode()
    if mode == "off":
        raise PersistedDocumentError(PersistedDocumentErrorCode.PERSISTED_QUERY_NOT_SUPPORTED)
    sha256 = extension["sha256Hash"]
    trusted = trusted_documents()
    if query is not None:
        if not isinstance(query, str):
            return ResolvedDocument(query=query)  # the view refuses it as for any request
        if document_sha256(query) != sha256:
            raise PersistedDocumentError(PersistedDocumentErrorCode.PERSISTED_QUERY_HASH_MISMATCH)
        if sha256 in trusted:
            return ResolvedDocument(query=query, sha256=sha256)
        if mode == "apq":
            return ResolvedDocument(query=query, sha256=sha256, register=True)
        return ResolvedDocument(query=query)
    if sha256 in trusted:
        return ResolvedDocument(query=trusted[sha256], sha256=sha256)
    if mode == "apq":
        registered = cache.get(_APQ_CACHE_PREFIX + sha256)
        if registered is not None:
            return ResolvedDocument(query=registered, sha256=sha256)
    raise PersistedDocumentError(PersistedDocumentErrorCode.PERSISTED_QUERY_NOT_FOUND)


def persisted_document_register(*, document: ResolvedDocument) -> None:
    """APQ: keeps a validated document under its hash, for every worker (the shared cache)."""
    if document.register and isinstance(document.query, str):
        seconds = getattr(settings, "GRAPHQL_APQ_CACHE_SECONDS", DEFAULT_APQ_CACHE_SECONDS)
        cache.set(_APQ_CACHE_PREFIX + document.sha256, document.query, timeout=seconds)
