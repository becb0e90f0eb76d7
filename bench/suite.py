"""`make bench`: every variant against MLServer and FastAPI in one run, interleaved, with CPU per call.

    bench/.venv/bin/python -m bench.suite [--quick] [--rounds 3] [--duration 10] [--levels 1,16]

All servers run at once on loopback (each started in its own process group, all stopped at the end, also on
errors and Ctrl-C); in every round each variant gets one wrk run per level, the variants' order rotating from
round to round, so a busy moment of a shared machine falls on all of them alike. Reported per variant and level:
the medians over the rounds of req/s, p50 and p99, the ratio to MLServer's and to FastAPI's medians of the same
run, and the CPU per call of the server's processes and of the PostgreSQL backends of the bench database.

Variants: mlapi GraphQL createPrediction (an ordinary request), the same document persisted (its hash only: the
express lane), REST predict, a 1,000-row batch through GraphQL (ordinary and persisted); the references: the
ceiling app (bench/ceiling.py: bare WSGI, the same model, the same three durable writes), FastAPI and MLServer
(no auth, no storage). Writes bench/results/suite-<run id>.json and suite-latest.md; prints the markdown.
"""

import argparse
import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import load, project
from bench.cpu import CpuMeter
from bench.report import BUSY_LOAD_AVERAGE, fmt_number, markdown_table, run_id
from bench.run import GRAPHQL_SINGLE, IRIS_ROW, QUIET_FEATURE_NAMES, _clean_env, machine_info, mlserver_request
from bench.servers import LOOPBACK, ManagedProcess, ServerError, cpu_count, free_port, http_json, wait_ready

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"

GRAPHQL = "mlapi-graphql"
GRAPHQL_SHADOW = "mlapi-graphql-shadow"
PERSISTED = "mlapi-graphql-persisted"
REST = "mlapi-rest"
CEILING = "ceiling"
FASTAPI = "fastapi"
MLSERVER = "mlserver"
BATCH_GRAPHQL = "mlapi-graphql-batch"
BATCH_PERSISTED = "mlapi-graphql-persisted-batch"
LABELS = {
    GRAPHQL: "mlapi GraphQL createPrediction",
    GRAPHQL_SHADOW: "mlapi GraphQL createPrediction, shadow on",
    PERSISTED: "mlapi GraphQL persisted (express lane)",
    REST: "mlapi REST predict",
    CEILING: "ceiling (bare WSGI + psycopg2, 3 durable writes)",
    FASTAPI: "FastAPI (no auth, no storage)",
    MLSERVER: "MLServer 1.7 (no auth, no storage)",
    BATCH_GRAPHQL: "mlapi GraphQL, 1,000 rows per call",
    BATCH_PERSISTED: "mlapi GraphQL persisted, 1,000 rows per call",
}
SINGLE_VARIANTS = (GRAPHQL, GRAPHQL_SHADOW, PERSISTED, REST, CEILING, FASTAPI, MLSERVER)
# After the shadow-on variant, the beat scorer's work (predictions older than the settle time, every interval)
# is waited for rather than left to run during the next variant. The product's default settle time:
DEFAULT_SHADOW_SETTLE_S = 10.0
SCORER_WAIT_S = 120.0
SHADOW_SCORER_LOG = Path("logs") / "shadow-scorer.log"
VARIANTS = (*SINGLE_VARIANTS, BATCH_GRAPHQL, BATCH_PERSISTED)
# The shadow-on variant: the same request to a model whose every prediction a shadow version scores again
# (bench/project.py sets it up). Issue 16: shadow scoring adds at most 5 % to the caller's p50 at c=16.
GRAPHQL_SHADOWED = GRAPHQL_SINGLE.replace('modelName: "iris"', f'modelName: "{project.SHADOWED_MODEL}"')
SHADOW_P50_LIMIT = 1.05
MODES = {
    "quick": {"rounds": 1, "duration_s": 2.0, "warmup_s": 1.0, "levels": [1, 16], "batch_calls": 2},
    "full": {"rounds": 3, "duration_s": 10.0, "warmup_s": 3.0, "levels": [1, 16], "batch_calls": 5},
}
TARGET_CONNECTIONS = 16


def log(message: str) -> None:
    print(f"[suite {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted_body(query: str, variables: dict) -> dict:
    return {"variables": variables, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}}}


@dataclass
class Target:
    """One variant: what wrk (or the batch loop) sends, and whose CPU it is."""

    name: str
    scenario: load.Scenario | None
    process: ManagedProcess
    database: str | None  # whose PostgreSQL backends to count
    batch_body: dict | None = None
    batch_rows: int = 0


@dataclass
class Samples:
    rps: list = field(default_factory=list)
    p50_ms: list = field(default_factory=list)
    p99_ms: list = field(default_factory=list)
    server_us: list = field(default_factory=list)
    database_us: list = field(default_factory=list)
    errors: int = 0

    def add(self, *, rps, p50_ms, p99_ms, calls, server_s, database_s, errors) -> None:
        self.rps.append(rps)
        self.p50_ms.append(p50_ms)
        self.p99_ms.append(p99_ms)
        self.server_us.append(server_s / calls * 1e6 if calls else None)
        self.database_us.append(database_s / calls * 1e6 if calls and database_s is not None else None)
        self.errors += errors

    def summary(self) -> dict:
        def median(values):
            values = [v for v in values if v is not None]
            return round(statistics.median(values), 2) if values else None

        return {
            "rounds": len(self.rps),
            "rps": [round(v, 1) for v in self.rps],
            "median_rps": median(self.rps),
            "median_p50_ms": median(self.p50_ms),
            "median_p99_ms": median(self.p99_ms),
            "server_cpu_us_per_call": median(self.server_us),
            "database_cpu_us_per_call": median(self.database_us),
            "errors": self.errors,
        }


# --- servers ------------------------------------------------------------------------------------


def _start(processes: list, process: ManagedProcess) -> ManagedProcess:
    processes.append(process)
    log(f"starting {process.name}")
    return process.start()


def start_project(processes, setup, workers, workdir) -> tuple[ManagedProcess, str, str]:
    port = free_port()
    server = _start(
        processes,
        project.project_server(setup=setup, port=port, workers=workers, log_path=workdir / "logs" / "gunicorn.log"),
    )
    base_url = f"http://{LOOPBACK}:{port}"
    wait_ready(server, f"{base_url}/readyz", timeout_s=120)
    token = project.access_token(base_url=base_url, client_id=setup.client_id, client_secret=setup.client_secret)
    return server, base_url, token


def start_ceiling(processes, setup, workers, workdir, database_url) -> tuple[ManagedProcess, str, str]:
    token = "ceiling-" + os.urandom(8).hex()
    subprocess.run(
        [
            str(project.PRODUCT_BIN / "python"),
            "-c",
            "import sys; from bench.ceiling import ceiling_tables_create as c; c(sys.argv[1])",
            database_url,
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=60,
    )
    port = free_port()
    env = {
        **_clean_env(),
        "CEILING_DATABASE_URL": database_url,
        "MODEL_PATH": str(setup.artifact),
        "CEILING_TOKEN": token,
        "PYTHONUNBUFFERED": "1",
    }
    # gunicorn's defaults: sync workers, no access log.
    argv = [str(project.PRODUCT_BIN / "gunicorn"), "bench.ceiling:app", "-w", str(workers), "-b", f"{LOOPBACK}:{port}"]
    server = _start(
        processes, ManagedProcess("ceiling", argv, env=env, cwd=ROOT, log_path=workdir / "logs" / "ceiling.log")
    )
    base_url = f"http://{LOOPBACK}:{port}"
    wait_ready(server, f"{base_url}/health", timeout_s=60)
    return server, base_url, token


def start_fastapi(processes, setup, workers, workdir) -> tuple[ManagedProcess, str]:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.fastapi_server:app",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
    ]
    env = {
        **_clean_env(),
        "MODEL_PATH": str(setup.artifact),
        "PYTHONUNBUFFERED": "1",
        "PYTHONWARNINGS": QUIET_FEATURE_NAMES,
    }
    server = _start(
        processes, ManagedProcess("FastAPI", argv, env=env, cwd=ROOT, log_path=workdir / "logs" / "fastapi.log")
    )
    base_url = f"http://{LOOPBACK}:{port}"
    wait_ready(server, f"{base_url}/health", timeout_s=60)
    return server, base_url


def start_mlserver(processes, setup, workers, workdir) -> tuple[ManagedProcess, str]:
    mlserver_bin = Path(sys.executable).parent / "mlserver"
    if not mlserver_bin.exists():
        raise ServerError(f"mlserver is not installed in {mlserver_bin.parent}")
    port = free_port()
    repo = workdir / "mlserver"
    (repo / "iris").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(setup.artifact, repo / "iris" / "model.joblib")
    settings = {
        "debug": False,
        "host": LOOPBACK,
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_endpoint": None,
        "parallel_workers": workers,
        "model_repository_root": str(repo),
        "environments_dir": str(repo / ".envs"),
        "metrics_dir": str(repo / ".metrics"),
    }
    model_settings = {
        "name": "iris",
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib", "version": "v1"},
    }
    (repo / "settings.json").write_text(json.dumps(settings))
    (repo / "iris" / "model-settings.json").write_text(json.dumps(model_settings))
    env = {**_clean_env(), "PYTHONUNBUFFERED": "1", "PYTHONWARNINGS": QUIET_FEATURE_NAMES}
    server = _start(
        processes,
        ManagedProcess(
            "MLServer",
            [str(mlserver_bin), "start", str(repo)],
            env=env,
            cwd=repo,
            log_path=workdir / "logs" / "mlserver.log",
            stop_grace_s=3.0,
        ),
    )
    base_url = f"http://{LOOPBACK}:{port}"
    wait_ready(server, f"{base_url}/v2/models/iris/ready", timeout_s=90)
    return server, base_url


def _probe(url: str, body: dict, headers: dict, ok) -> None:
    status, data = http_json("POST", url, payload=body, headers=headers)
    if not ok(status, data or {}):
        raise ServerError(f"probe of {url} answered HTTP {status}: {json.dumps(data)[:300]}")


def _graphql_ok(status, data, rows=1) -> bool:
    payload = (data.get("data") or {}).get("createPrediction") or {}
    got = (
        len(payload.get("predictions") or [])
        if rows > 1
        else int(bool((payload.get("prediction") or {}).get("output")))
    )
    return status == 200 and not data.get("errors") and payload.get("errors") == [] and got == rows


# --- measuring ----------------------------------------------------------------------------------


def wrk_once(target: Target, connections: int, duration_s: float, workdir: Path) -> dict:
    meter = CpuMeter(pgid=target.process.process.pid, database=target.database)
    meter.start()
    result = load.run_wrk(target.scenario, connections=connections, duration_s=duration_s, workdir=workdir)
    server_s, database_s = meter.stop()
    database_s = database_s if target.database else None  # no database: "-", not 0
    return {
        "rps": result.rps,
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "calls": result.requests,
        "server_s": server_s,
        "database_s": database_s,
        "errors": result.errors,
    }


def batch_once(target: Target, url: str, token: str, calls: int) -> dict:
    import requests

    meter = CpuMeter(pgid=target.process.process.pid, database=target.database)
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        body = json.dumps(target.batch_body)
        meter.start()
        durations, errors = [], 0
        for _ in range(calls):
            started = time.perf_counter()
            response = session.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=120)
            durations.append(time.perf_counter() - started)
            errors += not _graphql_ok(response.status_code, response.json(), rows=target.batch_rows)
        server_s, database_s = meter.stop()
    durations.sort()
    total = sum(durations)
    return {
        "rps": target.batch_rows * calls / total,  # rows per second
        "p50_ms": statistics.median(durations) * 1000,
        "p99_ms": durations[-1] * 1000,
        "calls": target.batch_rows * calls,  # CPU per row
        "server_s": server_s,
        "database_s": database_s,
        "errors": errors,
    }


@dataclass(frozen=True)
class ShadowScorer:
    log_path: Path
    settle_s: float


def shadow_scorer_wait(scorer: ShadowScorer, *, stored_before: float, timeout_s: float = SCORER_WAIT_S) -> float:
    """Waits until the beat scorer has scored what the shadow-on variant stored, so that work does not fall
    into the next variant's measurement (it runs on the same cores); returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        text = scorer.log_path.read_text() if scorer.log_path.exists() else ""
        if project.shadow_scorer_caught_up(text, stored_before=stored_before, settle_s=scorer.settle_s):
            return time.monotonic() - started
        time.sleep(0.5)
    log(f"the shadow scorer had not caught up after {timeout_s:.0f} s; measuring on")
    return time.monotonic() - started


def measure(
    targets: dict[str, Target],
    cfg: dict,
    workdir: Path,
    batch_url: str,
    token: str,
    scorer: ShadowScorer | None = None,
) -> dict[str, dict[int, Samples]]:
    samples: dict[str, dict[int, Samples]] = {}
    singles = [name for name in SINGLE_VARIANTS if name in targets]
    for name in singles:  # warm-up, discarded: caches, connections, JIT-free but lazy imports
        load.run_wrk(
            targets[name].scenario,
            connections=max(cfg["levels"]),
            duration_s=cfg["warmup_s"],
            workdir=workdir / "warmup",
        )
    for round_index in range(cfg["rounds"]):
        order = singles[round_index % len(singles) :] + singles[: round_index % len(singles)]
        for connections in cfg["levels"]:
            for name in order:
                sample = wrk_once(targets[name], connections, cfg["duration_s"], workdir / "wrk")
                samples.setdefault(name, {}).setdefault(connections, Samples()).add(**sample)
                log(
                    f"round {round_index + 1} c={connections:<3} {LABELS[name]:<48} {sample['rps']:8.1f} req/s  "
                    f"p50 {sample['p50_ms']:7.2f} ms  p99 {sample['p99_ms']:7.2f} ms"
                )
                if name == GRAPHQL_SHADOW and scorer is not None:
                    waited = shadow_scorer_wait(scorer, stored_before=time.time())
                    log(f"  waited {waited:.1f} s for the shadow scorer to score what that variant stored")
                time.sleep(0.5)
        for name in (BATCH_GRAPHQL, BATCH_PERSISTED):
            if name in targets:
                sample = batch_once(targets[name], batch_url, token, cfg["batch_calls"])
                samples.setdefault(name, {}).setdefault(1, Samples()).add(**sample)
                log(f"round {round_index + 1} {LABELS[name]:<56} {sample['rps']:10.0f} rows/s")
    return samples


# --- the report ---------------------------------------------------------------------------------


def _ratio(value, reference) -> float | None:
    return round(value / reference, 3) if value and reference else None


def summarize(samples: dict[str, dict[int, Samples]]) -> dict:
    table = {name: {str(c): s.summary() for c, s in levels.items()} for name, levels in samples.items()}
    for name, levels in table.items():
        for connections, row in levels.items():
            for reference in (MLSERVER, FASTAPI):
                ref = table.get(reference, {}).get(connections)
                row[f"rps_vs_{reference}"] = (
                    _ratio(row["median_rps"], ref and ref["median_rps"])
                    if name not in (BATCH_GRAPHQL, BATCH_PERSISTED)
                    else None
                )
                row[f"p99_vs_{reference}"] = (
                    _ratio(row["median_p99_ms"], ref and ref["median_p99_ms"])
                    if name not in (BATCH_GRAPHQL, BATCH_PERSISTED)
                    else None
                )
    return table


def targets_check(table: dict) -> list[dict]:
    checks = []

    def row(name, connections):
        return table.get(name, {}).get(str(connections))

    on, off = row(GRAPHQL_SHADOW, TARGET_CONNECTIONS), row(GRAPHQL, TARGET_CONNECTIONS)
    if on and off and on["median_p50_ms"] and off["median_p50_ms"]:
        value = _ratio(on["median_p50_ms"], off["median_p50_ms"])
        checks.append(
            {
                "target": f"{LABELS[GRAPHQL_SHADOW]}: p50 at c=16 ≤ {SHADOW_P50_LIMIT}× shadow off (issue 16)",
                "value": value,
                "limit": SHADOW_P50_LIMIT,
                "met": value is not None and value <= SHADOW_P50_LIMIT,
            }
        )
    for name in (GRAPHQL, PERSISTED, REST):
        r16, r1, m1 = row(name, 16), row(name, 1), row(MLSERVER, 1)
        if r16 and r16["rps_vs_mlserver"] is not None:
            checks.append(
                {
                    "target": f"{LABELS[name]}: req/s at c=16 ≥ 1.0× MLServer",
                    "value": r16["rps_vs_mlserver"],
                    "limit": 1.0,
                    "met": r16["rps_vs_mlserver"] >= 1.0,
                }
            )
            checks.append(
                {
                    "target": f"{LABELS[name]}: p99 at c=16 ≤ 1.5× MLServer's",
                    "value": r16["p99_vs_mlserver"],
                    "limit": 1.5,
                    "met": r16["p99_vs_mlserver"] <= 1.5,
                }
            )
        if r1 and m1 and m1["median_p50_ms"]:
            value = _ratio(r1["median_p50_ms"], m1["median_p50_ms"])
            checks.append(
                {
                    "target": f"{LABELS[name]}: p50 at c=1 ≤ MLServer's",
                    "value": value,
                    "limit": 1.0,
                    "met": value <= 1.0,
                }
            )
    for name in (BATCH_GRAPHQL, BATCH_PERSISTED):
        r = row(name, 1)
        if r and r["median_rps"]:
            checks.append(
                {
                    "target": f"{LABELS[name]}: ≥ 25,000 rows/s",
                    "value": r["median_rps"],
                    "limit": 25000,
                    "met": r["median_rps"] >= 25000,
                }
            )
    return checks


def render(document: dict) -> str:
    table, machine, cfg = document["results"], document["machine"], document["config"]
    lines = [
        f"# mlapi benchmark suite {document['run_id']} ({document['mode']})",
        "",
        f"{machine['date']}, {machine['cores']} cores ({machine['cpu_model']}), {machine['database']}, "
        f"git {machine['git_commit']}; "
        f"load average {machine['load_average_at_start']} at the start, {document['load_average_at_end']} at the end"
        + (
            " (busy: other work shared the cores)"
            if max(machine["load_average_at_start"], document["load_average_at_end"]) > BUSY_LOAD_AVERAGE
            else ""
        )
        + f". {cfg['rounds']} interleaved round(s) of {cfg['duration_s']:g} s per variant and level; medians; "
        f"wrk on the same cores; {cfg['workers']} workers per server.",
        "",
    ]
    header = [
        "variant",
        "c",
        "req/s",
        "× MLServer",
        "× FastAPI",
        "p50 ms",
        "p99 ms",
        "p99 × MLServer",
        "server CPU µs/call",
        "PostgreSQL CPU µs/call",
        "errors",
    ]
    rows = []
    for connections in cfg["levels"]:
        for name in SINGLE_VARIANTS:
            r = table.get(name, {}).get(str(connections))
            if r is None:
                continue
            rows.append(
                [
                    LABELS[name],
                    str(connections),
                    fmt_number(r["median_rps"]),
                    _x(r["rps_vs_mlserver"]),
                    _x(r["rps_vs_fastapi"]),
                    fmt_number(r["median_p50_ms"]),
                    fmt_number(r["median_p99_ms"]),
                    _x(r["p99_vs_mlserver"]),
                    fmt_number(r["server_cpu_us_per_call"]),
                    fmt_number(r["database_cpu_us_per_call"]),
                    str(r["errors"]),
                ]
            )
    lines += [markdown_table(header, rows, numeric_from=1), ""]
    batch_rows = []
    for name in (BATCH_GRAPHQL, BATCH_PERSISTED):
        r = table.get(name, {}).get("1")
        if r:
            batch_rows.append(
                [
                    LABELS[name],
                    fmt_number(r["median_rps"]),
                    fmt_number(r["median_p50_ms"]),
                    fmt_number(r["server_cpu_us_per_call"]),
                    fmt_number(r["database_cpu_us_per_call"]),
                    str(r["errors"]),
                ]
            )
    if batch_rows:
        lines += [
            markdown_table(
                [
                    "batch (one client, sequential calls)",
                    "rows/s",
                    "ms per call (p50)",
                    "server CPU µs/row",
                    "PostgreSQL CPU µs/row",
                    "errors",
                ],
                batch_rows,
            ),
            "",
        ]
    shadow = document.get("shadow")
    if shadow:
        lines += [
            f"Shadow on: QUALITY_SHADOW_EXECUTION={shadow.get('execution')}; the shadow scored "
            f"{shadow.get('scored', '-')} of the {shadow.get('predictions', '-')} predictions stored during the run "
            "(beat mode leaves the newest ones, inside the settle time, to its next run).",
            "",
        ]
    unavailable = document.get("unavailable") or {}
    for name, note in unavailable.items():
        lines.append(f"- {LABELS.get(name, name)}: not measured: {note}")
    lines += ["", "## Targets", ""]
    for check in document["targets"]:
        lines.append(
            f"- {'PASS' if check['met'] else 'MISS'} {check['target']}: "
            f"{fmt_number(check['value'])} (limit {fmt_number(check['limit'])})"
        )
    return "\n".join(lines) + "\n"


def _x(value) -> str:
    return f"{value:.2f}×" if value is not None else "-"


# --- the run ------------------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round of 2 s per variant and level")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--duration", type=float)
    parser.add_argument("--levels", help="comma-separated connection counts (default 1,16)")
    parser.add_argument("--workers", type=int, default=cpu_count())
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", project.DEFAULT_DATABASE_URL))
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--keep-temp", action="store_true")
    parser.add_argument(
        "--variants",
        help=f"comma-separated variants to run (default all): {','.join(VARIANTS)}; "
        "e.g. mlapi-graphql,mlapi-graphql-shadow for shadow off and on alone",
    )
    parser.add_argument(
        "--shadow-execution",
        choices=("beat", "celery", "thread"),
        help="QUALITY_SHADOW_EXECUTION for the project (default: the project's own default)",
    )
    return parser.parse_args(argv)


def run_config(args) -> dict:
    cfg = dict(MODES["quick" if args.quick else "full"])
    if args.rounds:
        cfg["rounds"] = args.rounds
    if args.duration:
        cfg["duration_s"] = args.duration
    if args.levels:
        cfg["levels"] = [int(level) for level in args.levels.split(",")]
    cfg["workers"] = args.workers
    variants: list[str] = args.variants.split(",") if args.variants else list(VARIANTS)
    cfg["variants"] = variants
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown variants: {sorted(unknown)}; choose from {VARIANTS}")
    cfg["shadow_execution"] = args.shadow_execution
    return cfg


def build_targets(processes, cfg, workdir, database_url, unavailable) -> tuple[dict, str, str, project.ProjectSetup]:
    from bench.batch import BATCH_GRAPHQL as BATCH_QUERY
    from bench.batch import iris_rows

    wanted = set(cfg["variants"])
    base_env = _clean_env()
    if cfg.get("shadow_execution"):
        base_env["QUALITY_SHADOW_EXECUTION"] = cfg["shadow_execution"]
    setup = project.project_prepare(workdir=workdir, database_url=database_url, base_env=base_env, log=log)
    cfg["shadow_execution"] = _shadow_execution(setup)
    database = urllib.parse.urlsplit(database_url).path.lstrip("/")
    workers = cfg["workers"]
    server, base_url, token = start_project(processes, setup, workers, workdir)
    auth = {"Authorization": f"Bearer {token}"}
    graphql_url = f"{base_url}/graphql/"
    targets: dict[str, Target] = {}
    plain = {"query": GRAPHQL_SINGLE, "variables": {"f": IRIS_ROW}}
    persisted = persisted_body(GRAPHQL_SINGLE, {"f": IRIS_ROW})
    rows = iris_rows(1000)
    for name, body, ok in (
        (GRAPHQL, plain, _graphql_ok),
        (GRAPHQL_SHADOW, {"query": GRAPHQL_SHADOWED, "variables": {"f": IRIS_ROW}}, _graphql_ok),
        (PERSISTED, persisted, _graphql_ok),
        (REST, {"features": IRIS_ROW}, lambda status, data: status == 201 and bool(data.get("prediction"))),
    ):
        if name not in wanted:
            continue
        url = graphql_url if name != REST else f"{base_url}/api/v1/models/iris/predict"
        try:
            _probe(url, body, auth, ok)
            targets[name] = Target(
                name,
                load.Scenario(name, url, json.dumps(body).encode(), auth, load.ERROR_LIST_PATTERN),
                server,
                database,
            )
        except (ServerError, OSError) as error:
            unavailable[name] = str(error)
    for name, body in (
        (BATCH_GRAPHQL, {"query": BATCH_QUERY, "variables": {"rows": rows}}),
        (BATCH_PERSISTED, persisted_body(BATCH_QUERY, {"rows": rows})),
    ):
        if name not in wanted:
            continue
        try:
            _probe(graphql_url, body, auth, lambda status, data: _graphql_ok(status, data, rows=len(rows)))
            targets[name] = Target(name, None, server, database, batch_body=body, batch_rows=len(rows))
        except (ServerError, OSError) as error:
            unavailable[name] = str(error)
    if GRAPHQL_SHADOW in targets and cfg["shadow_execution"] == "beat":
        _start(processes, project.shadow_scorer(setup=setup, log_path=workdir / SHADOW_SCORER_LOG))
    for name, starter in ((CEILING, _ceiling_target), (FASTAPI, _fastapi_target), (MLSERVER, _mlserver_target)):
        if name in wanted:
            starter(processes, cfg["workers"], workdir, database_url, setup, database, targets, unavailable)
    return targets, graphql_url, token, setup


def _shadow_execution(setup) -> str:
    """The mode the project runs in: the one the bench set, else the project's default (read from it)."""
    if setup.env.get("QUALITY_SHADOW_EXECUTION"):
        return setup.env["QUALITY_SHADOW_EXECUTION"]
    code = "from django.conf import settings; print(settings.QUALITY_SHADOW_EXECUTION)"
    return project.manage("shell", "--verbosity", "0", "-c", code, env=setup.env).strip().splitlines()[-1]


def _ceiling_target(processes, workers, workdir, database_url, setup, database, targets, unavailable) -> None:
    try:
        ceiling, ceiling_url, ceiling_token = start_ceiling(processes, setup, workers, workdir, database_url)
        headers = {"Authorization": f"Bearer {ceiling_token}"}
        body = {"features": IRIS_ROW}
        _probe(f"{ceiling_url}/predict", body, headers, lambda status, data: status == 201)
        targets[CEILING] = Target(
            CEILING,
            load.Scenario(CEILING, f"{ceiling_url}/predict", json.dumps(body).encode(), headers),
            ceiling,
            database,
        )
    except (ServerError, OSError, subprocess.SubprocessError) as error:
        unavailable[CEILING] = str(error)


def _fastapi_target(processes, workers, workdir, database_url, setup, database, targets, unavailable) -> None:
    try:
        fastapi, fastapi_url = start_fastapi(processes, setup, workers, workdir)
        _probe(f"{fastapi_url}/predict", IRIS_ROW, {}, lambda status, data: status == 200 and bool(data.get("label")))
        targets[FASTAPI] = Target(
            FASTAPI, load.Scenario(FASTAPI, f"{fastapi_url}/predict", json.dumps(IRIS_ROW).encode()), fastapi, None
        )
    except (ServerError, OSError) as error:
        unavailable[FASTAPI] = str(error)


def _mlserver_target(processes, workers, workdir, database_url, setup, database, targets, unavailable) -> None:
    try:
        mlserver, mlserver_url = start_mlserver(processes, setup, workers, workdir)
        url = f"{mlserver_url}/v2/models/iris/infer"
        _probe(url, mlserver_request(), {}, lambda status, data: status == 200 and bool(data.get("outputs")))
        targets[MLSERVER] = Target(
            MLSERVER, load.Scenario(MLSERVER, url, json.dumps(mlserver_request()).encode()), mlserver, None
        )
    except (ServerError, OSError) as error:
        unavailable[MLSERVER] = str(error)


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    cfg = run_config(args)
    load.wrk_path()
    load_average = round(os.getloadavg()[0], 2)
    started_at = datetime.now(UTC)
    workdir = Path(tempfile.mkdtemp(prefix="mlapi-suite-"))
    processes: list[ManagedProcess] = []
    unavailable: dict[str, str] = {}
    samples: dict = {}
    shadow: dict | None = None
    completed = False
    log(f"{'quick' if args.quick else 'full'} run: {cfg}; temp dir {workdir}; load average {load_average}")
    try:
        targets, graphql_url, token, setup = build_targets(processes, cfg, workdir, args.database_url, unavailable)
        scorer = None
        if GRAPHQL_SHADOW in targets and cfg["shadow_execution"] == "beat":
            settle_s = float(setup.env.get("QUALITY_SHADOW_SETTLE_SECONDS", DEFAULT_SHADOW_SETTLE_S))
            scorer = ShadowScorer(log_path=workdir / SHADOW_SCORER_LOG, settle_s=settle_s)
        samples = measure(targets, cfg, workdir, graphql_url, token, scorer)
        if GRAPHQL_SHADOW in targets:
            shadow = {"execution": cfg["shadow_execution"], **project.shadow_counts(setup=setup)}
        completed = True
    except Exception:  # noqa: BLE001 - report what was measured, then fail
        log("the run failed:\n" + traceback.format_exc())
    finally:
        for process in processes:
            process.stop()
    table = summarize(samples)
    document = {
        "run_id": "suite-" + run_id(started_at),
        "mode": "quick" if args.quick else "full",
        "machine": machine_info(
            f"PostgreSQL ({urllib.parse.urlsplit(args.database_url).path.lstrip('/')})", load_average
        ),
        "load_average_at_end": round(os.getloadavg()[0], 2),
        "config": cfg,
        "results": table,
        "unavailable": unavailable,
        "shadow": shadow,
        "targets": targets_check(table),
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / f"{document['run_id']}.json").write_text(json.dumps(document, indent=2) + "\n")
    markdown = render(document)
    (args.results_dir / "suite-latest.md").write_text(markdown)
    print(markdown)
    if args.keep_temp or not completed:
        log(f"temp dir kept: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if completed and table else 1


if __name__ == "__main__":
    sys.exit(main())
