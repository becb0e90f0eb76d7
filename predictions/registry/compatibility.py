"""Whether clients of one input schema keep working against another: the differences, each breaking or not.

A client built against `old` breaks on `new` when a request it sends today would be refused, or read
differently, tomorrow. Positional clients send arrays in schema order, so a feature changing position
breaks them too.
"""

from dataclasses import dataclass
from enum import Enum

UNKNOWN_REFUSE = "refuse"
UNKNOWN_PASS = "pass"


class DifferenceKind(str, Enum):
    REMOVED = "REMOVED"
    ADDED_REQUIRED = "ADDED_REQUIRED"
    ADDED_NULLABLE = "ADDED_NULLABLE"
    RETYPED = "RETYPED"
    MOVED = "MOVED"
    MADE_REQUIRED = "MADE_REQUIRED"
    MADE_NULLABLE = "MADE_NULLABLE"
    ALLOWED_ADDED = "ALLOWED_ADDED"
    ALLOWED_REMOVED = "ALLOWED_REMOVED"
    ALLOWED_NARROWED = "ALLOWED_NARROWED"
    ALLOWED_WIDENED = "ALLOWED_WIDENED"
    UNKNOWN_REFUSED = "UNKNOWN_REFUSED"
    UNKNOWN_PASSED = "UNKNOWN_PASSED"


@dataclass(frozen=True)
class SchemaDifference:
    feature: str
    kind: DifferenceKind
    breaking: bool
    message: str


# An integer is a valid number, so integer -> number refuses nothing a client sent before.
_WIDENING_RETYPES = {("integer", "number")}
_SHOWN_VALUES = 10


def _features(schema: dict) -> list[dict]:
    return list((schema or {}).get("features") or [])


def _nullable(feature: dict) -> bool:
    return bool(feature.get("nullable", False))


def _refuses_unknown(feature: dict) -> bool:
    return feature.get("unknown", UNKNOWN_REFUSE) != UNKNOWN_PASS


def _shown(values: list) -> str:
    head = ", ".join(repr(v) for v in values[:_SHOWN_VALUES])
    return head + (f" and {len(values) - _SHOWN_VALUES} more" if len(values) > _SHOWN_VALUES else "")


def _missing(values: list, among: list) -> list:
    """Values not in `among`, by equality (JSON values; 1 == 1.0 as the validator sees them)."""
    return [v for v in values if v not in among]


def _allowed_differences(name: str, old: dict, new: dict) -> list[SchemaDifference]:
    old_allowed, new_allowed = old.get("allowed"), new.get("allowed")
    refused = _refuses_unknown(new)
    if old_allowed is None and new_allowed is None:
        return []
    if new_allowed is None:
        return [SchemaDifference(name, DifferenceKind.ALLOWED_REMOVED, False, f"{name!r} now takes any value.")]
    if old_allowed is None:
        what = "refused" if refused else "passed to the encoder"
        return [
            SchemaDifference(
                name,
                DifferenceKind.ALLOWED_ADDED,
                refused,
                f"{name!r} now takes a closed set ({_shown(new_allowed)}); other values are {what}.",
            )
        ]
    differences = []
    dropped, added = _missing(old_allowed, new_allowed), _missing(new_allowed, old_allowed)
    if dropped:
        what = "refused" if refused else "passed to the encoder as unknown"
        differences.append(
            SchemaDifference(
                name,
                DifferenceKind.ALLOWED_NARROWED,
                refused,
                f"{name!r} no longer allows {_shown(dropped)} (now {what}).",
            )
        )
    if added:
        differences.append(
            SchemaDifference(name, DifferenceKind.ALLOWED_WIDENED, False, f"{name!r} now also allows {_shown(added)}.")
        )
    if _refuses_unknown(old) != refused:
        differences.append(
            SchemaDifference(
                name, DifferenceKind.UNKNOWN_REFUSED, True, f"{name!r} now refuses values outside its list."
            )
            if refused
            else SchemaDifference(
                name,
                DifferenceKind.UNKNOWN_PASSED,
                False,
                f"{name!r} now passes values outside its list to the encoder.",
            )
        )
    return differences


def _feature_differences(name: str, old: dict, new: dict) -> list[SchemaDifference]:
    differences = []
    if old.get("type") != new.get("type"):
        breaking = (old.get("type"), new.get("type")) not in _WIDENING_RETYPES
        differences.append(
            SchemaDifference(
                name,
                DifferenceKind.RETYPED,
                breaking,
                f"{name!r} changes type from {old.get('type')} to {new.get('type')}.",
            )
        )
    if _nullable(old) and not _nullable(new):
        differences.append(SchemaDifference(name, DifferenceKind.MADE_REQUIRED, True, f"{name!r} is now required."))
    elif not _nullable(old) and _nullable(new):
        differences.append(
            SchemaDifference(name, DifferenceKind.MADE_NULLABLE, False, f"{name!r} may now be null or omitted.")
        )
    return differences + _allowed_differences(name, old, new)


def schema_differences(*, old: dict, new: dict) -> list[SchemaDifference]:
    """Every difference from `old` to `new`, in `old`'s feature order, then the new features."""
    old_features, new_features = _features(old), _features(new)
    new_by_name = {f["name"]: (position, f) for position, f in enumerate(new_features)}
    old_names = {f["name"] for f in old_features}
    differences: list[SchemaDifference] = []
    for position, feature in enumerate(old_features):
        name = feature["name"]
        if name not in new_by_name:
            differences.append(SchemaDifference(name, DifferenceKind.REMOVED, True, f"{name!r} is no longer an input."))
            continue
        new_position, new_feature = new_by_name[name]
        if new_position != position:
            differences.append(
                SchemaDifference(
                    name,
                    DifferenceKind.MOVED,
                    True,
                    f"{name!r} moves from position {position} to {new_position} (positional clients break).",
                )
            )
        differences.extend(_feature_differences(name, feature, new_feature))
    for feature in new_features:
        name = feature["name"]
        if name in old_names:
            continue
        differences.append(
            SchemaDifference(name, DifferenceKind.ADDED_NULLABLE, False, f"{name!r} is a new optional input.")
            if _nullable(feature)
            else SchemaDifference(name, DifferenceKind.ADDED_REQUIRED, True, f"{name!r} is a new required input.")
        )
    return differences


def breaking_differences(*, old: dict, new: dict) -> list[SchemaDifference]:
    return [d for d in schema_differences(old=old, new=new) if d.breaking]
