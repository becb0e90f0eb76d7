"""Preparing this project for a run: a fresh database, migrations, the demo models, a bench client.

Every command runs with the PRODUCT's interpreter (/work/main/.venv), never the bench venv's.
"""

import base64
import json
import re
import shutil
import subprocess
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from bench.servers import LOOPBACK, ManagedProcess, ServerError, http_request

ROOT = Path(__file__).resolve().parent.parent
PRODUCT_BIN = ROOT / ".venv" / "bin"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/mlapi_bench"
SCOPES = "read predict billing"
SHADOWED_MODEL = "iris-shadowed"

# One Django process does every step (each start-up costs seconds): the same commands as by hand,
#   manage.py migrate; manage.py seed_demo; the bench tier (no quota, no rate limit);
#   manage.py create_api_client --username bench --tier bench; the iris v1 artifact's path
# and prints one JSON line with the client's credentials and the artifact's path.
_PREPARE = """
import io, json
from django.core.management import call_command
from billing.models import PricingTier
from predictions.models import RegisteredModel

call_command("migrate", interactive=False, verbosity=0)
call_command("seed_demo", stdout=io.StringIO())
PricingTier.objects.update_or_create(name="bench", defaults=dict(
    monthly_fee=0, included_predictions=0, price_per_prediction="0.0004", price_per_cpu_second="0.05",
    price_per_mb="0.001", monthly_quota=None, rate_limit_per_minute=None))
client = io.StringIO()
call_command("create_api_client", username="bench", tier="bench", stdout=client)
credentials = json.loads(client.getvalue().strip().splitlines()[-1])
artifact = RegisteredModel.objects.get(name="iris", version=1).artifact.path

# The shadow-on variant's model: the same iris artifact in production under its own name, with a staging
# copy set as its shadow through the quality services (iris itself keeps no shadow: the other variants
# stay as they were). Every prediction of it is scored again by the shadow, as QUALITY_SHADOW_EXECUTION says.
from predictions.demo import demo_registrant
from predictions.services import model_register
from quality.services.rollouts import rollout_set

staff = demo_registrant()
for stage in ("production", "staging"):
    with open(artifact, "rb") as handle:
        model_register(
            registered_by=staff, name=SHADOWED_MODEL, artifact=handle, filename="iris.joblib", stage=stage, force=True
        )
rollout_set(name=SHADOWED_MODEL, changed_by=staff, shadow_version=2)
print("BENCH_SETUP " + json.dumps({**credentials, "artifact": artifact}))
"""

# The beat mode's scorer, for a run with the shadow-on variant: the beat task's function (what
# quality.tasks.catch_up_shadows runs) every QUALITY_SHADOW_INTERVAL_SECONDS, on the same cores as the servers.
_SHADOW_SCORER = """
import time
from django.conf import settings
from quality.tasks import catch_up_shadows

while True:
    started, wall = time.monotonic(), time.time()
    scored = catch_up_shadows()
    print(f"SHADOW_SCORED {scored} in {time.monotonic() - started:.3f} s, pass began {wall:.3f}", flush=True)
    time.sleep(settings.QUALITY_SHADOW_INTERVAL_SECONDS)
"""

# How many predictions the shadow-on model stored, and how many of them the shadow scored.
_SHADOW_COUNT = """
import json
from predictions.models import Prediction
from quality.models import ShadowPrediction

stored = Prediction.objects.filter(model__name=SHADOWED_MODEL, model__version=1)
print("BENCH_SHADOW " + json.dumps({"predictions": stored.count(),
      "scored": ShadowPrediction.objects.filter(prediction__in=stored).count()}))
"""

# Creates or recreates a PostgreSQL database; run with the product's python (it has psycopg2).
_RESET_DATABASE = r"""
import sys, psycopg2
from psycopg2 import sql
dsn, name = sys.argv[1], sys.argv[2]
connection = psycopg2.connect(dsn)
connection.autocommit = True
with connection.cursor() as cursor:
    cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    cursor.execute("SHOW server_version")
    print(cursor.fetchone()[0])
"""


class SetupError(RuntimeError):
    """A step of the project's preparation failed."""


@dataclass(frozen=True)
class ProjectSetup:
    env: dict[str, str]
    database: str  # for the report: engine, version, name
    artifact: Path
    client_id: str
    client_secret: str


def project_env(*, database_url: str, media_root: Path, base_env: dict[str, str]) -> dict[str, str]:
    return {
        **base_env,
        "DJANGO_SETTINGS_MODULE": "mlapi.settings.production",
        "SECRET_KEY": "bench-only-not-a-secret-" + "x" * 40,
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url,
        # Production settings require Redis (the rate limit's shared cache); the bench tier has no rate
        # limit, so nothing is written there.
        "REDIS_URL": base_env.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"),
        "MEDIA_ROOT": str(media_root),
        "PYTHONUNBUFFERED": "1",
    }


def database_reset(database_url: str) -> str:
    """Drops and creates the PostgreSQL database of `database_url`: every run starts from the same state.

    Only a database whose name contains "bench" is dropped, so a mistyped URL cannot wipe real data.
    Returns the server's version.
    """
    parts = urllib.parse.urlsplit(database_url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SetupError(
            f"refusing to reset database {name!r}: the bench drops and recreates it; use a name containing 'bench'"
        )
    maintenance = urllib.parse.urlunsplit(parts._replace(path="/postgres", query=""))
    result = subprocess.run(
        [str(PRODUCT_BIN / "python"), "-c", _RESET_DATABASE, maintenance, name],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise SetupError(
            f"cannot reset database {name!r}: {result.stderr.strip().splitlines()[-1:] or result.returncode}"
        )
    return result.stdout.strip()


def manage(*args: str, env: dict[str, str], timeout_s: float = 300) -> str:
    """`python manage.py ...` under the product venv; its stdout, or SetupError with its stderr."""
    result = subprocess.run(
        [str(PRODUCT_BIN / "python"), "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if result.returncode != 0:
        raise SetupError(f"manage.py {args[0]} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout


def project_prepare(*, workdir: Path, database_url: str | None, base_env: dict[str, str], log=print) -> ProjectSetup:
    """A fresh database (PostgreSQL at `database_url`, else SQLite in `workdir`), migrated and seeded."""
    if not (PRODUCT_BIN / "python").exists():
        raise SetupError(f"the product venv is missing ({PRODUCT_BIN}); run `make install` first")
    if database_url:
        version = database_reset(database_url)
        parts = urllib.parse.urlsplit(database_url)
        database = f"PostgreSQL {version} ({parts.hostname}:{parts.port or 5432}{parts.path})"
    else:
        database_url = f"sqlite:///{workdir / 'bench.sqlite3'}"
        database = f"SQLite ({workdir / 'bench.sqlite3'})"
    env = project_env(database_url=database_url, media_root=workdir / "media", base_env=base_env)
    log("  migrate, seed_demo, bench tier, create_api_client (one Django process)")
    prepare = f"SHADOWED_MODEL = {SHADOWED_MODEL!r}\n" + _PREPARE
    output = manage("shell", "--verbosity", "0", "-c", prepare, env=env)
    lines = [line for line in output.splitlines() if line.startswith("BENCH_SETUP ")]
    if not lines:
        raise SetupError(f"the set-up printed no result:\n{output[-2000:]}")
    result = json.loads(lines[-1].removeprefix("BENCH_SETUP "))
    artifact = Path(result["artifact"])
    if not artifact.is_file():
        raise SetupError(f"the iris artifact is not at {artifact}")
    copy = workdir / "model.joblib"
    shutil.copyfile(artifact, copy)
    return ProjectSetup(
        env=env, database=database, artifact=copy, client_id=result["client_id"], client_secret=result["client_secret"]
    )


def project_server(*, setup: ProjectSetup, port: int, workers: int, log_path: Path) -> ManagedProcess:
    """gunicorn as deployed (gunicorn.conf.py: sync workers, models warmed in post_fork), on loopback."""
    argv = [
        str(PRODUCT_BIN / "gunicorn"),
        "mlapi.wsgi",
        "-c",
        str(ROOT / "gunicorn.conf.py"),
        "-b",
        f"{LOOPBACK}:{port}",
        "-w",
        str(workers),
    ]
    return ManagedProcess("gunicorn (mlapi)", argv, env=setup.env, cwd=ROOT, log_path=log_path)


def shadow_scorer(*, setup: ProjectSetup, log_path: Path) -> ManagedProcess:
    """The beat task's scoring loop (QUALITY_SHADOW_EXECUTION=beat), in its own process group."""
    argv = [str(PRODUCT_BIN / "python"), "manage.py", "shell", "--verbosity", "0", "-c", _SHADOW_SCORER]
    return ManagedProcess("shadow scorer (beat task)", argv, env=setup.env, cwd=ROOT, log_path=log_path)


_SCORER_PASS = re.compile(r"^SHADOW_SCORED (\d+) in [\d.]+ s, pass began ([\d.]+)$")


def shadow_scorer_caught_up(log_text: str, *, stored_before: float, settle_s: float) -> bool:
    """Whether a pass of the scorer found nothing to score although it began once everything stored before
    `stored_before` (a time.time()) had settled: then every one of those predictions has been scored."""
    for line in log_text.splitlines():
        found = _SCORER_PASS.match(line.strip())
        if found and int(found[1]) == 0 and float(found[2]) >= stored_before + settle_s:
            return True
    return False


def shadow_counts(*, setup: ProjectSetup) -> dict:
    """{"predictions": stored by the shadow-on model, "scored": how many of them have a shadow output}."""
    output = manage(
        "shell", "--verbosity", "0", "-c", f"SHADOWED_MODEL = {SHADOWED_MODEL!r}\n" + _SHADOW_COUNT, env=setup.env
    )
    lines = [line for line in output.splitlines() if line.startswith("BENCH_SHADOW ")]
    return json.loads(lines[-1].removeprefix("BENCH_SHADOW ")) if lines else {}


def access_token(*, base_url: str, client_id: str, client_secret: str) -> str:
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    body = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": SCOPES}).encode()
    status, raw = http_request(
        "POST",
        f"{base_url}/o/token/",
        body=body,
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    if status != 200:
        raise ServerError(f"/o/token/ answered {status}: {raw[:300]!r}")
    return json.loads(raw)["access_token"]
