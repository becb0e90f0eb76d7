"""What the parity tests (a fast lane against the general path) compare: answers with their volatile values
(ids, times, amounts) masked to their shape, in parsed JSON and in the raw bytes."""

import json
import re


def volatile(value):
    """Keeps what a client could tell apart: the JSON type, and a string's shape (digits and hex letters masked)."""
    if isinstance(value, str):
        return "str:" + re.sub(r"[0-9a-f]", "x", value)
    return type(value).__name__


def raw_masked(content: bytes, keys: set[str]) -> str:
    """The body as sent, volatile values masked by their shape: the bytes must match too (spacing, escapes)."""
    text = content.decode()
    for key in keys:
        text = re.sub(
            rf'("{key}":\s*)("[^"]*"|[-+0-9.eE]+)', lambda m: m.group(1) + volatile(json.loads(m.group(2))), text
        )
    return text


def masked(value, keys: set[str]):
    if isinstance(value, dict):
        return {key: (volatile(item) if key in keys else masked(item, keys)) for key, item in value.items()}
    if isinstance(value, list):
        return [masked(item, keys) for item in value]
    return value


def same_second(first: dict, second: dict) -> None:
    """A quota's Retry-After counts down to the month's end: two answers a moment apart may straddle a second."""
    a, b = (answer["headers"].get("Retry-After") for answer in (first, second))
    if a and b and abs(int(a) - int(b)) <= 1:
        second["headers"]["Retry-After"] = a
