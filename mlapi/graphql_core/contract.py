"""The published GraphQL contract: `schema.graphql` at the repository root is the code's SDL, committed, so every
change to the contract shows up in review; and graphql-core's breaking/dangerous change finder against it."""

import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from graphql import (
    BreakingChange,
    DangerousChange,
    build_schema,
    find_breaking_changes,
    find_dangerous_changes,
)
from graphql.utilities import lexicographic_sort_schema, print_schema

SCHEMA_FILE = Path(settings.BASE_DIR) / "schema.graphql"
REGENERATE = "python manage.py export_schema"


def schema_sdl() -> str:
    """The code's schema as SDL, as `schema.graphql` must hold it: sorted by name, so the file does not depend on
    import order and merges of independent changes touch independent lines."""
    from mlapi.schema import schema

    return print_schema(lexicographic_sort_schema(schema.graphql_schema)) + "\n"


@dataclass(frozen=True)
class SchemaChanges:
    breaking: list[BreakingChange]
    dangerous: list[DangerousChange]


def schema_changes(*, old_sdl: str, new_sdl: str | None = None) -> SchemaChanges:
    """What changed from `old_sdl` to `new_sdl` (default: the code's schema) that can break or surprise clients."""
    old = build_schema(old_sdl)
    new = build_schema(new_sdl if new_sdl is not None else schema_sdl())
    return SchemaChanges(breaking=find_breaking_changes(old, new), dangerous=find_dangerous_changes(old, new))


def schema_sdl_at(ref: str) -> str:
    """`schema.graphql` as committed at git `ref` (a branch, tag or commit)."""
    relative = SCHEMA_FILE.relative_to(Path(settings.BASE_DIR)).as_posix()
    return subprocess.run(
        ["git", "show", f"{ref}:{relative}"], cwd=settings.BASE_DIR, check=True, capture_output=True, text=True
    ).stdout
