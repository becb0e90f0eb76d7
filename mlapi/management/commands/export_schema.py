"""Writes the code's GraphQL SDL to schema.graphql (or, with --check, exits 1 when the file differs)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from mlapi.graphql_core.contract import REGENERATE, SCHEMA_FILE, schema_sdl


class Command(BaseCommand):
    help = "Write the GraphQL schema's SDL to schema.graphql at the repository root."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Change nothing; exit 1 when the file is stale.")
        parser.add_argument("--out", default=str(SCHEMA_FILE), help="Where to write (default: %(default)s).")

    def handle(self, *args, check: bool, out: str, **options):
        sdl = schema_sdl()
        if check:
            path = Path(out)
            current = path.read_text(encoding="utf-8") if path.exists() else None
            if current != sdl:
                raise CommandError(f"{out} differs from the code's schema: run `{REGENERATE}` and commit it.")
            self.stdout.write(f"{out} is up to date.")
            return
        Path(out).write_text(sdl, encoding="utf-8")
        self.stdout.write(f"Wrote {out}.")
