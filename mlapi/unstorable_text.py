"""Text that cannot be stored or sent to PostgreSQL: a NUL character (refused in text and JSON) or an unpaired
UTF-16 surrogate (not Unicode; JSON's \\u escapes can spell one). Requests that carry either are refused at
the edge with INVALID_CHARACTER, before anything runs (a NUL in a model name or an idempotency key used to
reach the database and answer an internal error)."""

import re
from typing import Any

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
INVALID_CHARACTER = "INVALID_CHARACTER"
INVALID_CHARACTER_MESSAGE = "The request holds a NUL character or an unpaired surrogate, which cannot be stored."

# In a JSON text, a NUL or a surrogate can only be written as a \u escape (raw control characters are not
# JSON, and surrogates are not UTF-8): a body without "\u" needs no walk of its values.
_ESCAPE = b"\\u"


def unstorable_text_in(value: Any) -> bool:
    """Whether any string in a JSON-like value (keys too) holds a NUL or an unpaired surrogate. Iterative."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if UNSTORABLE.search(item):
                return True
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and UNSTORABLE.search(key):
                    return True
                pending.append(child)
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return False


def unstorable_text_in_json(raw: bytes, parsed: Any) -> bool:
    """`unstorable_text_in(parsed)` for `parsed = json.loads(raw)`, without the walk when `raw` has no escape."""
    return _ESCAPE in raw and unstorable_text_in(parsed)
