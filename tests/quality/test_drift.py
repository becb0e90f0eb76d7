"""A 2σ shift of one feature's mean is flagged; a resample of the reference is not."""

import io

import numpy as np
import pandas as pd
from django.core.management import call_command

from predictions.demo import IRIS_FEATURES
from quality.models import DriftReference, DriftResult
from quality.services.drift import drift_compute_all, drift_reference_from_csv

DRIFT = """
query($window: QualityWindow) { model(name: "iris") { drift(window: $window) { feature statistic value drifted } } }
"""


def _iris_frame(seed: int, rows: int) -> pd.DataFrame:
    from sklearn.datasets import load_iris

    data = load_iris()
    frame = pd.DataFrame(data.data, columns=IRIS_FEATURES)
    return frame.sample(rows, replace=True, random_state=seed).reset_index(drop=True)


def _csv(frame: pd.DataFrame) -> io.BytesIO:
    return io.BytesIO(frame.to_csv(index=False).encode())


def _send(predict, user, frame: pd.DataFrame) -> None:
    records = frame.round(3).to_dict("records")
    for i in range(0, len(records), 500):
        predict(user, "iris", records[i : i + 500])


def _flags(model):
    return {(r.feature, r.statistic): r.drifted for r in DriftResult.objects.filter(model=model, window="24h")}


def test_a_two_sigma_mean_shift_is_flagged_and_a_resample_is_not(
    make_user, staff_user, predict, iris_model, issue_token, gql
):
    # given: the training data as the reference sample
    drift_reference_from_csv(model=iris_model, file=_csv(_iris_frame(0, 1500)), changed_by=staff_user)
    user = make_user()
    # when: traffic that is a resample of the reference
    _send(predict, user, _iris_frame(1, 1000))
    drift_compute_all()
    # then: nothing is flagged
    resampled = _flags(iris_model)
    assert resampled and not any(resampled.values()), [k for k, v in resampled.items() if v]
    # when: the newest traffic has sepal_width's mean shifted by 2 standard deviations
    shifted = _iris_frame(2, 1500)
    shifted["sepal_width"] += 2 * shifted["sepal_width"].std()
    _send(predict, user, shifted)
    drift_compute_all()
    # then: sepal_width is flagged by PSI and KS, the other features are not
    flags = _flags(iris_model)
    assert flags[("sepal_width", "psi")] and flags[("sepal_width", "ks")]
    others = {k: v for k, v in flags.items() if k[0] in IRIS_FEATURES and k[0] != "sepal_width"}
    assert others and not any(others.values())
    # and: GraphQL shows it to staff, not to customers
    _, body = gql(DRIFT, {"window": "LAST_24_HOURS"}, token=issue_token(staff_user, scope="read staff"))
    rows = body["data"]["model"]["drift"]
    assert {"feature": "sepal_width", "statistic": "ks"} in [
        {k: r[k] for k in ("feature", "statistic")} for r in rows if r["drifted"]
    ]
    _, body = gql(DRIFT, {}, token=issue_token(user))
    assert body["data"]["model"]["drift"] == []


def test_without_a_sample_the_first_production_inputs_become_the_reference(make_user, predict, iris_model, settings):
    settings.QUALITY_DRIFT_REFERENCE_ROWS = 300
    user = make_user()
    _send(predict, user, _iris_frame(3, 200))
    drift_compute_all()
    assert not DriftReference.objects.exists()  # not enough inputs yet
    _send(predict, user, _iris_frame(4, 200))
    drift_compute_all()
    reference = DriftReference.objects.get(model=iris_model)
    assert reference.source == "production" and reference.rows == 300
    assert set(reference.statistics) == {*IRIS_FEATURES, "__output__"}
    assert reference.statistics["__output__"]["kind"] == "category"


def test_the_drift_gauge_is_on_metrics(make_user, staff_user, predict, iris_model, client):
    drift_reference_from_csv(model=iris_model, file=_csv(_iris_frame(0, 500)), changed_by=staff_user)
    frame = _iris_frame(5, 300)
    frame["petal_length"] += 5
    _send(predict, make_user(), frame)
    drift_compute_all()
    client.force_login(staff_user)
    text = client.get("/metrics").content.decode()
    assert (
        'mlapi_model_drifted{feature="petal_length",model="iris",statistic="psi",version="1",window="24h"} 1.0' in text
    )


def test_the_reference_file_is_checked(staff_user, make_user, iris_model, settings, tmp_path):
    import pytest

    from mlapi.errors import ApplicationError

    with pytest.raises(ApplicationError) as bad:
        drift_reference_from_csv(model=iris_model, file=io.BytesIO(b"sepal_length\nabc\n"), changed_by=staff_user)
    assert bad.value.errors[0].code == "INVALID_REFERENCE"
    settings.QUALITY_REFERENCE_MAX_BYTES = 10
    with pytest.raises(ApplicationError) as large:
        drift_reference_from_csv(model=iris_model, file=_csv(_iris_frame(0, 5)), changed_by=staff_user)
    assert large.value.errors[0].code == "REFERENCE_TOO_LARGE"
    with pytest.raises(ApplicationError) as denied:
        drift_reference_from_csv(model=iris_model, file=_csv(_iris_frame(0, 5)), changed_by=make_user())
    assert denied.value.errors[0].code == "PERMISSION_DENIED"
    settings.QUALITY_REFERENCE_MAX_BYTES = 10**6
    path = tmp_path / "reference.csv"
    path.write_bytes(_csv(_iris_frame(0, 50)).getvalue())
    out = io.StringIO()
    call_command("set_drift_reference", "iris", "1", str(path), "--as-user", staff_user.username, stdout=out)
    assert '"rows": 50' in out.getvalue()
    assert np.isclose(DriftReference.objects.get().statistics["sepal_length"]["null_rate"], 0)
