"""Gunicorn settings for the mlapi web container: ``gunicorn mlapi.wsgi -c gunicorn.conf.py``.

Tuned from the environment, so one image fits a laptop and a cluster:
PORT (8000), GUNICORN_WORKERS (one per CPU, at most 8), GUNICORN_THREADS (2: gthread workers; 1 = sync),
LOG_LEVEL (info).

Why gthread, one process per CPU: a call spends a good part of its time waiting for PostgreSQL (the
durable commit of its one-statement write), and a thread waiting there releases the GIL to its siblings,
where a sync worker sits idle. Measured on 2 cores (bench/ab.py, PostgreSQL, c=16, 2026-12-01, interleaved
rounds, load average 9-14 from other work on the machine): 2 workers x 2 threads served 1.58x what 5 sync
workers (the former default, 2 x CPUs + 1) served, 2 x 4 threads 1.60x, 2 sync workers 1.14x; in a direct
A/B 2 x 4 threads served 1.007x what 2 x 2 did (p99 114 against 106 ms), so 2 threads: the same throughput
on half the database connections.
More processes than CPUs only add context switches and memory (each holds its own copy of the models).
"""

import os


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    value = int(raw)  # a typo stops the boot loudly instead of running with a surprise
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {raw!r}")
    return value


def _default_workers() -> int:
    # The CPUs this process may run on (a container's cpuset), not the whole host's. A CPU quota
    # (k8s limits.cpu) is invisible here, and every worker holds its own copy of the models:
    # set GUNICORN_WORKERS to fit the container's memory (the k8s ConfigMap does).
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(cores, 8)


bind = f"0.0.0.0:{_env_int('PORT', 8000)}"
workers = _env_int("GUNICORN_WORKERS", _default_workers())
threads = _env_int("GUNICORN_THREADS", 2)
worker_class = "gthread" if threads > 1 else "sync"

# The app is loaded in each worker, not in the master: models are loaded after fork (post_fork starts a
# background warm-up), so a worker recycled by max_requests starts clean and a bad model cannot take the master down.
preload_app = False

timeout = 30
graceful_timeout = 25  # finish in-flight requests before k8s's terminationGracePeriodSeconds (40)
# Recycling guards against slow leaks; a recycled worker re-warms its models, so keep it rare and
# spread out (with 1000 under load every worker restarted within the same second: an outage).
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 50_000)
max_requests_jitter = max_requests // 5

# The workers' heartbeat files on tmpfs: on a disk-backed /tmp they can stall a worker
# (gunicorn docs, "Blocking os.fchmod").
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"

accesslog = None  # the app logs one JSON line per request itself
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()

# Gunicorn >= 25 opens a control socket under $HOME by default; the container's root filesystem
# is read-only and nothing here uses gunicornc.
control_socket_disable = True


def post_worker_init(worker):
    """The app is loaded: what it holds now lives as long as the worker (mlapi.garbage_collection)."""
    from mlapi.garbage_collection import long_lived_objects_freeze

    long_lived_objects_freeze()


def post_fork(server, worker):
    """Start loading the production models in each new worker, in a background thread.

    The worker accepts requests at once: /healthz answers while the models load, and /readyz is 503
    until this worker's cache holds every production model. The warm-up is no longer bound by the
    heartbeat ``timeout``. A failure to start is logged, never raised.
    """
    try:
        import django
        from django.apps import apps

        if not apps.ready:  # preload_app is off: a fresh worker has not loaded Django yet
            django.setup()  # DJANGO_SETTINGS_MODULE comes from the environment (the image sets it)

        from predictions.registry.cache import production_models_warm_start

        started = production_models_warm_start()
    except Exception:
        worker.log.exception("worker %s: production model warm-up did not start", worker.pid)
    else:
        worker.log.info(
            "worker %s: production model warm-up %s",
            worker.pid,
            "started in the background" if started else "off (WARM_MODELS_ON_STARTUP)",
        )
