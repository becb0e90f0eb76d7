import io

import joblib
import pytest

from predictions.models import RegisteredModel
from predictions.services import ModelRef, prediction_create

SUBMIT = """
mutation Submit($input: SubmitFeedbackInput!) {
  submitFeedback(input: $input) {
    feedback { id predictionId actual observedAt replaced }
    errors { field code message }
  }
}
"""


@pytest.fixture
def predict():
    """Stores predictions for `user` through the real metered service; returns them in input order."""

    def run(user, name, instances, *, version=None, idempotency_key=None):
        outcome = prediction_create(
            user=user,
            model_ref=ModelRef(name=name, version=version),
            instances=instances,
            idempotency_key=idempotency_key,
        )
        return outcome.predictions

    return run


@pytest.fixture
def submit(gql):
    def run(items, *, token):
        status, body = gql(SUBMIT, {"input": {"items": items}}, token=token)
        assert status == 200, body
        return body["data"]["submitFeedback"]

    return run


@pytest.fixture
def iris_v2(register, iris_model):
    """iris v1 (logistic regression) in production; v2, a one-split tree on the same inputs, in staging."""
    import pandas as pd
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    from predictions.demo import IRIS_FEATURES

    data = load_iris()
    frame = pd.DataFrame(data.data, columns=IRIS_FEATURES)
    tree = DecisionTreeClassifier(max_depth=1, random_state=0).fit(frame, [data.target_names[i] for i in data.target])
    buffer = io.BytesIO()
    joblib.dump(tree, buffer)
    return register("iris", buffer.getvalue(), stage=RegisteredModel.Stage.STAGING)
