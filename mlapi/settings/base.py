"""Settings shared by every environment; everything environment-specific comes from `env`."""

from mlapi.settings.env import BASE_DIR, env, env_choice

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "graphene_django",
    "rest_framework",
    "drf_spectacular",
    "oauth2_provider",
    "allauth",
    "allauth.account",
    "mlapi",
    "accounts",
    "predictions",
    "billing",
    "batch",
    "portal",
    "quality",
]

# mlapi.middleware.X is Django's X, skipped for bearer-token calls to /graphql/ and /api/v1/ (the lean API
# path: no static files, session, user or messages for a caller that is its token); browsers get all of it.
# CSRF and clickjacking stay Django's own (`check --deploy` looks for them by name): for a bearer call the
# CSRF middleware only reads the cookie header (both API views are csrf_exempt and check sessions
# themselves; no CSRF cookie is set), the clickjacking one adds a header.
MIDDLEWARE = [
    "mlapi.observability.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "mlapi.middleware.WhiteNoiseMiddleware",
    "mlapi.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "mlapi.middleware.AuthenticationMiddleware",
    "mlapi.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "mlapi.urls"
WSGI_APPLICATION = "mlapi.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# No per-request health check (a `SELECT 1` before the first query of every request: 11% of a call's wall
# time). A connection that broke meanwhile fails that request's first query (503 SERVICE_UNAVAILABLE with
# Retry-After, see mlapi.unavailable); Django then closes it at the end of the request (errors_occurred)
# and the next request connects afresh.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=False)
# PostgreSQL: an accepted call's write (billing.services.charge) is a server-side prepared statement,
# PREPAREd once per connection. Turn it off behind a pooler that does not keep sessions (PgBouncer in
# transaction mode).
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)
# A frozen or overloaded database must fail a request within seconds (503, Retry-After) instead of
# holding the worker until gunicorn kills it. 0 turns either off (e.g. for a long migration).
DATABASE_CONNECT_TIMEOUT_SECONDS = env.int("DATABASE_CONNECT_TIMEOUT_SECONDS", default=5)
DATABASE_STATEMENT_TIMEOUT_SECONDS = env.float("DATABASE_STATEMENT_TIMEOUT_SECONDS", default=10)
if DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql"):
    _pg_options = DATABASES["default"].setdefault("OPTIONS", {})
    if DATABASE_CONNECT_TIMEOUT_SECONDS:
        _pg_options.setdefault("connect_timeout", DATABASE_CONNECT_TIMEOUT_SECONDS)
    if DATABASE_STATEMENT_TIMEOUT_SECONDS:
        _statement_timeout = f"-c statement_timeout={round(DATABASE_STATEMENT_TIMEOUT_SECONDS * 1000)}"
        _pg_options["options"] = f"{_pg_options.get('options', '')} {_statement_timeout}".strip()
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE makes concurrent writers queue up instead of failing on lock upgrade; WAL with
    # synchronous=NORMAL survives a process crash (not a power cut) without an fsync per commit.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

_cache_url = env("CACHE_URL", default=env("REDIS_URL", default=""))
CACHE_SOCKET_TIMEOUT_SECONDS = env.float("CACHE_SOCKET_TIMEOUT_SECONDS", default=0.5)
if _cache_url:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": _cache_url,
            # A hung Redis costs a request this much, not a worker (the rate limit fails open).
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": CACHE_SOCKET_TIMEOUT_SECONDS,
                "SOCKET_TIMEOUT": CACHE_SOCKET_TIMEOUT_SECONDS,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
MEDIA_URL = "media/"
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- Customer accounts (django-allauth): the portal's login is the login for /o/authorize/ too ---
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/dashboard/"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",  # the admin's login (username)
    "allauth.account.auth_backends.AuthenticationBackend",  # the portal's login (email or username)
]
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email", "username"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[mlapi] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = env("ACCOUNT_DEFAULT_HTTP_PROTOCOL", default="http")

# --- Email: console locally, locmem in tests, SMTP in production (mlapi/settings/production.py) ---
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="mlapi <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- OAuth2 (django-oauth-toolkit) ---
OAUTH2_PROVIDER = {
    "SCOPES": {
        "read": "Read the model registry and your own predictions",
        "predict": "Create predictions",
        "billing": "Read your usage and invoices",
        # Client-credentials keys only (never through /o/authorize/): lets a script manage your API keys.
        "keys": "Create, rotate, rename and revoke your API keys",
        # Privileged: granted only to staff applications (accounts.oauth), never through /o/authorize/.
        "staff": "Staff only: see every tenant's predictions and invoices",
        "introspection": "Resource servers only: introspect tokens on /o/introspect/",
        "registry": "Staff only: register model versions and change their stage (training pipelines)",
    },
    "DEFAULT_SCOPES": ["read", "predict"],
    "SCOPES_BACKEND_CLASS": "accounts.oauth.ApplicationScopes",
    "ACCESS_TOKEN_EXPIRE_SECONDS": env.int("OAUTH2_ACCESS_TOKEN_EXPIRE_SECONDS", default=3600),
    "REFRESH_TOKEN_EXPIRE_SECONDS": env.int("OAUTH2_REFRESH_TOKEN_EXPIRE_SECONDS", default=14 * 24 * 3600),
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "PKCE_REQUIRED": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": env.list("OAUTH2_REDIRECT_URI_SCHEMES", default=["https"]),
    # RFC 9700 (OAuth 2.0 Security BCP): no implicit or password grant, no plain PKCE, no tokens in
    # query strings, `iss` in authorization responses, tokens stored hashed (looked up by checksum).
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
}
OAUTH2_PROVIDER["OAUTH2_VALIDATOR_CLASS"] = "accounts.oauth.KeyUsageOAuth2Validator"
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"

# --- GraphQL ---
GRAPHENE = {"SCHEMA": "mlapi.schema.schema"}
GRAPHIQL_ENABLED = env.bool("GRAPHIQL_ENABLED", default=DEBUG)
GRAPHQL_INTROSPECTION_ENABLED = env.bool("GRAPHQL_INTROSPECTION_ENABLED", default=DEBUG)
GRAPHQL_MAX_DEPTH = env.int("GRAPHQL_MAX_DEPTH", default=10)
GRAPHQL_MAX_ALIASES = env.int("GRAPHQL_MAX_ALIASES", default=15)
GRAPHQL_MAX_COST = env.int("GRAPHQL_MAX_COST", default=5000)
GRAPHQL_MAX_MUTATIONS = env.int("GRAPHQL_MAX_MUTATIONS", default=1)
RELAY_CONNECTION_MAX_LIMIT = env.int("RELAY_CONNECTION_MAX_LIMIT", default=100)
# Documents are bounded before validation (lexical tokens, and comments, each; characters), and every list
# field counts in the cost: connections by `first`, other lists (Model.versions, Invoice.lines) by this bound.
GRAPHQL_MAX_TOKENS = env.int("GRAPHQL_MAX_TOKENS", default=2000)
GRAPHQL_MAX_QUERY_LENGTH = env.int("GRAPHQL_MAX_QUERY_LENGTH", default=50_000)
GRAPHQL_LIST_COST_BOUND = env.int("GRAPHQL_LIST_COST_BOUND", default=20)
# graphql-core's field-merging check stops after this much work (its own default, 500,000, is ~1 s of CPU).
GRAPHQL_FIELD_MERGE_BUDGET = env.int("GRAPHQL_FIELD_MERGE_BUDGET", default=10_000)
# Persisted documents (the `persistedQuery` extension): `trusted` answers only hashes in the manifest,
# `apq` also lets clients register a document (Apollo APQ), `off` refuses the extension.
GRAPHQL_PERSISTED_DOCUMENTS = env_choice(
    "GRAPHQL_PERSISTED_DOCUMENTS", default="trusted", choices=("trusted", "apq", "off")
)
GRAPHQL_TRUSTED_DOCUMENTS_FILE = env.str(
    "GRAPHQL_TRUSTED_DOCUMENTS_FILE", default=str(BASE_DIR / "mlapi" / "graphql_core" / "trusted_documents.json")
)
GRAPHQL_APQ_CACHE_SECONDS = env.int("GRAPHQL_APQ_CACHE_SECONDS", default=86400)
# createPrediction answered by a plan built once per document (mlapi/graphql_core/express.py), not graphene.
GRAPHQL_EXPRESS_ENABLED = env.bool("GRAPHQL_EXPRESS_ENABLED", default=True)
REST_LEAN_PREDICT_ENABLED = env.bool("REST_LEAN_PREDICT_ENABLED", default=True)

# --- REST ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["mlapi.api.authentication.BearerOrSessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "mlapi.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "mlapi.api.exceptions.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["mlapi.api.parsers.SafeJSONParser"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "mlapi",
    "DESCRIPTION": "Pay-per-use scikit-learn model serving. Authenticate with an OAuth2 bearer token.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # One name per choice set: a model's artifact format (also the registry form's `format`) and a batch file's.
    "ENUM_NAME_OVERRIDES": {
        "ArtifactFormatEnum": "predictions.models.RegisteredModel.Format",
        "BatchFileFormatEnum": "batch.models.FileFormat",
    },
}

# --- Serving ---
PREDICTION_MAX_INSTANCES = env.int("PREDICTION_MAX_INSTANCES", default=1000)
MODEL_ARTIFACT_MAX_BYTES = env.int("MODEL_ARTIFACT_MAX_BYTES", default=200 * 1024 * 1024)
# Each process loads its production models in a background thread (it answers /healthz meanwhile; /readyz
# is 503 until they are in), then looks for newly promoted ones every WARM_MODELS_INTERVAL_SECONDS (0: once).
WARM_MODELS_ON_STARTUP = env.bool("WARM_MODELS_ON_STARTUP", default=True)
WARM_MODELS_INTERVAL_SECONDS = env.float("WARM_MODELS_INTERVAL_SECONDS", default=30.0)

# --- Billing ---
DEFAULT_PRICING_TIER = env("DEFAULT_PRICING_TIER", default="free")
PAYMENT_PROVIDER = env_choice("PAYMENT_PROVIDER", default="manual", choices=("manual", "paypal"))
PAYPAL_CLIENT_ID = env("PAYPAL_CLIENT_ID", default="")
PAYPAL_CLIENT_SECRET = env("PAYPAL_CLIENT_SECRET", default="")
PAYPAL_MODE = env_choice("PAYPAL_MODE", default="sandbox", choices=("sandbox", "live"))
PAYPAL_WEBHOOK_ID = env("PAYPAL_WEBHOOK_ID", default="")
# Per connect and per read of each PayPal call (a send is up to three calls), run by the send task.
PAYPAL_TIMEOUT_SECONDS = env.float("PAYPAL_TIMEOUT_SECONDS", default=5.0)
# Webhooks are verified locally from PayPal's certificate; fetching a certificate not cached yet waits at most this.
PAYPAL_CERT_TIMEOUT_SECONDS = env.float("PAYPAL_CERT_TIMEOUT_SECONDS", default=3.0)
# Per client address, per minute, on the webhook endpoint (PayPal itself sends a handful); 429 beyond.
PAYMENT_WEBHOOK_RATE_LIMIT_PER_MINUTE = env.int("PAYMENT_WEBHOOK_RATE_LIMIT_PER_MINUTE", default=60)
# Who issues the invoices (printed on each invoice page and PDF); the address may span lines ("\n").
INVOICE_ISSUER_NAME = env("INVOICE_ISSUER_NAME", default="mlapi")
INVOICE_ISSUER_ADDRESS = env("INVOICE_ISSUER_ADDRESS", default="").replace("\\n", "\n")
INVOICE_ISSUER_EMAIL = env("INVOICE_ISSUER_EMAIL", default="")
INVOICE_ISSUER_TAX_ID = env("INVOICE_ISSUER_TAX_ID", default="")
# An invoice is due this many days after it is issued (finalized).
INVOICE_DUE_DAYS = env.int("INVOICE_DUE_DAYS", default=14)

# --- Celery ---
# Production: RabbitMQ (amqp://user:password@host:5672/vhost), which acknowledges per message and gives a
# dead worker's unacknowledged chunk back the moment its connection drops. redis://... works too: it
# gives such a chunk back only once CELERY_VISIBILITY_TIMEOUT has passed.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis only: how long a delivered, unacknowledged message waits before it is delivered again. It must
# outlast the longest a worker holds one: the longest chunk (seconds for 10,000 rows) plus the longest
# retry countdown it waits out (60 s, batch/tasks.py). A redelivery too early costs CPU, not money.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=300)}
CELERY_TIMEZONE = "UTC"

# --- Observability ---
# What an outage answer (HTTP 503, code SERVICE_UNAVAILABLE) tells clients to wait before retrying.
SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS = env.int("SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS", default=5)
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"])
LOG_LEVEL = env_choice(
    "LOG_LEVEL", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), case="upper"
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "mlapi.observability.logging.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        # oauthlib logs issued tokens at DEBUG: never below INFO, whatever LOG_LEVEL says.
        "oauthlib": {"level": "INFO"},
        "oauth2_provider": {"level": "INFO"},
    },
}

SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Per-process memo of valid tokens and of model lookups by name: a revoked token or an archived model
# stops being served within this many seconds on every worker (0 = look up on every request).
ACCESS_TOKEN_CACHE_SECONDS = env.float("ACCESS_TOKEN_CACHE_SECONDS", default=5)
MODEL_LOOKUP_CACHE_SECONDS = env.float("MODEL_LOOKUP_CACHE_SECONDS", default=5)
# Per-process memo of each caller's pricing tier for metered calls. Prices and quotas stay exact (the
# charging statement re-checks the tier in force); a tier's new rate limit may take this long to apply.
PRICING_TIER_CACHE_SECONDS = env.float("PRICING_TIER_CACHE_SECONDS", default=5)

# --- Batch jobs ---
from celery.schedules import crontab  # noqa: E402

BATCH_MAX_UPLOAD_BYTES = env.int("BATCH_MAX_UPLOAD_BYTES", default=200 * 1024 * 1024)
BATCH_MAX_ROWS = env.int("BATCH_MAX_ROWS", default=2_000_000)
# One transaction per chunk. 10,000 rows scored a 1M-row file on 2 workers 1.16x as fast as 5,000 (same-run
# rounds, 2026-12-01: the per-chunk queries and commit flush amortized); a failed chunk retries at most that
# many rows, and a job of fewer than 20,000 rows has fewer chunks to share among the workers.
BATCH_CHUNK_ROWS = env.int("BATCH_CHUNK_ROWS", default=10_000)
# A chunk also ends once its rows hold this many bytes: what one worker holds and stores in one transaction.
BATCH_CHUNK_MAX_BYTES = env.int("BATCH_CHUNK_MAX_BYTES", default=8 * 1024 * 1024)
# One row (a JSONL line, a CSV record; the CSV header too) longer than this is a row error, never read whole.
BATCH_MAX_ROW_BYTES = env.int("BATCH_MAX_ROW_BYTES", default=1024 * 1024)
BATCH_MAX_COLUMNS = env.int("BATCH_MAX_COLUMNS", default=10_000)
# An upload no job has used is removed after this many hours (beat task batch.tasks.expire_batch_storage);
# uploads and jobs with their results are removed after their owner's tier's retention_days.
BATCH_UNUSED_UPLOAD_TTL_HOURS = env.int("BATCH_UNUSED_UPLOAD_TTL_HOURS", default=24)
# Without a broker (CELERY_TASK_ALWAYS_EAGER) a job of at most this many rows runs inside the
# submitting request; a larger one in a background thread of the web process.
BATCH_INLINE_MAX_ROWS = env.int("BATCH_INLINE_MAX_ROWS", default=10_000)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "generate-invoices-for-previous-month": {
        "task": "billing.tasks.generate_invoices_for_previous_month",
        "schedule": crontab(minute=5, hour=0, day_of_month=1),  # CELERY_TIMEZONE is UTC
    },
    "send-pending-invoices": {
        "task": "billing.tasks.send_pending_invoices",
        "schedule": crontab(minute=17),  # hourly: retries invoices the payment provider has not accepted
    },
    "reconcile-closed-billing-periods": {
        "task": "billing.tasks.reconcile_closed_periods",
        "schedule": crontab(minute=40, hour=2),  # daily: closed months' usage = invoiced lines = counters
    },
    "clear-expired-oauth-tokens": {
        "task": "accounts.tasks.clear_expired_tokens",
        "schedule": crontab(minute=30, hour=3),
    },
    "expire-batch-storage": {
        "task": "batch.tasks.expire_batch_storage",
        "schedule": crontab(minute=41),  # hourly: unused uploads, and uploads/jobs past their tier's retention
    },
}

# The usage dashboard's daily rollup (billing.services.rollups): a run rolls up the records the previous run
# saw, so the dashboard reads at most about two intervals of usage records live.
USAGE_ROLLUP_INTERVAL_SECONDS = env.float("USAGE_ROLLUP_INTERVAL_SECONDS", default=60)
CELERY_BEAT_SCHEDULE["rollup-usage-daily"] = {
    "task": "billing.tasks.rollup_usage_daily",
    "schedule": USAGE_ROLLUP_INTERVAL_SECONDS,
    "options": {"expires": USAGE_ROLLUP_INTERVAL_SECONDS},
}

# --- Browser pages: own static assets and a Content-Security-Policy ---
# Swagger UI from drf-spectacular-sidecar and GraphiQL from mlapi/static/mlapi/vendor/: no CDN.
INSTALLED_APPS += ["drf_spectacular_sidecar", "csp"]
SPECTACULAR_SETTINGS.update(
    {"SWAGGER_UI_DIST": "SIDECAR", "SWAGGER_UI_FAVICON_HREF": "SIDECAR", "REDOC_DIST": "SIDECAR"}
)
# django-csp (Django 5.2 has no CSP of its own). Scripts only from this origin: no inline script, no
# eval, no other host; a template that truly needs an inline script uses nonce="{{ request.csp_nonce }}".
# Inline styles stay allowed (the admin's and the invoice page's <style> blocks, style attributes that
# Swagger UI and GraphiQL set): CSS cannot run script. No form-action: the OAuth consent form must
# redirect to the client's own redirect URI.
from csp.constants import NONCE, NONE, SELF  # noqa: E402

MIDDLEWARE += ["mlapi.middleware.CSPMiddleware"]  # django-csp's, with the plain policy built once
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
    },
}

# --- Batch jobs that heal themselves (batch/services/recovery.py) ---
# A chunk that fails for want of the database is retried this many times (1, 2, 4, ... 60 s apart);
# after that it is left to the sweeper, which queues it again once the database answers.
BATCH_CHUNK_DATABASE_RETRIES = env.int("BATCH_CHUNK_DATABASE_RETRIES", default=8)
# A running job none of whose chunks was queued, started or finished for this long is stalled: the
# sweeper (and resume) queue its unfinished chunks again. Longer than the visibility time-out, so a
# Redis broker's own redelivery comes first.
BATCH_STALE_SECONDS = env.float(
    "BATCH_STALE_SECONDS", default=CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] + 60
)
BATCH_SWEEP_INTERVAL_SECONDS = env.float("BATCH_SWEEP_INTERVAL_SECONDS", default=60)
CELERY_BEAT_SCHEDULE["sweep-stalled-batch-jobs"] = {
    "task": "batch.tasks.sweep_batch_jobs",
    "schedule": BATCH_SWEEP_INTERVAL_SECONDS,
    "options": {"expires": BATCH_SWEEP_INTERVAL_SECONDS},  # a sweep nobody ran in time is replaced by the next
}

# --- Model quality (quality/) ---
# Ground-truth feedback items per submitFeedback call / REST batch.
FEEDBACK_MAX_ITEMS = env.int("FEEDBACK_MAX_ITEMS", default=1000)
# The quality rollup folds in feedback rows past its watermark, at most this many per run, and only rows
# older than QUALITY_ROLLUP_SETTLE_SECONDS (a submission still committing has a lower id than one that
# already has: the settle time lets it commit before the watermark passes it).
QUALITY_ROLLUP_BATCH = env.int("QUALITY_ROLLUP_BATCH", default=5000)
QUALITY_ROLLUP_SETTLE_SECONDS = env.float("QUALITY_ROLLUP_SETTLE_SECONDS", default=10)
QUALITY_ROLLUP_INTERVAL_SECONDS = env.float("QUALITY_ROLLUP_INTERVAL_SECONDS", default=60)
CELERY_BEAT_SCHEDULE["roll-up-model-quality"] = {
    "task": "quality.tasks.roll_up_quality",
    "schedule": QUALITY_ROLLUP_INTERVAL_SECONDS,
    "options": {"expires": QUALITY_ROLLUP_INTERVAL_SECONDS},
}
# How a shadow version scores each prediction after the response: "beat" (the default; nothing on the
# request path: a beat task scores the predictions stored since its watermark every QUALITY_SHADOW_INTERVAL_SECONDS,
# QUALITY_SHADOW_BATCH per vectorized call, those older than QUALITY_SHADOW_SETTLE_SECONDS so a call still
# committing is not passed), "celery" (a task published per call on commit; inline when there is no
# broker) or "thread" (a background thread of the web process). In those two the beat task sweeps up.
QUALITY_SHADOW_EXECUTION = env("QUALITY_SHADOW_EXECUTION", default="beat")
QUALITY_SHADOW_INTERVAL_SECONDS = env.float("QUALITY_SHADOW_INTERVAL_SECONDS", default=5)
QUALITY_SHADOW_BATCH = env.int("QUALITY_SHADOW_BATCH", default=1000)
QUALITY_SHADOW_SETTLE_SECONDS = env.float("QUALITY_SHADOW_SETTLE_SECONDS", default=10)
CELERY_BEAT_SCHEDULE["score-shadow-versions"] = {
    "task": "quality.tasks.catch_up_shadows",
    "schedule": QUALITY_SHADOW_INTERVAL_SECONDS,
    "options": {"expires": QUALITY_SHADOW_INTERVAL_SECONDS},
}
# Each process remembers a model name's rollout (canary, shadow) this long; 0 looks it up on every call.
QUALITY_ROLLOUT_CACHE_SECONDS = env.float("QUALITY_ROLLOUT_CACHE_SECONDS", default=5)
# Drift: a reference sample (CSV) is at most this large; without one the first N production inputs
# become the reference; each run compares the newest QUALITY_DRIFT_SAMPLE_ROWS inputs of a window.
QUALITY_REFERENCE_MAX_BYTES = env.int("QUALITY_REFERENCE_MAX_BYTES", default=20 * 1024 * 1024)
QUALITY_DRIFT_REFERENCE_ROWS = env.int("QUALITY_DRIFT_REFERENCE_ROWS", default=1000)
QUALITY_DRIFT_SAMPLE_ROWS = env.int("QUALITY_DRIFT_SAMPLE_ROWS", default=5000)
QUALITY_DRIFT_INTERVAL_SECONDS = env.float("QUALITY_DRIFT_INTERVAL_SECONDS", default=600)
CELERY_BEAT_SCHEDULE["compute-input-drift"] = {
    "task": "quality.tasks.compute_drift",
    "schedule": QUALITY_DRIFT_INTERVAL_SECONDS,
    "options": {"expires": QUALITY_DRIFT_INTERVAL_SECONDS},
}
