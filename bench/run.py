"""The benchmark: the demo iris classifier served by this project, a tutorial FastAPI app and MLServer.

Run it through bench/run.sh (it makes bench/.venv and installs wrk), or from the repository root:

    bench/.venv/bin/python -m bench.run [--quick] [--sqlite | --database-url URL]

Each server is started on a free loopback port, warmed up, loaded by wrk at fixed concurrencies for a
fixed time, and stopped (its whole process group, also on errors and Ctrl-C). The project also gets
1,000-row batches from a Python loop client, compared with the model scoring in-process. Prints a
markdown report and writes bench/results/<run id>.json and .png, latest.png and latest.md.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import load, project, report
from bench.report import FASTAPI, MLSERVER, PROJECT_GRAPHQL, PROJECT_REST, LevelResult
from bench.servers import LOOPBACK, ManagedProcess, ServerError, cpu_count, free_port, http_json, wait_ready

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
IRIS_ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
GRAPHQL_SINGLE = (
    'mutation($f: GenericScalar!) { createPrediction(input: {modelName: "iris", features: $f}) '
    "{ prediction { id output } cost { amount } errors { code } } }"
)
GRAPHQL_SINGLE_INLINE = (
    'mutation { createPrediction(input: {modelName: "iris", features: '
    "{sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2}}) "
    "{ prediction { id output } cost { amount } errors { code } } }"
)
SERVER_CHOICES = ("project", "fastapi", "mlserver")
# The artifact was fitted on a DataFrame and the baselines get arrays: scikit-learn then warns on every
# call, and writing that to the log would slow them. The project silences the same warning itself.
QUIET_FEATURE_NAMES = "ignore:X does not have valid feature names"
MODES = {
    "quick": {"levels": [1, 16], "duration_s": 3.0, "warmup_s": 1.0, "batch_iterations": 3, "in_process_s": 0.5},
    "full": {"levels": [1, 16, 64], "duration_s": 20.0, "warmup_s": 3.0, "batch_iterations": 20, "in_process_s": 2.0},
}


_STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[bench {time.monotonic() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass
class Run:
    args: argparse.Namespace
    config: dict
    workdir: Path
    levels: list[LevelResult] = field(default_factory=list)
    servers: dict[str, dict] = field(default_factory=dict)
    scenarios: dict[str, dict] = field(default_factory=dict)
    batch: dict = field(default_factory=dict)
    database: str = "-"
    setup: project.ProjectSetup | None = None
    processes: list[ManagedProcess] = field(default_factory=list)
    diagnostics: dict = field(default_factory=dict)

    def mark(self, target: str, status: str, note: str = "", details: str = "") -> None:
        self.servers[target] = {"status": status, "note": report.one_line(note)}
        if status != "ok":
            log(
                f"{report.LABELS[target]}: {status}: {note}"
                + (f"\n--- its log ends with:\n{details}\n---" if details else "")
            )

    def fail(self, target: str, error: Exception) -> None:
        self.mark(target, "unavailable", str(error), getattr(error, "details", ""))

    def start(self, process: ManagedProcess) -> ManagedProcess:
        self.processes.append(process)
        log(f"starting {process.name}: {' '.join(process.argv[:3])} ...")
        return process.start()

    def stop(self, process: ManagedProcess) -> None:
        started = time.monotonic()
        process.stop()
        log(f"stopped {process.name} in {time.monotonic() - started:.1f} s")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: levels 1,16 for 3 s each (under 2 minutes)")
    db = parser.add_mutually_exclusive_group()
    db.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", project.DEFAULT_DATABASE_URL),
        help="PostgreSQL for the project; dropped and recreated each run, so its name must contain 'bench' "
        "(default: $BENCH_DATABASE_URL or %(default)s)",
    )
    db.add_argument("--sqlite", action="store_true", help="a SQLite file in the run's temp dir instead of PostgreSQL")
    parser.add_argument("--levels", help="comma-separated connection counts (default: 1,16,64; quick: 1,16)")
    parser.add_argument("--duration", type=float, help="seconds per level (default 20; quick 3)")
    parser.add_argument("--warmup", type=float, help="seconds of discarded load before the levels (default 3; quick 1)")
    parser.add_argument(
        "--workers", type=int, default=cpu_count(), help="workers per server (default: the cores, %(default)s)"
    )
    parser.add_argument("--servers", default=",".join(SERVER_CHOICES), help="subset of %(default)s")
    parser.add_argument("--batch-iterations", type=int, help="1,000-row calls per endpoint (default 20; quick 3)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--keep-temp", action="store_true", help="keep the temp dir (server logs, wrk output)")
    args = parser.parse_args(argv)
    unknown = set(args.servers.split(",")) - set(SERVER_CHOICES)
    if unknown:
        parser.error(f"unknown servers {sorted(unknown)}; choose from {SERVER_CHOICES}")
    return args


def run_config(args: argparse.Namespace) -> dict:
    mode = dict(MODES["quick" if args.quick else "full"])
    if args.levels:
        mode["levels"] = [int(level) for level in args.levels.split(",")]
    if args.duration:
        mode["duration_s"] = args.duration
    if args.warmup is not None:
        mode["warmup_s"] = args.warmup
    if args.batch_iterations:
        mode["batch_iterations"] = args.batch_iterations
    return {**mode, "workers": args.workers, "threads": "min(2, connections)", "batch_rows": 1000}


# --- measuring ----------------------------------------------------------------------------------


def measure(run: Run, scenario: load.Scenario) -> None:
    """Warm-up (discarded), then every level. A wrk failure becomes a ServerError for this target."""
    cfg = run.config
    run.scenarios[scenario.target] = load.scenario_json(scenario)
    connections = max(cfg["levels"])
    try:
        if cfg["warmup_s"] > 0:
            load.run_wrk(
                scenario, connections=connections, duration_s=cfg["warmup_s"], workdir=run.workdir / "wrk-warmup"
            )
        for connections in cfg["levels"]:
            result = load.run_wrk(
                scenario, connections=connections, duration_s=cfg["duration_s"], workdir=run.workdir / "wrk"
            )
            run.levels.append(result)
            log(
                f"{report.LABELS[scenario.target]:<20} c={connections:<3} {result.rps:8.1f} req/s  "
                f"p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms  errors {result.errors}"
            )
    except (RuntimeError, ValueError, subprocess.TimeoutExpired) as error:
        raise ServerError(f"wrk failed at c={connections}: {error}") from error
    run.mark(scenario.target, "ok")


def graphql_probe(base_url: str, headers: dict[str, str]) -> bytes:
    """The GraphQL body that works: the variable form, else the features inlined in the query."""
    problems = []
    for query, variables in ((GRAPHQL_SINGLE, {"f": IRIS_ROW}), (GRAPHQL_SINGLE_INLINE, None)):
        payload = {"query": query, **({"variables": variables} if variables else {})}
        status, data = http_json("POST", f"{base_url}/graphql/", payload=payload, headers=headers)
        result = ((data or {}).get("data") or {}).get("createPrediction") or {}
        if (
            status == 200
            and not (data or {}).get("errors")
            and result.get("errors") == []
            and (result.get("prediction") or {}).get("output")
        ):
            return json.dumps(payload).encode()
        problems.append(f"HTTP {status}: {json.dumps(data)[:300]}")
    raise ServerError("GraphQL createPrediction failed: " + " | ".join(problems))


def project_section(run: Run) -> None:
    from bench import batch

    cfg = run.config
    log("project: preparing the database and the bench client")
    database_url = None if run.args.sqlite else run.args.database_url
    try:
        run.setup = project.project_prepare(
            workdir=run.workdir, database_url=database_url, base_env=_clean_env(), log=log
        )
    except (project.SetupError, OSError, subprocess.SubprocessError) as error:
        run.mark(PROJECT_GRAPHQL, "unavailable", f"setup failed: {error}")
        run.mark(PROJECT_REST, "unavailable", "setup failed")
        return
    run.database = run.setup.database
    port = free_port()
    base_url = f"http://{LOOPBACK}:{port}"
    server = run.start(
        project.project_server(
            setup=run.setup, port=port, workers=cfg["workers"], log_path=run.workdir / "logs" / "gunicorn.log"
        )
    )
    try:
        took = wait_ready(server, f"{base_url}/readyz", timeout_s=90)
        log(f"gunicorn ready in {took:.1f} s")
        token = project.access_token(
            base_url=base_url, client_id=run.setup.client_id, client_secret=run.setup.client_secret
        )
        headers = {"Authorization": f"Bearer {token}"}
        try:
            body = graphql_probe(base_url, headers)
            measure(run, load.Scenario(PROJECT_GRAPHQL, f"{base_url}/graphql/", body, headers, load.ERROR_LIST_PATTERN))
        except (ServerError, OSError) as error:
            run.fail(PROJECT_GRAPHQL, error)
        try:
            rest_measure(run, base_url, headers)
        except (ServerError, OSError) as error:
            run.fail(PROJECT_REST, error)
        rows = batch.iris_rows(cfg["batch_rows"])
        run.batch.setdefault("endpoints", {})
        for target in (PROJECT_GRAPHQL, PROJECT_REST):
            if run.servers.get(target, {}).get("status") != "ok":
                run.batch["endpoints"][target] = {
                    "rows_per_s": None,
                    "note": run.servers.get(target, {}).get("note", "not measured"),
                }
                continue
            log(f"{report.LABELS[target]}: batches of {len(rows)} rows x {cfg['batch_iterations']}")
            try:
                result = batch.batch_endpoint(
                    target=target, base_url=base_url, token=token, rows=rows, iterations=cfg["batch_iterations"]
                )
            except (
                OSError,
                ValueError,
            ) as error:  # requests' errors are OSErrors; a body that is not JSON a ValueError
                result = {"rows_per_s": None, "note": f"failed: {type(error).__name__}: {error}"}
            run.batch["endpoints"][target] = result
            if result.get("rows_per_s") is not None:
                log(
                    f"{report.LABELS[target]:<20} batch {result['rows_per_s']:10.0f} rows/s  "
                    f"{result['ms_per_call']:.0f} ms per call"
                )
            else:
                log(f"{report.LABELS[target]}: batch {result['note']}")
    except (ServerError, OSError) as error:  # not ready, or no token
        for target in (PROJECT_GRAPHQL, PROJECT_REST):
            if target not in run.servers:
                run.fail(target, error)
    finally:
        run.stop(server)
        boots = server.log_text().count("Booting worker with pid")
        run.diagnostics["gunicorn_worker_boots"] = boots
        if boots > cfg["workers"]:
            log(
                f"gunicorn started {boots} workers for {cfg['workers']} slots: "
                "workers were recycled (max_requests) or died"
            )


def rest_measure(run: Run, base_url: str, headers: dict[str, str]) -> None:
    url = f"{base_url}/api/v1/models/iris/predict"
    status, data = http_json("POST", url, payload={"features": IRIS_ROW}, headers=headers)
    if status == 404:
        run.mark(PROJECT_REST, "skipped", "REST endpoint not available (POST /api/v1/models/iris/predict answered 404)")
    elif not 200 <= status < 300 or not (data or {}).get("prediction"):
        raise ServerError(f"REST probe answered HTTP {status}: {json.dumps(data)[:300]}")
    else:
        body = json.dumps({"features": IRIS_ROW}).encode()
        measure(run, load.Scenario(PROJECT_REST, url, body, headers, load.ERROR_LIST_PATTERN))


def fastapi_section(run: Run) -> None:
    artifact = run.setup.artifact if run.setup else None
    if artifact is None:
        run.mark(FASTAPI, "unavailable", "no artifact (the project's setup failed)")
        return
    port = free_port()
    base_url = f"http://{LOOPBACK}:{port}"
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
        str(run.config["workers"]),
    ]
    env = {**_clean_env(), "MODEL_PATH": str(artifact), "PYTHONUNBUFFERED": "1", "PYTHONWARNINGS": QUIET_FEATURE_NAMES}
    server = run.start(
        ManagedProcess("uvicorn (FastAPI)", argv, env=env, cwd=ROOT, log_path=run.workdir / "logs" / "fastapi.log")
    )
    try:
        took = wait_ready(server, f"{base_url}/health", timeout_s=60)
        log(f"FastAPI ready in {took:.1f} s")
        status, data = http_json("POST", f"{base_url}/predict", payload=IRIS_ROW)
        if status != 200 or not (data or {}).get("label"):
            raise ServerError(f"FastAPI /predict answered HTTP {status}: {json.dumps(data)[:300]}")
        measure(run, load.Scenario(FASTAPI, f"{base_url}/predict", json.dumps(IRIS_ROW).encode()))
    except (ServerError, OSError) as error:
        run.fail(FASTAPI, error)
    finally:
        run.stop(server)


def mlserver_request() -> dict:
    """A V2 inference request for one row, asking for predict_proba (label + probabilities' work)."""
    row = [IRIS_ROW[name] for name in ("sepal_length", "sepal_width", "petal_length", "petal_width")]
    return {
        "inputs": [{"name": "predict", "shape": [1, 4], "datatype": "FP32", "data": row}],
        "outputs": [{"name": "predict_proba"}],
    }


def mlserver_section(run: Run) -> None:
    artifact = run.setup.artifact if run.setup else None
    if artifact is None:
        run.mark(MLSERVER, "unavailable", "no artifact (the project's setup failed)")
        return
    mlserver_bin = Path(sys.executable).parent / "mlserver"
    if not mlserver_bin.exists():
        run.mark(MLSERVER, "unavailable", f"mlserver is not installed in {Path(sys.executable).parent}")
        return
    port = free_port()
    repo = run.workdir / "mlserver"
    (repo / "iris").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(artifact, repo / "iris" / "model.joblib")
    settings = {
        "debug": False,
        "host": LOOPBACK,
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_endpoint": None,  # no metrics server
        "parallel_workers": run.config["workers"],
        "model_repository_root": str(repo),
        "environments_dir": str(repo / ".envs"),
        "metrics_dir": str(repo / ".metrics"),
    }
    model_settings = {
        "name": "iris",
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib", "version": "v1"},
    }
    (repo / "settings.json").write_text(json.dumps(settings, indent=2))
    (repo / "iris" / "model-settings.json").write_text(json.dumps(model_settings, indent=2))
    base_url = f"http://{LOOPBACK}:{port}"
    env = {**_clean_env(), "PYTHONUNBUFFERED": "1", "PYTHONWARNINGS": QUIET_FEATURE_NAMES}
    server = run.start(
        ManagedProcess(
            "mlserver",
            [str(mlserver_bin), "start", str(repo)],
            env=env,
            cwd=repo,
            log_path=run.workdir / "logs" / "mlserver.log",
            # After SIGTERM its HTTP front waits for "background tasks" that never end: do not wait long.
            stop_grace_s=3.0,
        )
    )
    try:
        took = wait_ready(server, f"{base_url}/v2/models/iris/ready", timeout_s=90)
        log(f"MLServer ready in {took:.1f} s")
        infer_url = f"{base_url}/v2/models/iris/infer"
        status, data = http_json("POST", infer_url, payload=mlserver_request())
        outputs = (data or {}).get("outputs") or [{}]
        if status != 200 or outputs[0].get("name") != "predict_proba" or outputs[0].get("shape") != [1, 3]:
            raise ServerError(f"MLServer infer answered HTTP {status}: {json.dumps(data)[:300]}")
        measure(run, load.Scenario(MLSERVER, infer_url, json.dumps(mlserver_request()).encode()))
    except (ServerError, OSError) as error:
        run.fail(MLSERVER, error)
    finally:
        run.stop(server)


def in_process_section(run: Run) -> None:
    from bench import batch

    if run.setup is None:
        return
    rows = batch.iris_rows(run.config["batch_rows"])
    run.batch["rows"] = len(rows)
    run.batch["iterations"] = run.config["batch_iterations"]
    run.batch["in_process"] = batch.in_process_rates(
        artifact_path=run.setup.artifact, rows=rows, min_seconds=run.config["in_process_s"]
    )
    log(
        f"in-process: predict {run.batch['in_process']['predict_rows_per_s']:,.0f} rows/s, "
        f"predict_proba {run.batch['in_process']['predict_proba_rows_per_s']:,.0f} rows/s"
    )


# --- machine and output -------------------------------------------------------------------------


def _clean_env() -> dict[str, str]:
    """The caller's environment without anything that would point a server at another config."""
    # GUNICORN_CMD_ARGS is kept: it is how to try another gunicorn setting (e.g. --max-requests 0).
    drop = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "MEDIA_ROOT", "VIRTUAL_ENV", "PYTHONPATH")
    return {key: value for key, value in os.environ.items() if key not in drop and not key.startswith("MLSERVER_")}


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine_info(database: str, load_average: float) -> dict:
    cpu_model = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kib = next(
        (int(line.split()[1]) for line in _read("/proc/meminfo").splitlines() if line.startswith("MemTotal:")), 0
    )
    product_python = subprocess.run(
        [str(project.PRODUCT_BIN / "python"), "-V"], capture_output=True, text=True
    ).stdout.strip()
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = bool(
        subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True, text=True).stdout.strip()
    )
    return {
        "cores": cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "platform": platform.platform(),
        "python": product_python.removeprefix("Python ") or platform.python_version(),
        "bench_python": platform.python_version(),
        "database": database,
        "wrk": load.wrk_version(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": commit + ("+dirty" if dirty else "") if commit else "unknown",
        "load_average_at_start": load_average,
    }


def write_outputs(document: dict, results_dir: Path) -> tuple[Path, str]:
    results_dir.mkdir(parents=True, exist_ok=True)
    json_path = results_dir / f"{document['run_id']}.json"
    json_path.write_text(json.dumps(document, indent=2) + "\n")
    markdown = report.render_markdown(document)
    (results_dir / "latest.md").write_text(markdown)
    levels = [LevelResult.from_dict(item) for item in document["load"]]
    if levels:
        try:
            from bench.chart import chart_draw

            png = results_dir / f"{document['run_id']}.png"
            chart_draw(
                levels=levels,
                title=(
                    f"mlapi benchmark {document['run_id']} ({document['mode']}, {document['machine']['cores']} cores)"
                ),
                path=png,
            )
            shutil.copyfile(png, results_dir / "latest.png")
        except Exception as error:  # noqa: BLE001 - the numbers matter more than the picture
            log(f"chart not drawn: {type(error).__name__}: {error}")
    return json_path, markdown


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def measure_all(run: Run, selected: set[str]) -> bool:
    """Every selected section; False when the run itself failed (a server's failure is only noted)."""
    try:
        load.wrk_path()
        # The project is always prepared: it also provides the artifact the other servers load.
        if "project" in selected:
            project_section(run)
        else:
            run.setup = project.project_prepare(
                workdir=run.workdir,
                database_url=None if run.args.sqlite else run.args.database_url,
                base_env=_clean_env(),
                log=log,
            )
            run.database = run.setup.database
        in_process_section(run)
        if "fastapi" in selected:
            fastapi_section(run)
        if "mlserver" in selected:
            mlserver_section(run)
        return True
    except Exception:  # noqa: BLE001 - report what was measured, then fail
        log("the run failed:\n" + traceback.format_exc())
        return False
    finally:
        for process in run.processes:
            process.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    config = run_config(args)
    load_average = round(os.getloadavg()[0], 2)
    started_at = datetime.now(UTC)
    workdir = Path(tempfile.mkdtemp(prefix="mlapi-bench-"))
    run = Run(args=args, config=config, workdir=workdir)
    selected = set(args.servers.split(","))
    keep_temp = args.keep_temp
    if load_average > report.BUSY_LOAD_AVERAGE:
        log(f"warning: the machine is busy (load average {load_average}); the numbers will not be comparable")
    log(
        f"{'quick' if args.quick else 'full'} run: levels {config['levels']}, {config['duration_s']:g} s each, "
        f"{config['workers']} workers; temp dir {workdir}"
    )
    try:
        completed = measure_all(run, selected)
        keep_temp = keep_temp or not completed
        unavailable = {key: info["note"] for key, info in run.servers.items() if info["status"] != "ok"}
        document = report.results_document(
            started_at=started_at,
            finished_at=datetime.now(UTC),
            mode="quick" if args.quick else "full",
            machine=machine_info(run.database, load_average),
            config={
                **config,
                "scenarios": run.scenarios,
                "project_server": "gunicorn -c gunicorn.conf.py -w WORKERS -b 127.0.0.1:PORT (the deployed config)",
                "gunicorn_cmd_args": os.environ.get("GUNICORN_CMD_ARGS", ""),
                "diagnostics": run.diagnostics,
            },
            servers=run.servers,
            levels=run.levels,
            batch=run.batch or None,
            targets=report.evaluate_targets(run.levels, run.batch, unavailable=unavailable),
        )
        json_path, markdown = write_outputs(document, args.results_dir)
        print(markdown)
        log(
            f"wrote {json_path.relative_to(ROOT) if json_path.is_relative_to(ROOT) else json_path}, "
            "latest.md, latest.png"
        )
    finally:  # also on Ctrl-C and SIGTERM, after measure_all has stopped the servers
        if keep_temp:
            log(f"temp dir kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    measured_project = run.servers.get(PROJECT_GRAPHQL, {}).get("status") == "ok" or "project" not in selected
    return 0 if completed and measured_project else 1


if __name__ == "__main__":
    sys.exit(main())
