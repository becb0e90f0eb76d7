"""A JSONField kept as text on PostgreSQL: for JSON that is written once, read back whole and never queried
inside by the database (a batch job's result rows).

On PostgreSQL a JSONField is jsonb, which parses every value on the way in; for a batch job's result rows
that parse was a third of PostgreSQL's CPU per row (7 of 21 µs per stored row, 2026-12-01). As text, the
stored value is the compact JSON that was billed, byte for byte. Python sees the same values either way (a
JSONField decodes what it reads); only lookups inside the JSON (`output__label`) are not available.
SQLite stores every JSONField as text already, and keeps its JSON_VALID check.
"""

from django.db import models


class JSONTextField(models.JSONField):
    def db_type(self, connection):
        if connection.vendor == "postgresql":
            return "text"
        return super().db_type(connection)
