"""Local development: DEBUG on unless told otherwise, a throwaway secret key."""

from mlapi.settings.base import *  # noqa: F403
from mlapi.settings.env import env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="local-dev-only-not-secret")
GRAPHIQL_ENABLED = env.bool("GRAPHIQL_ENABLED", default=True)
GRAPHQL_INTROSPECTION_ENABLED = env.bool("GRAPHQL_INTROSPECTION_ENABLED", default=True)
# Native-app and local development callbacks (http://127.0.0.1/...) are allowed here only.
OAUTH2_PROVIDER["ALLOWED_REDIRECT_URI_SCHEMES"] = env.list("OAUTH2_REDIRECT_URI_SCHEMES", default=["http", "https"])  # noqa: F405
