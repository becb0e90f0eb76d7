"""The published contract: schema.graphql is the code's SDL, the breaking-change check works, and the schema
follows the house rules (mlapi.graphql_core.lint) — for every field, including ones added later."""

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from graphql import build_schema

from mlapi.graphql_core.contract import REGENERATE, SCHEMA_FILE, schema_sdl
from mlapi.graphql_core.lint import schema_lint
from mlapi.schema import schema


def test_schema_graphql_is_the_codes_schema():
    # given: the committed file
    committed = SCHEMA_FILE.read_text(encoding="utf-8")
    # then
    assert committed == schema_sdl(), (
        f"schema.graphql differs from the code's schema: run `{REGENERATE}` and commit it."
    )


def test_export_schema_check_refuses_a_stale_file_and_rewrites_it(tmp_path: Path):
    # given: a file one description away from the code's schema
    stale = tmp_path / "schema.graphql"
    stale.write_text(schema_sdl().replace("Your predictions, newest first.", "Your predictions."), encoding="utf-8")
    # when / then
    with pytest.raises(CommandError, match="export_schema"):
        call_command("export_schema", "--check", "--out", str(stale))
    call_command("export_schema", "--out", str(stale))
    call_command("export_schema", "--check", "--out", str(stale))
    assert stale.read_text(encoding="utf-8") == schema_sdl()


def _run_breaking_check(*args) -> tuple[str, CommandError | None]:
    from io import StringIO

    out = StringIO()
    try:
        call_command("graphql_breaking_changes", *args, stdout=out)
    except CommandError as error:
        return out.getvalue(), error
    return out.getvalue(), None


def test_breaking_change_check_fails_on_a_removed_field(tmp_path: Path):
    # given: a previous schema with a field the code no longer has
    previous = tmp_path / "previous.graphql"
    previous.write_text(schema_sdl().replace("type Query {", "type Query {\n  retired: String\n", 1), encoding="utf-8")
    # when
    output, error = _run_breaking_check("--against-file", str(previous))
    # then
    assert error is not None
    assert "BREAKING FIELD_REMOVED: Query.retired was removed." in output
    assert output.strip().endswith("1 breaking, 0 dangerous change(s) against " + str(previous) + ".")


def test_breaking_change_check_reports_dangerous_changes_and_passes(tmp_path: Path):
    # given: a previous schema without one of today's enum values (adding a value is dangerous, not breaking)
    sdl = schema_sdl()
    previous = tmp_path / "previous.graphql"
    previous.write_text(sdl.replace('  """Retired; visible to staff only."""\n  archived\n', ""), encoding="utf-8")
    assert previous.read_text(encoding="utf-8") != sdl
    # when
    output, error = _run_breaking_check("--against-file", str(previous))
    # then
    assert error is None, output
    assert "DANGEROUS VALUE_ADDED_TO_ENUM: archived was added to enum type ModelStage." in output


def test_breaking_change_check_against_the_committed_file_finds_nothing():
    output, error = _run_breaking_check()
    assert error is None and output.strip().endswith(
        "0 breaking, 0 dangerous change(s) against " + str(SCHEMA_FILE) + "."
    )


def test_breaking_change_check_names_a_missing_git_ref():
    _, error = _run_breaking_check("--against-ref", "no-such-ref-h1")
    assert error is not None and "no-such-ref-h1" in str(error)


def test_the_schema_passes_the_lint():
    problems = schema_lint(schema.graphql_schema)
    assert problems == [], "\n".join(problems)


def test_the_lint_catches_each_rule():
    # given: a schema breaking every rule once
    bad = build_schema(
        """
        "q" type Query { "t" things("f" first: Int, "a" after: String): ThingConnection! }
        type Thing { "s" status: String "o" old: String @deprecated }
        "c" type ThingConnection { "p" pageInfo: PageInfo! "e" edges: [ThingEdge]! }
        "e" type ThingEdge { "n" node: Thing "c" cursor: String! }
        "p" type PageInfo { "h" hasNextPage: Boolean! }
        "c" enum Color { RED }
        "f" input Filter { "k" kind: String }
        "e" interface Error { "m" message: String! }
        "o" type Oops implements Error { "m" message: String! "c" code: String! }
        "c" type CreateThing { "e" errors: [Oops!]! }
        "m" type Mutation { "c" createThing("i" input: Filter): CreateThing }
        """
    )
    # when
    problems = schema_lint(bad)
    # then
    expected = [
        "Thing: no description",
        "Thing.status: a String named like a closed set",
        "Thing.old: deprecated without saying what to use instead",
        "Color.RED: no description",
        "Filter: an input object's name must end in Input",
        "Filter.kind: a String named like a closed set",
        "Oops.code: a String named like a closed set",
        "Mutation.createThing: returns CreateThing, not a …Payload",
        "Oops.code: must be a non-null enum",
        "ThingConnection: needs totalCount: Int!",
        "ThingConnection.edges: must be a non-null list of non-null edges",
        "ThingEdge.node: must be non-null",
        "Query.things: a connection field without last, before",
    ]
    for rule in expected:
        assert any(p.startswith(rule) for p in problems), rule
    assert len(problems) == len(expected), "\n".join(problems)


def test_error_code_enums_are_generated_from_the_error_codes_modules():
    from accounts.error_codes import AccountErrorCode
    from batch.error_codes import BatchErrorCode
    from billing.error_codes import BillingErrorCode
    from predictions.error_codes import PredictionErrorCode, RegistryErrorCode
    from quality.error_codes import DriftErrorCode

    sources = {
        "PredictionErrorCode": (PredictionErrorCode, BillingErrorCode),
        "BatchErrorCode": (BatchErrorCode, PredictionErrorCode, BillingErrorCode),
        "RegistryErrorCode": (RegistryErrorCode, PredictionErrorCode, DriftErrorCode),  # a registration's reference
        "BillingErrorCode": (BillingErrorCode,),
        "AccountErrorCode": (AccountErrorCode,),
    }
    for name, enums in sources.items():
        published = schema.graphql_schema.type_map[name]
        assert set(published.values) == {member.value for enum in enums for member in enum}, name
    assert (
        schema.graphql_schema.type_map["PredictionErrorCode"].values["REQUIRED"].description
        == PredictionErrorCode.REQUIRED.description
    )


def test_a_mutation_naming_no_error_type_gets_every_apps_codes():
    # given: a mutation written against BaseMutation without Meta.error_type_class
    import graphene

    from mlapi.errors import ApplicationError
    from mlapi.graphql_core.mutations import BaseMutation
    from predictions.error_codes import RegistryErrorCode

    class Refuse(BaseMutation):
        """Always refused."""

        class Meta:
            name = "RefusePayload"

        @classmethod
        def perform(cls, root, info):
            raise ApplicationError.single(RegistryErrorCode.BREAKING_CHANGE, "No.", field="stage")

    class Mutation(graphene.ObjectType):
        refuse = Refuse.Field()

    class Query(graphene.ObjectType):
        ok = graphene.Boolean()

    class Context:
        pass

    built = graphene.Schema(query=Query, mutation=Mutation)
    # when
    result = built.execute("mutation { refuse { errors { __typename field code } } }", context_value=Context())
    # then
    assert result.errors is None
    assert result.data == {
        "refuse": {"errors": [{"__typename": "MutationError", "field": "stage", "code": "BREAKING_CHANGE"}]}
    }
    codes = built.graphql_schema.type_map["MutationErrorCode"].values
    assert {"QUOTA_EXCEEDED", "UPLOAD_IN_USE", "INVALID_USERNAME", "REQUIRED"} <= set(codes)
