"""Staff open a model in the admin and see its live accuracy per day drawn by Chart.js (CSP: static scripts)."""

from predictions.services import ModelRef, prediction_create
from quality.services.feedback import FeedbackItem, feedback_submit
from quality.services.rollups import quality_rollup_catch_up
from tests.browser.portal_helpers import log_in
from tests.conftest import IRIS_SETOSA


def test_the_admin_model_page_draws_accuracy_per_day(page, live_server, screenshot, make_user, iris_model, settings):
    # given: 8 labelled predictions today, 3 right
    settings.QUALITY_ROLLUP_SETTLE_SECONDS = 0
    customer = make_user("alice")
    predictions = prediction_create(
        user=customer, model_ref=ModelRef(name="iris"), instances=[IRIS_SETOSA] * 8
    ).predictions
    actuals = ["setosa"] * 3 + ["virginica"] * 5
    feedback_submit(
        user=customer,
        items=[FeedbackItem(prediction_id=p.pk, actual=a) for p, a in zip(predictions, actuals, strict=True)],
    )
    quality_rollup_catch_up()
    root = make_user("root", is_staff=True)
    root.is_superuser = True
    root.save()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    log_in(page, live_server, root)
    # when
    page.goto(f"/admin/predictions/registeredmodel/{iris_model.pk}/change/")
    page.wait_for_selector("#quality-chart[data-drawn='true']")
    # then: the chart's own data is the rollup's, and the page says how many rows it rests on
    chart = page.evaluate(
        "() => { const c = Chart.getChart('quality-chart'); return {label: c.data.datasets[0].label, "
        "values: c.data.datasets[0].data, points: c.data.labels.length}; }"
    )
    assert chart["label"] == "Accuracy" and chart["points"] == 30
    assert chart["values"][-1] == 3 / 8 and chart["values"][0] is None
    assert page.text_content("#quality-chart-status") == "8 feedback rows over the period."
    assert not [e for e in errors if "Content Security Policy" in e]
    screenshot(page, "admin-quality-chart")
