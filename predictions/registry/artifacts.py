"""Reading estimator files: format detection, hashing, and loading joblib (trusted staff only) or skops."""

import hashlib
import importlib
import io
from typing import Any, BinaryIO

from mlapi.errors import ApplicationError, PayloadTooLargeError, PermissionDeniedError
from predictions.error_codes import RegistryErrorCode

FORMATS_BY_SUFFIX = {"joblib": "joblib", "pkl": "joblib", "pickle": "joblib", "skops": "skops"}
# skops trusts by default the public estimators, primitives, numpy/scipy ufuncs, dtypes and bit generators.
# Beyond that, only scikit-learn's own estimator and transformer classes are trusted without a named
# approval (private ones such as sklearn.calibration._SigmoidCalibration). Never a module prefix: names under
# `sklearn.` include callables re-exported from elsewhere (sklearn.utils._testing.check_output is
# subprocess.check_output). Everything else is approved by name and recorded with the model, including
# sklearn.tree._tree.Tree, which skops refuses to trust by default (crafted node indices crash predict()).
SKLEARN_PACKAGE = "sklearn"
# Modules never imported to resolve a name: test helpers, vendored code and pytest configuration.
UNRESOLVED_MODULE_PARTS = frozenset({"tests", "conftest", "externals", "_testing"})


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
        raise PayloadTooLargeError.single(
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
            RegistryErrorCode.ARTIFACT_UNREADABLE,
            f"Not a readable skops file ({type(exc).__name__}).",
            field="artifact",
        ) from exc


def sklearn_estimator_class_named(type_name: str) -> type | None:
    """The scikit-learn estimator or transformer class whose canonical name is `type_name`, else None.

    The name is resolved without loading anything from the file: only modules of the scikit-learn package
    are imported, and the object must be a class defined there under that very name (not a re-export, not
    a function), deriving from sklearn.base.BaseEstimator, and not one skops warns about.
    """
    from sklearn.base import BaseEstimator
    from skops.io.exceptions import UNTRUSTED_TYPE_REASONS

    module_name, _, class_name = type_name.rpartition(".")
    parts = module_name.split(".")
    if parts[0] != SKLEARN_PACKAGE or not class_name.isidentifier() or UNRESOLVED_MODULE_PARTS & set(parts):
        return None
    if type_name in UNTRUSTED_TYPE_REASONS or not all(part.isidentifier() for part in parts):
        return None
    try:
        module = importlib.import_module(module_name)
    except Exception:  # noqa: BLE001 - a name that does not import is simply not trusted
        return None
    candidate = getattr(module, class_name, None)
    if not isinstance(candidate, type):
        return None
    if (candidate.__module__, candidate.__qualname__) != (module_name, class_name):
        return None
    return candidate if issubclass(candidate, BaseEstimator) else None


def skops_types_to_trust(*, data: bytes, approved: list[str]) -> list[str]:
    """The skops types this file needs, all recorded with the model. Each must be trusted by skops itself,
    be a scikit-learn estimator class, or be approved by name: nothing in the file is loaded to decide."""
    needed = skops_untrusted_types(data=data)
    unapproved = [t for t in needed if t not in approved and sklearn_estimator_class_named(t) is None]
    if unapproved:
        raise PermissionDeniedError.single(
            RegistryErrorCode.UNTRUSTED_TYPES,
            f"The file needs types that neither skops nor this service trusts: {unapproved}. "
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
