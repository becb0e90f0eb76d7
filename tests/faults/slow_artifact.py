"""A joblib artifact that takes SECONDS to load (joblib is code: staff-only), importable by a gunicorn worker."""

import io
import time

import joblib


def slow_estimator(seconds: float, artifact: bytes):
    time.sleep(seconds)
    return joblib.load(io.BytesIO(artifact))


class SlowToLoad:
    def __init__(self, seconds: float, artifact: bytes):
        self.seconds, self.artifact = seconds, artifact

    def __reduce__(self):
        return (slow_estimator, (self.seconds, self.artifact))


def slow_artifact(*, seconds: float, artifact: bytes) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(SlowToLoad(seconds, artifact), buffer)
    return buffer.getvalue()
