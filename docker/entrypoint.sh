#!/bin/sh
# Entrypoint of the mlapi image (WORKDIR /app). One image, every role:
#   no argument, or "web"  -> gunicorn serving mlapi.wsgi, exec'd so it is PID 1 and gets SIGTERM itself
#   anything else          -> exec'd as given, e.g. "celery -A mlapi worker -l info",
#                             "python manage.py migrate --noinput", "python manage.py shell"
# Migrations run once per deploy (the compose "migrate" service, the k8s Job), never in every web
# replica at once. RUN_MIGRATIONS=1 runs them here first: only for a single web container on one node.
set -eu

if [ "$#" -eq 0 ] || [ "$1" = "web" ]; then
    if [ "${RUN_MIGRATIONS:-0}" = "1" ]; then
        python manage.py migrate --noinput
    fi
    exec gunicorn mlapi.wsgi -c gunicorn.conf.py
fi

exec "$@"
