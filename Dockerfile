# syntax=docker/dockerfile:1
# mlapi image: docker build -t mlapi:latest .
# One image for every role: web (the default command), Celery worker and beat, and migrations
# (see docker/entrypoint.sh, docker-compose.yml and deploy/k8s/).

# ---- builder: the dependencies, installed into a venv that the runtime stage copies whole ----
FROM python:3.11-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A compiler for any dependency without a wheel for the target platform; it stays in this stage.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

# Only requirements.txt first, so the dependency layer is rebuilt only when it changes.
COPY requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt

# ---- runtime: python, the venv and the app; no compiler, no pip cache ----
FROM python:3.11-slim AS runtime

ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=mlapi.settings.production \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/app/media \
    PORT=8000

# LightGBM's wheel links the system OpenMP runtime (XGBoost's CPU wheel ships its own); WeasyPrint (invoice
# PDFs) needs pango and a font.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

# A fixed uid/gid, so volume ownership and the k8s securityContext (runAsUser 10001) agree.
RUN groupadd --gid 10001 mlapi \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin mlapi

WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
COPY . .

# Code and static files stay owned by root: the app user can read them, not change them.
# /app/media is the app user's (a named volume mounted there starts with this owner).
# The code is byte-compiled now, since the running container cannot write __pycache__.
RUN chmod 0755 docker/entrypoint.sh \
 && install -d -o 10001 -g 10001 /app/media \
 && python -m compileall -q /app

# Production settings need a SECRET_KEY and a REDIS_URL to load; these throwaway ones exist only in this RUN line
# (never an ENV/ARG, so it is in no layer's config). Whitenoise serves the result from STATIC_ROOT.
RUN SECRET_KEY=collectstatic-at-build-time-only-not-a-secret-padded-to-sixty-chars \
    REDIS_URL=redis://collectstatic-never-connects:6379/0 \
    python manage.py collectstatic --noinput

USER 10001:10001

EXPOSE 8000

# /healthz is the liveness endpoint (no I/O). No curl in slim images: python's urllib instead;
# an HTTP error or a refused connection raises, so the check exits non-zero.
# Host: localhost must be in ALLOWED_HOSTS (docker-compose.yml and the k8s ConfigMap have it).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/healthz', headers={'Host': 'localhost'}), timeout=4)"]

ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["web"]
