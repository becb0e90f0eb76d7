"""A classifier's outputs as JSON without the objects (`outputs.probabilities_json_shaper`, what a batch chunk
stores) are the objects' compact JSON byte for byte, whatever its classes are called."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from mlapi.compact_json import compact_json
from predictions.registry.outputs import answerer_build

CLASSES = [
    ["setosa", "versicolor", "virginica"],
    ['a"quoted%s', "ünï ☃", "tab\there"],  # quotes, a %-sign, non-ASCII, a control character
    [3, -1, 10**12],
    [False, True],
]


@pytest.mark.parametrize("classes", CLASSES, ids=lambda c: repr(c)[:20])
@pytest.mark.parametrize("make", [LogisticRegression, lambda: DecisionTreeClassifier(max_depth=2)])
def test_the_probabilities_json_is_the_outputs_compact_json(classes, make):
    # given
    rng = np.random.default_rng(0)
    features = rng.normal(size=(60, 3))
    target = np.array(classes, dtype=object if isinstance(classes[0], str) else None)[np.arange(60) % len(classes)]
    answerer = answerer_build(estimator=make().fit(features, target), task="classification")
    assert answerer.shape_json is not None
    # when
    as_json = answerer.json(features, len(features))
    # then
    assert as_json == [compact_json(output) for output in answerer(features, len(features))]


class _AlikeClasses:
    """A classifier (not scikit-learn's, which refuses mixed labels) whose classes 1 and "1" print alike."""

    classes_ = np.array([1, "1"], dtype=object)

    def predict_proba(self, features):
        return np.tile([0.25, 0.75], (len(features), 1))

    def predict(self, features):
        return np.array(["1"] * len(features), dtype=object)


def test_classes_that_print_alike_are_encoded_from_the_objects():
    features = np.zeros((3, 2))
    answerer = answerer_build(estimator=_AlikeClasses(), task="classification")

    assert answerer.shape_json is None
    assert answerer.json(features, 3) == [compact_json(output) for output in answerer(features, 3)]
    assert answerer.json(features, 3)[0] == '{"label":"1","probabilities":{"1":0.75}}'
