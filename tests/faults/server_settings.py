"""Settings for a gunicorn server started by a fault test: the test settings, plus the test's MEDIA_ROOT.

`mlapi.settings.test` makes a fresh temporary MEDIA_ROOT in every process (every gunicorn worker
included), so a server run on it could not find the artifacts the test registered.
"""

from mlapi.settings.env import env
from mlapi.settings.test import *  # noqa: F403

MEDIA_ROOT = env("MEDIA_ROOT")
# Off in tests, as in mlapi.settings.test; a fault test about the warm-up turns it on through the environment.
WARM_MODELS_ON_STARTUP = env.bool("WARM_MODELS_ON_STARTUP", default=False)
