"""Errors as data: services raise these; GraphQL and REST turn them into `{field, code, message}`."""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Self


@dataclass(frozen=True)
class FieldError:
    field: str | None
    code: str
    message: str

    def as_dict(self) -> dict:
        return {"field": self.field, "code": self.code, "message": self.message}


class ApplicationError(Exception):
    """A user-level problem. `http_status` is what REST answers; GraphQL puts the errors in the payload."""

    http_status = 400

    def __init__(self, errors: Iterable[FieldError], *, retry_after: int | None = None):
        self.errors = list(errors)
        self.retry_after = retry_after
        super().__init__("; ".join(f"{e.code}: {e.message}" for e in self.errors))

    @classmethod
    def single(cls, code: Enum | str, message: str, *, field: str | None = None, **kwargs) -> Self:
        return cls([FieldError(field=field, code=getattr(code, "value", code), message=message)], **kwargs)


class NotFoundError(ApplicationError):
    http_status = 404


class ConflictError(ApplicationError):
    http_status = 409


class PermissionDeniedError(ApplicationError):
    http_status = 403


class PayloadTooLargeError(ApplicationError):
    http_status = 413


class LimitExceededError(ApplicationError):
    http_status = 429


class UnavailableError(ApplicationError):
    http_status = 503


class ErrorCode(str, Enum):
    """Base of each domain's code Enum (`<app>/error_codes.py`): a member may carry a description,
    `NAME = "NAME", "What it means."`, which GraphQL publishes on the enum value. `.value` stays the code."""

    description: str | None

    def __new__(cls, value: str, description: str | None = None):
        member = str.__new__(cls, value)
        member._value_ = value
        member.description = description
        return member
