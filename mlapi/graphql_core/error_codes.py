from enum import Enum


class PersistedDocumentErrorCode(str, Enum):
    """Top-level errors of persisted documents (`extensions.persistedQuery`, the Apollo APQ convention)."""

    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"  # send the query with its hash (APQ), or use a trusted one
    PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"  # persisted documents are off on this server
    PERSISTED_QUERY_HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"  # sha256Hash is not the sha256 of the query
    PERSISTED_QUERY_INVALID = "PERSISTED_QUERY_INVALID"  # not {"version": 1, "sha256Hash": "<64 hex digits>"}
