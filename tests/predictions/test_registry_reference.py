"""A drift reference sample sent with the registration: REST `reference` part on POST /api/v1/models and
`reference: Upload` on registerModel; a refused reference registers nothing."""

import io
import json

import pytest

from predictions.models import RegisteredModel
from quality.models import DriftReference
from tests.predictions.conftest import joblib_bytes, tiny_pipeline

GOOD = b"size,color\n1.0,red\n2.5,blue\n3.0,red\n7.5,blue\n"
REGISTER = """
mutation Register($input: RegisterModelInput!) {
  registerModel(input: $input) { model { id name version } errors { field code } }
}
"""


def _file(content: bytes, name: str) -> io.BytesIO:
    upload = io.BytesIO(content)
    upload.name = name
    return upload


def _rest(client, token, reference: bytes | None):
    data = {"name": "tiny", "artifact": _file(joblib_bytes(tiny_pipeline()), "model.joblib")}
    if reference is not None:
        data["reference"] = _file(reference, "train.csv")
    return client.post("/api/v1/models", data, HTTP_AUTHORIZATION=f"Bearer {token}")


def _graphql(client, token, reference: bytes | None):
    variables = {"input": {"artifact": None, "name": "tiny", **({"reference": None} if reference is not None else {})}}
    files_map = {"0": ["variables.input.artifact"]}
    data = {"0": _file(joblib_bytes(tiny_pipeline()), "model.joblib")}
    if reference is not None:
        files_map["1"] = ["variables.input.reference"]
        data["1"] = _file(reference, "train.csv")
    data["operations"] = json.dumps({"query": REGISTER, "variables": variables})
    data["map"] = json.dumps(files_map)
    response = client.post("/graphql/", data, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    return response.json()["data"]["registerModel"]


def test_rest_registration_with_a_reference_stores_its_statistics(client, registry_token, stored):
    before = stored()

    response = _rest(client, registry_token, GOOD)

    assert response.status_code == 201, response.content
    model = RegisteredModel.objects.get(pk=response.json()["id"])
    reference = DriftReference.objects.get(model=model)
    assert (reference.source, reference.rows) == (DriftReference.Source.SAMPLE, 4)
    assert {"size", "color"} <= set(reference.statistics)
    assert stored() == (before[0] + 1, before[1] + 1)


def test_rest_registration_without_a_reference_has_none(client, registry_token):
    response = _rest(client, registry_token, None)

    assert response.status_code == 201, response.content
    assert not DriftReference.objects.exists()


@pytest.mark.parametrize(
    ("reference", "code"),
    [
        (b"size,color\nbig,red\n", "INVALID_REFERENCE"),
        (b"size,color\n", "INVALID_REFERENCE"),
        (b"\xff\xfe\x00", "INVALID_REFERENCE"),
        (GOOD * 20, "REFERENCE_TOO_LARGE"),
    ],
)
def test_a_refused_reference_registers_nothing_over_rest(client, registry_token, stored, settings, reference, code):
    settings.QUALITY_REFERENCE_MAX_BYTES = 200
    before = stored()

    response = _rest(client, registry_token, reference)

    assert response.status_code == 400, response.content
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("reference", code)]
    assert stored() == before
    assert not DriftReference.objects.exists()


def test_graphql_registration_with_a_reference_stores_its_statistics(client, registry_token):
    payload = _graphql(client, registry_token, GOOD)

    assert payload["errors"] == []
    assert DriftReference.objects.get(model_id=payload["model"]["id"]).rows == 4


def test_a_refused_reference_registers_nothing_over_graphql(client, registry_token, stored):
    before = stored()

    payload = _graphql(client, registry_token, b"size,color\nbig,red\n")

    assert payload["model"] is None
    assert payload["errors"] == [{"field": "reference", "code": "INVALID_REFERENCE"}]
    assert stored() == before


def test_register_model_command_takes_a_reference_and_a_bad_one_registers_nothing(tmp_path, staff_user, stored):
    from django.core.management import CommandError, call_command

    artifact = tmp_path / "tiny.joblib"
    artifact.write_bytes(joblib_bytes(tiny_pipeline()))
    good, bad = tmp_path / "train.csv", tmp_path / "bad.csv"
    good.write_bytes(GOOD)
    bad.write_bytes(b"size,color\nbig,red\n")
    before = stored()

    with pytest.raises(CommandError, match="INVALID_REFERENCE"):
        call_command("register_model", str(artifact), "--name", "tiny", "--as-user", "staff", "--reference", str(bad))
    assert stored() == before

    out = io.StringIO()
    call_command(
        "register_model", str(artifact), "--name", "tiny", "--as-user", "staff", "--reference", str(good), stdout=out
    )
    assert DriftReference.objects.get(model_id=json.loads(out.getvalue())["id"]).rows == 4
