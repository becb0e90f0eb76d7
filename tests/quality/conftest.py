import pytest

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
