"""Compares the code's GraphQL schema with a previous one (the committed schema.graphql, a git ref, or a file) and
lists the breaking and dangerous changes (graphql-core's find_breaking_changes / find_dangerous_changes).
Exit status 1 when a change is breaking, unless --allow-breaking; dangerous changes are printed and allowed."""

import subprocess
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from mlapi.graphql_core.contract import SCHEMA_FILE, schema_changes, schema_sdl_at


class Command(BaseCommand):
    help = "List breaking and dangerous GraphQL schema changes against the committed schema.graphql or a git ref."

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group()
        source.add_argument(
            "--against-ref", help="Compare with schema.graphql as committed at this git ref (e.g. main)."
        )
        source.add_argument("--against-file", help=f"Compare with this SDL file (default: {SCHEMA_FILE}).")
        parser.add_argument("--allow-breaking", action="store_true", help="Report breaking changes but exit 0.")

    def handle(self, *args, against_ref: str | None, against_file: str | None, allow_breaking: bool, **options):
        if against_ref:
            try:
                old_sdl = schema_sdl_at(against_ref)
            except subprocess.CalledProcessError as error:
                raise CommandError(f"No schema.graphql at {against_ref}: {error.stderr.strip()}") from None
            label = f"{against_ref}:schema.graphql"
        else:
            path = against_file or str(SCHEMA_FILE)
            try:
                old_sdl = Path(path).read_text(encoding="utf-8")
            except FileNotFoundError:
                raise CommandError(f"No such file: {path}") from None
            label = path
        changes = schema_changes(old_sdl=old_sdl)
        for change in changes.breaking:
            self.stdout.write(f"BREAKING {change.type.name}: {change.description}")
        for change in changes.dangerous:
            self.stdout.write(f"DANGEROUS {change.type.name}: {change.description}")
        self.stdout.write(
            f"{len(changes.breaking)} breaking, {len(changes.dangerous)} dangerous change(s) against {label}."
        )
        if changes.breaking and not allow_breaking:
            raise CommandError(
                "Breaking schema changes: deprecate first (@deprecated(reason:)) and remove after a cycle, "
                "or pass --allow-breaking when the break is intended."
            )
