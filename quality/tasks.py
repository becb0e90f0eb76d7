from celery import shared_task

from quality.services.rollups import quality_rollup_catch_up


@shared_task(acks_late=True)
def roll_up_quality() -> int:
    return quality_rollup_catch_up()
