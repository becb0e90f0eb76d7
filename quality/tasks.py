from celery import shared_task

from quality.services.rollups import quality_rollup_catch_up


@shared_task(acks_late=True)
def roll_up_quality() -> int:
    return quality_rollup_catch_up()


@shared_task(acks_late=True)
def score_shadow(*, prediction_ids: list[str], shadow_id: int) -> int:
    from quality.services.rollouts import shadow_score

    return shadow_score(prediction_ids=prediction_ids, shadow_id=shadow_id)


@shared_task(acks_late=True)
def catch_up_shadows() -> int:
    from quality.services.rollouts import shadow_catch_up

    return shadow_catch_up()


@shared_task(acks_late=True)
def compute_drift() -> int:
    from quality.services.drift import drift_compute_all

    return drift_compute_all()
