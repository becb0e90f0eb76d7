#!/usr/bin/env bash
# The benchmark: makes bench/.venv (its own requirements, apart from the product's), makes sure wrk
# is installed, then runs the interleaved suite (bench/suite.py) with the given arguments (--quick for
# a smoke run). BENCH_MODULE=bench.run runs the older one-server-after-another harness instead.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
VENV=bench/.venv

if [ ! -x .venv/bin/gunicorn ]; then
    echo "bench: the product venv (.venv) is missing; installing it with 'make install'" >&2
    make install
fi

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
if [ ! -f "$VENV/.installed" ] || [ bench/requirements.txt -nt "$VENV/.installed" ]; then
    echo "bench: installing bench/requirements.txt into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet -r bench/requirements.txt
    touch "$VENV/.installed"
fi

if ! command -v wrk >/dev/null 2>&1; then
    echo "bench: installing wrk" >&2
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq wrk
fi

exec "$VENV/bin/python" -m "${BENCH_MODULE:-bench.suite}" "$@"
