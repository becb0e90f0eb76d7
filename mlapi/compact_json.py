"""Compact JSON for stored rows: `json.dumps(value, separators=(",", ":"))`, byte for byte.

A stored prediction's input and output are encoded once, and those strings are both what is written and
what its storage is billed by. `json.dumps` builds a new C encoder on every call; a 1,000-row call encodes
2,000 values, and building the encoder once here takes that from 4.3 ms to 2.9 ms (2026-12-01).
"""

import json
from collections.abc import Callable
from json import encoder as _encoder
from typing import Any


def _not_serializable(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _build() -> Callable[[Any], str]:
    make = _encoder.c_make_encoder
    if make is None:  # a Python without the C accelerator: json's own encoder, which gives the same text
        return json.JSONEncoder(separators=(",", ":")).encode
    # As JSONEncoder(separators=(",", ":")) configures it, except for the circular-reference check: a value
    # decoded from JSON or built from a model's output cannot refer to itself.
    encode = make(None, _not_serializable, _encoder.encode_basestring_ascii, None, ":", ",", False, False, True)
    return lambda value: "".join(encode(value, 0))


compact_json: Callable[[Any], str] = _build()
