"""Management commands: create_api_client, register_model and seed_demo, checked through real tokens."""

import base64
import io
import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from oauth2_provider.models import Application

from predictions.demo import DEMO_APPLICATION, DEMO_USERNAME
from predictions.models import RegisteredModel
from tests.conftest import BANK_CLIENT, IRIS_SETOSA, iris_artifact, regressor_artifact

User = get_user_model()

ME = "{ me { username email tier { name } } }"
CREATE = """
mutation Create($input: CreatePredictionInput!) {
  createPrediction(input: $input) { prediction { output model { name version } } errors { field code } }
}
"""


def _run(*args, **options) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def _token(client, client_id, client_secret, scope="read predict"):
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    return client.post(
        "/o/token/", {"grant_type": "client_credentials", "scope": scope}, HTTP_AUTHORIZATION=f"Basic {basic}"
    )


def test_create_api_client_prints_credentials_that_get_a_token_for_the_user(client, gql, db):
    # when
    output = _run("create_api_client", "--username", "carol", "--email", "carol@example.com", "--tier", "pro")
    # then
    lines = output.strip().splitlines()
    assert len(lines) == 1
    credentials = json.loads(lines[0])
    assert set(credentials) == {"client_id", "client_secret", "scopes"}
    assert credentials["scopes"] == ["billing", "keys", "predict", "read"]  # no privileged scope without --staff
    response = _token(client, credentials["client_id"], credentials["client_secret"])
    assert response.status_code == 200
    status, body = gql(ME, token=response.json()["access_token"])
    assert status == 200
    assert body["data"]["me"] == {"username": "carol", "email": "carol@example.com", "tier": {"name": "pro"}}


def test_create_api_client_for_an_existing_user_adds_a_second_client(client, make_user):
    # given
    make_user("dave")
    # when
    first = json.loads(_run("create_api_client", "--username", "dave"))
    second = json.loads(_run("create_api_client", "--username", "dave"))
    # then
    assert first["client_id"] != second["client_id"]
    assert User.objects.filter(username="dave").count() == 1
    assert Application.objects.filter(user__username="dave").count() == 2
    for credentials in (first, second):
        assert _token(client, credentials["client_id"], credentials["client_secret"]).status_code == 200


def test_create_api_client_wrong_secret_gets_no_token(client, db):
    credentials = json.loads(_run("create_api_client", "--username", "erin"))
    response = _token(client, credentials["client_id"], credentials["client_secret"] + "x")
    assert response.status_code == 401


def test_create_api_client_with_an_unknown_tier_fails_and_creates_no_client(db):
    with pytest.raises(CommandError):
        _run("create_api_client", "--username", "frank", "--tier", "platinum")
    assert not Application.objects.filter(user__username="frank").exists()


def test_create_api_client_with_an_invalid_username_fails(db):
    with pytest.raises(CommandError):
        _run("create_api_client", "--username", "no spaces allowed!")
    assert not User.objects.filter(username="no spaces allowed!").exists()


def _artifact(tmp_path, name="iris.joblib", data=None):
    path = tmp_path / name
    path.write_bytes(data if data is not None else iris_artifact())
    return path


def test_register_model_as_the_first_superuser(tmp_path, make_user, issue_token, gql):
    # given
    admin = make_user("root", is_staff=True)
    admin.is_superuser = True
    admin.save()
    path = _artifact(tmp_path)
    # when
    first = json.loads(_run("register_model", str(path), "--name", "iris", "--stage", "production"))
    second = json.loads(_run("register_model", str(path), "--name", "iris", "--force"))
    # then
    assert (first["name"], first["version"], first["stage"]) == ("iris", 1, "production")
    assert (second["version"], second["stage"]) == (2, "staging")
    model = RegisteredModel.objects.get(pk=first["id"])
    assert model.registered_by == admin and model.sha256 == first["sha256"]
    _, body = gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, token=issue_token(make_user()))
    assert body["data"]["createPrediction"]["prediction"]["model"] == {"name": "iris", "version": 1}


def test_register_model_as_a_named_staff_user(tmp_path, staff_user):
    path = _artifact(tmp_path)
    result = json.loads(
        _run("register_model", str(path), "--name", "iris", "--as-user", "staff", "--metrics", '{"accuracy": 0.9}')
    )
    model = RegisteredModel.objects.get(pk=result["id"])
    assert model.registered_by == staff_user
    assert model.metrics == {"accuracy": 0.9}


def test_register_model_with_a_schema_file(tmp_path, staff_user):
    path = _artifact(tmp_path, "reg.joblib", regressor_artifact())
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps([{"name": "a", "type": "number"}, {"name": "b", "type": "number"}]))
    result = json.loads(
        _run("register_model", str(path), "--name", "reg", "--as-user", "staff", "--input-schema", str(schema))
    )
    assert [f["name"] for f in RegisteredModel.objects.get(pk=result["id"]).input_schema["features"]] == ["a", "b"]


def test_register_model_without_a_superuser_or_as_user_fails(tmp_path, staff_user):
    path = _artifact(tmp_path)
    with pytest.raises(CommandError):
        _run("register_model", str(path), "--name", "iris")
    assert RegisteredModel.objects.count() == 0


def test_register_model_as_a_non_staff_user_is_refused(tmp_path, make_user):
    make_user("mallory")
    path = _artifact(tmp_path)
    with pytest.raises(CommandError, match="PERMISSION_DENIED"):
        _run("register_model", str(path), "--name", "iris", "--as-user", "mallory")
    assert RegisteredModel.objects.count() == 0


@pytest.mark.parametrize(
    "name, data",
    [("model.txt", None), ("junk.joblib", b"garbage")],
    ids=["unsupported-format", "unreadable"],
)
def test_register_model_with_a_bad_file_fails(tmp_path, staff_user, name, data):
    path = _artifact(tmp_path, name, data)
    with pytest.raises(CommandError):
        _run("register_model", str(path), "--name", "iris", "--as-user", "staff")
    assert RegisteredModel.objects.count() == 0


def test_register_model_with_a_missing_file_fails(tmp_path, staff_user):
    with pytest.raises(CommandError):
        _run("register_model", str(tmp_path / "absent.joblib"), "--name", "iris", "--as-user", "staff")


@pytest.mark.slow
def test_seed_demo_twice_is_idempotent_and_the_demo_user_predicts_on_both_models(client, gql, db):
    # when
    first = _run("seed_demo")
    second = _run("seed_demo")
    # then
    assert "registered iris v1" in first and "registered bank-marketing v1" in first
    assert "demo models already registered" in second
    assert sorted(RegisteredModel.objects.values_list("name", "version", "stage")) == [
        ("bank-marketing", 1, "production"),
        ("iris", 1, "production"),
    ]
    assert Application.objects.filter(user__username=DEMO_USERNAME, name=DEMO_APPLICATION).count() == 1
    client_id = re.search(r"client_id=(\S+)", second).group(1)
    client_secret = re.search(r"client_secret=(\S+)", second).group(1)
    response = _token(client, client_id, client_secret)
    assert response.status_code == 200
    token = response.json()["access_token"]
    _, iris = gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, token=token)
    _, bank = gql(CREATE, {"input": {"modelName": "bank-marketing", "features": BANK_CLIENT}}, token=token)
    assert iris["data"]["createPrediction"]["errors"] == []
    assert iris["data"]["createPrediction"]["prediction"]["output"]["label"] == "setosa"
    assert bank["data"]["createPrediction"]["errors"] == []
    assert bank["data"]["createPrediction"]["prediction"]["output"]["label"] in ("yes", "no")
    _, me = gql(ME, token=token)
    assert me["data"]["me"]["tier"] == {"name": "pro"}
    # the first run's secret was rotated away
    old_secret = re.search(r"client_secret=(\S+)", first).group(1)
    assert _token(client, client_id, old_secret).status_code == 401


# --- register_model and set_model_stage as an operator sees them: one line with the code, exit 1 ---


@pytest.fixture
def cli(capsys, monkeypatch):
    """Runs `manage.py <argv>` in-process as the shell would (run_from_argv), returning (exit, out, err)."""
    from django.core.management import execute_from_command_line
    from django.db import connections

    # run_from_argv closes every connection when it ends; the test's transaction must survive it.
    monkeypatch.setattr(connections, "close_all", lambda: None)

    def run(*argv) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            execute_from_command_line(["manage.py", *argv])
            code = 0
        except SystemExit as exit_:
            code = exit_.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _assert_one_line_error(code: int, err: str, error_code: str) -> None:
    assert code == 1
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert error_code in lines[0]


def test_register_model_with_a_bad_name_is_one_line_invalid_name(cli, tmp_path, staff_user):
    path = _artifact(tmp_path)
    code, out, err = cli("register_model", str(path), "--name", "bad name!", "--as-user", "staff")
    _assert_one_line_error(code, err, "INVALID_NAME")
    assert out == ""
    assert RegisteredModel.objects.count() == 0


def test_register_model_refuses_a_duplicate_file_then_registers_it_when_forced(cli, tmp_path, staff_user):
    # given
    path = _artifact(tmp_path)
    assert cli("register_model", str(path), "--name", "iris", "--as-user", "staff")[0] == 0
    # when
    code, _, err = cli("register_model", str(path), "--name", "iris", "--as-user", "staff")
    forced_code, forced_out, _ = cli("register_model", str(path), "--name", "iris", "--as-user", "staff", "--force")
    # then
    _assert_one_line_error(code, err, "DUPLICATE_ARTIFACT")
    assert "iris v1" in err
    assert forced_code == 0
    assert json.loads(forced_out)["version"] == 2
    assert RegisteredModel.objects.count() == 2


def test_register_model_with_an_unreadable_path_is_artifact_unreadable(cli, tmp_path, staff_user):
    # given: a directory named like an artifact
    directory = tmp_path / "model.joblib"
    directory.mkdir()
    # when
    code, _, err = cli("register_model", str(directory), "--name", "iris", "--as-user", "staff")
    # then
    _assert_one_line_error(code, err, "ARTIFACT_UNREADABLE")


def test_register_model_with_garbage_is_one_line_artifact_unreadable(cli, tmp_path, staff_user):
    path = _artifact(tmp_path, "junk.joblib", b"garbage")
    code, _, err = cli("register_model", str(path), "--name", "iris", "--as-user", "staff")
    _assert_one_line_error(code, err, "ARTIFACT_UNREADABLE")


def test_register_model_with_nan_metrics_is_invalid_metrics(cli, tmp_path, staff_user):
    path = _artifact(tmp_path)
    code, _, err = cli("register_model", str(path), "--name", "iris", "--as-user", "staff", "--metrics", '{"auc": NaN}')
    _assert_one_line_error(code, err, "INVALID_METRICS")
    assert RegisteredModel.objects.count() == 0


SCHEMA_AB = [{"name": "a", "type": "number"}, {"name": "b", "type": "string", "allowed": ["x", "y"]}]
SCHEMA_AB_WIDER = [{"name": "a", "type": "number"}, {"name": "b", "type": "string", "allowed": ["x", "y", "z"]}]
SCHEMA_A_ONLY_X = [{"name": "a", "type": "number"}, {"name": "b", "type": "string", "allowed": ["x"]}]


@pytest.fixture
def reg_versions(register):
    """reg v1 in production; v2 (narrower: 'y' no longer allowed) and v3 (wider) in staging."""
    return [
        register("reg", regressor_artifact(), input_schema=schema, stage=stage)
        for schema, stage in (
            (SCHEMA_AB, RegisteredModel.Stage.PRODUCTION),
            (SCHEMA_A_ONLY_X, RegisteredModel.Stage.STAGING),
            (SCHEMA_AB_WIDER, RegisteredModel.Stage.STAGING),
        )
    ]


def _stages() -> dict[int, str]:
    return dict(RegisteredModel.objects.filter(name="reg").values_list("version", "stage"))


def test_set_model_stage_refuses_a_breaking_promotion_then_allows_it(cli, reg_versions, staff_user):
    # when
    code, _, err = cli("set_model_stage", "reg", "2", "production", "--as-user", "staff")
    # then
    _assert_one_line_error(code, err, "BREAKING_CHANGE")
    assert "'y'" in err  # the difference is listed
    assert _stages() == {1: "production", 2: "staging", 3: "staging"}
    # when
    code, out, _ = cli("set_model_stage", "reg", "2", "production", "--as-user", "staff", "--allow-breaking")
    # then
    assert code == 0
    assert json.loads(out) == {
        "id": reg_versions[1].pk,
        "name": "reg",
        "version": 2,
        "previous_stage": "staging",
        "stage": "production",
    }
    assert _stages() == {1: "production", 2: "production", 3: "staging"}


def test_set_model_stage_promotes_a_compatible_version(reg_versions, staff_user):
    result = json.loads(_run("set_model_stage", "reg", "3", "production", "--as-user", "staff"))
    assert (result["version"], result["stage"]) == (3, "production")
    assert _stages() == {1: "production", 2: "staging", 3: "production"}


def test_set_model_stage_archives_without_a_check(reg_versions, staff_user):
    _run("set_model_stage", "reg", "1", "archived", "--as-user", "staff")
    assert _stages()[1] == "archived"


def test_set_model_stage_of_an_unknown_version_is_not_found(cli, reg_versions, staff_user):
    code, _, err = cli("set_model_stage", "reg", "9", "production", "--as-user", "staff")
    _assert_one_line_error(code, err, "NOT_FOUND")


def test_set_model_stage_as_a_non_staff_user_is_refused(cli, reg_versions, make_user):
    make_user("mallory")
    code, _, err = cli("set_model_stage", "reg", "3", "production", "--as-user", "mallory")
    _assert_one_line_error(code, err, "PERMISSION_DENIED")
    assert _stages()[3] == "staging"


def test_register_model_into_production_checks_compatibility(cli, tmp_path, reg_versions, staff_user):
    # given
    path = _artifact(tmp_path, "reg.joblib", regressor_artifact())
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA_A_ONLY_X))
    argv = ("register_model", str(path), "--name", "reg", "--as-user", "staff", "--force", "--stage", "production")
    # when
    code, _, err = cli(*argv, "--input-schema", str(schema))
    allowed_code, out, _ = cli(*argv, "--input-schema", str(schema), "--allow-breaking")
    # then
    _assert_one_line_error(code, err, "BREAKING_CHANGE")
    assert allowed_code == 0
    assert json.loads(out)["version"] == 4
