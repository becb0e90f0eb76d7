import graphene
from graphene.types.generic import GenericScalar

from quality.graphql.enums import ExplanationKind


class FeedbackType(graphene.ObjectType):
    class Meta:
        name = "Feedback"
        description = "A ground-truth value submitted for one of your predictions."

    id = graphene.ID(required=True, description="The feedback row's id.")
    prediction_id = graphene.ID(required=True, description="The prediction it is the ground truth of.")
    actual = GenericScalar(required=True, description="The observed value: a class label, a number or a label list.")
    observed_at = graphene.DateTime(
        required=True, description="When the outcome was observed (default: when submitted)."
    )
    replaced = graphene.Boolean(
        required=True, description="True when it replaced an earlier value for the same prediction (kept as history)."
    )

    @staticmethod
    def resolve_replaced(feedback, info):
        return feedback.replaces_id is not None


class QualityWindow(graphene.Enum):
    class Meta:
        description = "A sliding window of hours ending with the current one (predictions made in it)."

    LAST_24_HOURS = "24h"
    LAST_7_DAYS = "7d"
    LAST_30_DAYS = "30d"

    @property
    def description(self):
        return {
            "LAST_24_HOURS": "The last 24 hours (the current UTC hour and the 23 before it).",
            "LAST_7_DAYS": "The last 7 days (168 hours).",
            "LAST_30_DAYS": "The last 30 days (720 hours).",
        }[self.name]


class ClassQualityType(graphene.ObjectType):
    class Meta:
        name = "ClassQuality"
        description = "Precision, recall and F1 of one class, over the feedback in the window."

    label = GenericScalar(required=True, description="The class label.")
    precision = graphene.Float(
        required=True, description="Of the predictions of this class, the share that were right."
    )
    recall = graphene.Float(required=True, description="Of the actual instances of this class, the share predicted.")
    f1 = graphene.Float(required=True, description="The harmonic mean of precision and recall.")
    support = graphene.Int(required=True, description="Feedback rows whose actual value is this class.")


class ConfusionMatrixType(graphene.ObjectType):
    class Meta:
        name = "ConfusionMatrix"
        description = "Counts of (actual, predicted) pairs: counts[i][j] = actual labels[i] predicted as labels[j]."

    labels = graphene.List(
        graphene.NonNull(GenericScalar), required=True, description="Row and column labels, in order."
    )
    counts = graphene.List(
        graphene.NonNull(graphene.List(graphene.NonNull(graphene.Int))),
        required=True,
        description="One row per actual label.",
    )


def _figure(name: str, description: str):
    # The root is a QualityReport (its `figures`) or one day's figures dict.
    return graphene.Float(description=description, resolver=lambda root, info: getattr(root, "figures", root).get(name))


class QualityFiguresFields:
    count = graphene.Int(required=True, description="Predictions with current feedback.")
    accuracy = _figure("accuracy", "Classifiers: the share of predictions that were right.")
    precision_macro = _figure("precision_macro", "Classifiers: precision averaged over classes (unweighted).")
    recall_macro = _figure("recall_macro", "Classifiers: recall averaged over classes (unweighted).")
    f1_macro = _figure("f1_macro", "Classifiers: F1 averaged over classes (unweighted).")
    log_loss = _figure("log_loss", "Classifiers that returned probabilities: mean log-loss over those rows.")
    brier_score = _figure("brier_score", "Classifiers that returned probabilities: mean Brier score over those rows.")
    mae = _figure("mae", "Regressors: mean absolute error.")
    rmse = _figure("rmse", "Regressors: root mean squared error.")
    r2 = _figure("r2", "Regressors: the coefficient of determination R².")

    @staticmethod
    def resolve_count(root, info):
        return getattr(root, "figures", root).get("count", 0)


class DailyQualityType(QualityFiguresFields, graphene.ObjectType):
    class Meta:
        name = "DailyQuality"
        description = "The quality figures of one UTC day (predictions made that day)."

    date = graphene.Date(required=True, description="The UTC day.")

    @staticmethod
    def resolve_date(figures, info):
        return figures["date"]


class ShadowAgreementType(graphene.ObjectType):
    class Meta:
        name = "ShadowAgreement"
        description = (
            "A shadow version that scored this version's predictions after each response: how often it agreed, "
            "and its own live quality on the same feedback (staff only)."
        )

    version = graphene.Int(required=True, description="The shadow's version number.")
    compared = graphene.Int(required=True, description="Predictions the shadow scored in the window.")
    agreed = graphene.Int(
        required=True, description="Of those, answers equal to the served one (label, or number within 1e-9)."
    )
    agreement_rate = graphene.Float(description="agreed / compared.")
    mean_absolute_difference = graphene.Float(description="Regressors: mean |shadow − served| over the window.")
    quality = graphene.Field(
        lambda: ModelQualityType, required=True, description="The shadow's live quality on the same feedback."
    )

    @staticmethod
    def resolve_version(agreement, info):
        return agreement.shadow.version

    @staticmethod
    def resolve_quality(agreement, info):
        from mlapi.graphql_core.permissions import caller_of
        from quality.selectors import model_quality

        return model_quality(
            model=agreement.shadow,
            user=caller_of(info).user,
            every_customer=agreement.every_customer,
            window=agreement.window,
        )


class ModelQualityType(QualityFiguresFields, graphene.ObjectType):
    class Meta:
        name = "ModelQuality"
        description = (
            "Live quality of one model version on ground-truth feedback, from hourly rollups: your own feedback, "
            "or every customer's for staff. The registered offline metrics are beside it."
        )

    window = graphene.Field(QualityWindow, required=True, description="The window the figures cover.")
    since = graphene.DateTime(required=True, description="The start of the window's first hour.")
    every_customer = graphene.Boolean(
        required=True, description="True when the figures cover every customer's feedback."
    )
    per_class = graphene.List(
        graphene.NonNull(ClassQualityType), required=True, description="Classifiers: per-class figures."
    )
    confusion_matrix = graphene.Field(ConfusionMatrixType, description="Classifiers: the confusion matrix.")
    days = graphene.List(
        graphene.NonNull(DailyQualityType), required=True, description="The same figures per UTC day, oldest first."
    )
    offline_metrics = GenericScalar(
        required=True, description="The metrics registered with the model (at training time)."
    )
    shadows = graphene.List(
        graphene.NonNull(ShadowAgreementType),
        required=True,
        description=(
            "Shadow versions that scored this version's predictions in the window, with their agreement (staff only)."
        ),
    )

    @staticmethod
    def resolve_shadows(report, info):
        from mlapi.graphql_core.permissions import caller_of
        from quality.selectors import model_shadow_agreements

        return model_shadow_agreements(
            model=report.model,
            user=caller_of(info).user,
            every_customer=report.every_customer,
            window=report.window,
            since=report.since,
        )

    @staticmethod
    def resolve_window(report, info):
        return report.window

    @staticmethod
    def resolve_since(report, info):
        return report.since

    @staticmethod
    def resolve_every_customer(report, info):
        return report.every_customer

    @staticmethod
    def resolve_per_class(report, info):
        return report.figures.get("per_class", [])

    @staticmethod
    def resolve_confusion_matrix(report, info):
        if "confusion_matrix" not in report.figures:
            return None
        return {"labels": report.figures["confusion_labels"], "counts": report.figures["confusion_matrix"]}

    @staticmethod
    def resolve_days(report, info):
        return report.days

    @staticmethod
    def resolve_offline_metrics(report, info):
        return report.offline_metrics


class FeatureDriftType(graphene.ObjectType):
    class Meta:
        name = "FeatureDrift"
        description = (
            "One drift figure of a feature (or the model's output) over a window, against the model's reference."
        )

    feature = graphene.String(required=True, description='The feature name, or "__output__" for the model\'s answers.')
    statistic = graphene.String(
        required=True, description="psi or ks (numbers), chi_square or jensen_shannon (categories and labels)."
    )
    value = graphene.Float(required=True, description="The statistic's value (KS: the D statistic).")
    p_value = graphene.Float(description="The test's p-value, for ks and chi_square.")
    threshold = graphene.Float(description="Above this the feature is flagged (psi 0.2, ks 0.15, jensen_shannon 0.1).")
    drifted = graphene.Boolean(required=True, description="True when the value is over the threshold.")
    rows = graphene.Int(required=True, description="Recent inputs compared with the reference.")
    computed_at = graphene.DateTime(required=True, description="When the beat task computed it.")


class ModelQualityFields:
    """The quality fields of the registry's `Model` type (mixed into predictions' ModelType)."""

    quality = graphene.Field(
        ModelQualityType,
        window=graphene.Argument(
            QualityWindow,
            default_value=QualityWindow.LAST_24_HOURS,
            description="The window; default the last 24 hours.",
        ),
        required=True,
        description="Live quality of this version on ground-truth feedback (yours; staff: everyone's).",
    )

    drift = graphene.List(
        graphene.NonNull(FeatureDriftType),
        window=graphene.Argument(
            QualityWindow, default_value=QualityWindow.LAST_24_HOURS, description="LAST_24_HOURS or LAST_7_DAYS."
        ),
        required=True,
        description="Input and output drift of this version's recent traffic against its reference (staff only).",
    )

    @staticmethod
    def resolve_drift(model, info, window="24h"):
        from mlapi.graphql_core.permissions import caller_of
        from quality.selectors import model_drift

        return model_drift(model=model, user=caller_of(info).user, window=getattr(window, "value", window))

    @staticmethod
    def resolve_quality(model, info, window="24h"):
        from mlapi.graphql_core.permissions import caller_of
        from quality.selectors import model_quality

        caller = caller_of(info)
        return model_quality(
            model=model,
            user=caller.user,
            every_customer=caller.sees_every_tenant,
            window=getattr(window, "value", window),
        )


class FeatureContributionType(graphene.ObjectType):
    class Meta:
        name = "FeatureContribution"
        description = "What one feature added to each target's raw output."

    feature = graphene.String(
        required=True, description="The feature (after the pipeline's transforms, when it has any)."
    )
    values = graphene.List(
        graphene.NonNull(graphene.Float), required=True, description="One contribution per target, in targets order."
    )


class ExplanationType(graphene.ObjectType):
    class Meta:
        name = "Explanation"
        description = "Per-feature contributions that add up, with the base values, to the model's raw output."

    kind = graphene.Field(
        ExplanationKind,
        required=True,
        description="linear (coefficient × input) or tree_path (decision-path contributions).",
    )
    output = graphene.String(
        required=True, description="What they add up to: decision_function, predict_proba or predict."
    )
    targets = graphene.List(
        GenericScalar, required=True, description="The classes explained (null for a regression target)."
    )
    base_values = graphene.List(
        graphene.NonNull(graphene.Float),
        required=True,
        description="Per target: the intercept or the trees' root value.",
    )
    contributions = graphene.List(
        graphene.NonNull(FeatureContributionType), required=True, description="One entry per feature."
    )

    @staticmethod
    def resolve_base_values(explanation, info):
        return explanation.base

    @staticmethod
    def resolve_contributions(explanation, info):
        return [
            {"feature": name, "values": [per_target[index] for per_target in explanation.contributions]}
            for index, name in enumerate(explanation.features)
        ]
