"""Reading estimator files: format detection, hashing, and loading joblib (trusted staff only) or skops."""

import hashlib
import io
from typing import Any, BinaryIO

from mlapi.errors import ApplicationError, PermissionDeniedError
from predictions.error_codes import RegistryErrorCode

FORMATS_BY_SUFFIX = {"joblib": "joblib", "pkl": "joblib", "pickle": "joblib", "skops": "skops"}
# scikit-learn's own types (e.g. sklearn.tree._tree.Tree) are trusted without a named approval;
# anything else skops does not trust by default (numpy.load, builtins.eval, ...) must be approved by name.
TRUSTED_MODULE_PREFIXES = ("sklearn.",)


def artifact_format_detect(*, filename: str) -> str:
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix not in FORMATS_BY_SUFFIX:
        raise ApplicationError.single(
            RegistryErrorCode.UNSUPPORTED_FORMAT,
            "Upload a .joblib (or .pkl) or a .skops file.",
            field="artifact",
        )
    return FORMATS_BY_SUFFIX[suffix]


def artifact_read(*, stream: BinaryIO, max_bytes: int) -> bytes:
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ApplicationError.single(
            RegistryErrorCode.ARTIFACT_TOO_LARGE, f"The artifact is larger than {max_bytes} bytes.", field="artifact"
        )
    return data


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def skops_untrusted_types(*, data: bytes) -> list[str]:
    import skops.io as sio

    try:
        return sorted(sio.get_untrusted_types(data=data))
    except Exception as exc:
        raise ApplicationError.single(
            RegistryErrorCode.ARTIFACT_UNREADABLE, f"Not a readable skops file ({type(exc).__name__}).", field="artifact"
        ) from exc


def skops_types_to_trust(*, data: bytes, approved: list[str]) -> list[str]:
    """The skops types this file needs; any beyond the scientific stack must be approved by name."""
    needed = skops_untrusted_types(data=data)
    unapproved = [t for t in needed if not t.startswith(TRUSTED_MODULE_PREFIXES) and t not in approved]
    if unapproved:
        raise PermissionDeniedError.single(
            RegistryErrorCode.UNTRUSTED_TYPES,
            f"The file needs types skops does not trust and that are not scikit-learn's: {unapproved}. "
            "Approve them by name to register it.",
            field="artifact",
        )
    return needed


def estimator_load(*, data: bytes, artifact_format: str, trusted_types: list[str]) -> Any:
    """Loads from bytes already hashed, so the bytes checked are the bytes loaded."""
    if artifact_format == "skops":
        import skops.io as sio

        return sio.loads(data, trusted=trusted_types)
    import joblib

    return joblib.load(io.BytesIO(data))
