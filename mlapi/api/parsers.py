import io

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from mlapi.unstorable_text import INVALID_CHARACTER, INVALID_CHARACTER_MESSAGE, unstorable_text_in_json


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, answering 400 (not 500) for JSON nested too deeply for Python's parser, and for text
    nothing can store (INVALID_CHARACTER: a NUL or an unpaired surrogate)."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read()
        try:
            parsed = super().parse(io.BytesIO(raw), media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        if unstorable_text_in_json(raw, parsed):
            raise ParseError(INVALID_CHARACTER_MESSAGE, code=INVALID_CHARACTER)
        return parsed
