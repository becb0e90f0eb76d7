"""The models a customer may call: input schema, example requests, and a "try it" form that makes a real,
billed prediction through `prediction_create` (the service both APIs use)."""

import json

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods
from oauth2_provider.models import Application

from mlapi.errors import ApplicationError
from predictions.selectors import model_example_features, model_list_callable
from predictions.services import ModelRef, prediction_create
from quality.actuals import CLASS_TASKS
from quality.selectors import model_quality

CLIENT_ID_PLACEHOLDER = "YOUR_CLIENT_ID"
QUALITY_WINDOW = "7d"
CLASSIFIER_FIGURES = (("accuracy", "Accuracy"), ("f1_macro", "F1 (macro)"), ("log_loss", "Log-loss"))
REGRESSOR_FIGURES = (("mae", "MAE"), ("rmse", "RMSE"), ("r2", "R²"))


def _features_from_form(*, schema: dict, data) -> dict:
    """Form text → a JSON instance. Numbers that parse are sent as numbers, anything else as typed (the service
    then answers INVALID_TYPE); an empty field is left out (REQUIRED, or missing for a nullable feature)."""
    features: dict = {}
    for feature in schema.get("features", []):
        name, kind = feature["name"], feature["type"]
        raw = (data.get(f"f.{name}") or "").strip()
        if raw == "":
            continue
        value: object = raw
        if kind in ("number", "integer"):
            try:
                value = int(raw) if kind == "integer" and raw.lstrip("-").isdigit() else float(raw)
            except ValueError:
                value = raw
        elif kind == "boolean":
            value = {"true": True, "false": False}.get(raw.lower(), raw)
        features[name] = value
    return features


def _examples(*, request: HttpRequest, model, client_id: str) -> dict:
    base = request.build_absolute_uri("/").rstrip("/")
    features = model_example_features(model=model)
    body = json.dumps({"features": features})
    token = (
        f"curl -s -u {client_id}:YOUR_CLIENT_SECRET \\\n"
        f"  -d grant_type=client_credentials -d scope=predict {base}/o/token/"
    )
    curl = (
        f'{token}\n# → {{"access_token": "…"}}\n'
        f"curl -s -X POST {base}/api/v1/models/{model.name}/predict?version={model.version} \\\n"
        f"  -H \"Authorization: Bearer $ACCESS_TOKEN\" -H 'Content-Type: application/json' \\\n"
        f"  -d '{body}'"
    )
    python = (
        "import requests\n\n"
        f'token = requests.post("{base}/o/token/", auth=("{client_id}", "YOUR_CLIENT_SECRET"),\n'
        '                      data={"grant_type": "client_credentials", "scope": "predict"}).json()["access_token"]\n'
        f'answer = requests.post("{base}/api/v1/models/{model.name}/predict", params={{"version": {model.version}}},\n'
        f'                       headers={{"Authorization": f"Bearer {{token}}"}}, json={{"features": {features!r}}})\n'
        'print(answer.json()["prediction"]["output"], answer.json()["cost"])'
    )
    graphql_features = json.dumps(features)
    graphql = (
        f"# POST {base}/graphql/ with the header  Authorization: Bearer <access token>\n"
        "mutation {\n"
        f'  createPrediction(input: {{modelName: "{model.name}", modelVersion: {model.version},\n'
        f"    features: {graphql_features}}}) {{\n"
        "    prediction { id output }\n"
        "    cost { amount currency }\n"
        "    errors { field code message }\n"
        "  }\n"
        "}"
    )
    return {"curl": curl, "python": python, "graphql": graphql}


def _inputs(*, model, typed) -> list[dict]:
    """The schema as table rows and try-it fields: prefilled with the example, or with what was typed."""
    example = model_example_features(model=model)
    rows = []
    for feature in model.input_schema.get("features", []):
        name = feature["name"]
        if typed is not None:
            value = typed.get(f"f.{name}", "")
        else:
            value = example.get(name)
            value = "" if value is None else (str(value).lower() if isinstance(value, bool) else str(value))
        rows.append(
            {
                "name": name,
                "field": f"f.{name}",
                "type": feature["type"],
                "allowed": feature.get("allowed") or [],
                "nullable": bool(feature.get("nullable")),
                "unknown_passes": feature.get("unknown") == "pass",
                "value": value,
            }
        )
    return rows


def _quality(*, model, user) -> dict:
    """Live quality of the version over the last 7 days on this customer's own feedback only (never other
    customers' figures), beside the offline `metrics` registered with it."""
    report = model_quality(model=model, user=user, every_customer=False, window=QUALITY_WINDOW)
    names = CLASSIFIER_FIGURES if model.task in CLASS_TASKS else REGRESSOR_FIGURES if model.task == "regression" else ()
    return {
        "count": report.figures.get("count", 0),
        "figures": [(label, report.figures.get(name)) for name, label in names],
        "offline": sorted((report.offline_metrics or {}).items()),
        "has_ground_truth": bool(names),
    }


@require_http_methods(["GET", "POST"])
@login_required
def models(request: HttpRequest, model_id: int | None = None) -> HttpResponse:
    callable_models = list(model_list_callable(user=request.user))
    application = Application.objects.filter(user=request.user).order_by("-created").first()
    client_id = application.client_id if application else CLIENT_ID_PLACEHOLDER
    tried = None
    if request.method == "POST":
        model = next((m for m in callable_models if m.pk == model_id), None)
        if model is None:
            raise Http404("No such model.")
        features = _features_from_form(schema=model.input_schema, data=request.POST)
        tried = {"model_id": model.pk, "features": features, "values": request.POST}
        try:
            outcome = prediction_create(
                user=request.user, model_ref=ModelRef(model_id=str(model.pk)), features=features
            )
        except ApplicationError as error:
            tried["errors"] = error.errors
            status = error.http_status
        else:
            tried["prediction"] = outcome.predictions[0]
            tried["usage"] = outcome.usage
            tried["warnings"] = outcome.warnings
            status = 200
    else:
        status = 200
    entries = [
        {
            "model": m,
            "inputs": _inputs(model=m, typed=tried["values"] if tried and tried["model_id"] == m.pk else None),
            "examples": _examples(request=request, model=m, client_id=client_id),
            "example_features": model_example_features(model=m),
            "tried": tried if tried and tried["model_id"] == m.pk else None,
            "quality": _quality(model=m, user=request.user),
        }
        for m in callable_models
    ]
    return render(
        request,
        "portal/models.html",
        {"entries": entries, "application": application, "client_id": client_id},
        status=status,
    )
