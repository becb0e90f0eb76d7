"""A/B: this checkout against another commit, single-row iris createPrediction (GraphQL) at c=16.

    .venv/bin/python -m bench.ab --base HEAD~1 [--rounds 3] [--duration 10]

Both servers run as deployed (gunicorn.conf.py, production settings, PostgreSQL), each on its own fresh
database, and are measured in turns (A, B, A, B, ...) so that a busy moment of the shared machine skews
both alike; the report gives the medians and the ratio. Loopback only; it stops by itself.
"""

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.load import ERROR_LIST_PATTERN, Scenario, run_wrk
from bench.project import _PREPARE, PRODUCT_BIN, ROOT, SHADOWED_MODEL, access_token, database_reset, project_env
from bench.servers import LOOPBACK, ManagedProcess, free_port, wait_ready

QUERY = (
    'mutation($f: GenericScalar!) { createPrediction(input: {modelName: "iris", features: $f}) '
    "{ prediction { id output } cost { amount } errors { code } } }"
)
BATCH_QUERY = (
    'mutation($xs: [GenericScalar]!) { createPrediction(input: {modelName: "iris", instances: $xs}) '
    "{ predictions { id output } cost { amount } errors { code } } }"
)
FEATURES = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


def _checkout(ref: str, workdir: Path) -> Path:
    path = workdir / "base"
    subprocess.run(["git", "worktree", "add", "--detach", str(path), ref], cwd=ROOT, check=True, capture_output=True)
    return path


def _prepare(checkout: Path, name: str, workdir: Path, prefix: str) -> tuple[dict, dict]:
    url = f"postgres://postgres@127.0.0.1:5432/{prefix}_{name}"
    database_reset(url)
    env = project_env(database_url=url, media_root=workdir / f"media-{name}", base_env=dict(os.environ))
    result = subprocess.run(
        [
            str(PRODUCT_BIN / "python"),
            "manage.py",
            "shell",
            "--verbosity",
            "0",
            "-c",
            f"SHADOWED_MODEL = {SHADOWED_MODEL!r}\n" + _PREPARE,
        ],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    line = [x for x in result.stdout.splitlines() if x.startswith("BENCH_SETUP ")][-1]
    return env, json.loads(line.removeprefix("BENCH_SETUP "))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="HEAD~1")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--database-prefix", default="mlapi_bench_ab", help="databases <prefix>_head, <prefix>_base")
    parser.add_argument("--port-base", type=int, default=0, help="head on this port, base on the next (0: any free)")
    parser.add_argument(
        "--head-env", action="append", default=[], metavar="NAME=VALUE", help="extra environment for head"
    )
    parser.add_argument(
        "--base-env", action="append", default=[], metavar="NAME=VALUE", help="extra environment for base"
    )
    parser.add_argument("--query", default=QUERY)
    parser.add_argument(
        "--instances", type=int, default=0, help="a batch of this many iris rows per call instead of one"
    )
    parser.add_argument(
        "--lane",
        choices=("graphql", "persisted", "rest"),
        default="graphql",
        help="the query as text, its hash only (a trusted document), or REST predict",
    )
    args = parser.parse_args()
    extra_env = {name: dict(item.split("=", 1) for item in getattr(args, f"{name}_env")) for name in ("head", "base")}
    workdir = Path(tempfile.mkdtemp(prefix="mlapi-ab-"))
    base = _checkout(args.base, workdir)
    servers, scenarios = {}, {}
    try:
        for offset, (name, checkout) in enumerate((("head", ROOT), ("base", base))):
            env, setup = _prepare(checkout, name, workdir, args.database_prefix)
            env.update(extra_env[name])
            port = args.port_base + offset if args.port_base else free_port()
            argv = [
                str(PRODUCT_BIN / "gunicorn"),
                "mlapi.wsgi",
                "-c",
                str(checkout / "gunicorn.conf.py"),
                "-b",
                f"{LOOPBACK}:{port}",
            ]
            servers[name] = ManagedProcess(name, argv, env=env, cwd=checkout, log_path=workdir / f"{name}.log").start()
            url = f"http://{LOOPBACK}:{port}"
            wait_ready(servers[name], f"{url}/healthz", timeout_s=120)
            token = access_token(base_url=url, client_id=setup["client_id"], client_secret=setup["client_secret"])
            if args.instances:
                query = BATCH_QUERY
                variables = {"xs": [FEATURES] * args.instances}
            else:
                query, variables = args.query, {"f": FEATURES}
            payload: dict = {"query": query, "variables": variables}
            path = "/graphql/"
            if args.lane == "persisted":
                digest = hashlib.sha256(query.encode()).hexdigest()
                payload = {
                    "variables": variables,
                    "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}},
                }
            elif args.lane == "rest":
                payload = {"instances": variables["xs"]} if args.instances else {"features": FEATURES}
                path = "/api/v1/models/iris/predict"
            body = json.dumps(payload).encode()
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            scenarios[name] = Scenario(f"ab-{name}", f"{url}{path}", body, headers, ERROR_LIST_PATTERN)
            run_wrk(scenarios[name], connections=args.connections, duration_s=3, workdir=workdir)  # warm-up
        results: dict[str, list] = {"head": [], "base": []}
        load_start = os.getloadavg()
        for _ in range(args.rounds):
            for name in ("head", "base"):
                level = run_wrk(
                    scenarios[name], connections=args.connections, duration_s=args.duration, workdir=workdir
                )
                results[name].append(level)
                time.sleep(1)
    finally:
        for server in servers.values():
            server.stop()
        subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, capture_output=True)
    summary = {}
    for name, levels in results.items():
        summary[name] = {
            "rps": [round(level.rps, 1) for level in levels],
            "median_rps": round(statistics.median(level.rps for level in levels), 1),
            "median_p50_ms": round(statistics.median(level.p50_ms for level in levels), 2),
            "median_p99_ms": round(statistics.median(level.p99_ms for level in levels), 2),
            "errors": sum(level.errors for level in levels),
        }
    summary["ratio_head_to_base"] = round(summary["head"]["median_rps"] / summary["base"]["median_rps"], 3)
    # Each round's head/base pair ran back to back: the median of those ratios resists a busy moment best.
    pairs = [h.rps / b.rps for h, b in zip(results["head"], results["base"], strict=True) if b.rps]
    summary["round_ratios"] = [round(r, 3) for r in pairs]
    summary["median_round_ratio"] = round(statistics.median(pairs), 3) if pairs else None
    summary["base_ref"] = args.base
    summary["head_env"], summary["base_env"] = extra_env["head"], extra_env["base"]
    summary["instances_per_call"] = args.instances or 1
    summary["lane"] = args.lane
    if args.instances:
        for name in ("head", "base"):
            summary[name]["median_rows_per_s"] = round(summary[name]["median_rps"] * args.instances)
    summary["loadavg_start"], summary["loadavg_end"] = load_start, os.getloadavg()
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
