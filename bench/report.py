"""The pure parts of the harness: reading wrk's output, the targets, the markdown and the results file.

Standard library only, so the product's test suite can import it without the bench venv.
"""

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

SCHEMA_VERSION = 1
LUA_MARKER = "BENCH_JSON "
TARGET_CONCURRENCY = 16
# A 1-minute load average above this when the run starts means something else was using the CPUs.
BUSY_LOAD_AVERAGE = 0.5

# Measured targets, in the order they are reported.
PROJECT_GRAPHQL = "project-graphql"
PROJECT_REST = "project-rest"
FASTAPI = "fastapi"
MLSERVER = "mlserver"
LABELS = {
    PROJECT_GRAPHQL: "mlapi GraphQL",
    PROJECT_REST: "mlapi REST",
    FASTAPI: "FastAPI (tutorial)",
    MLSERVER: "MLServer (sklearn)",
}
PROJECT_ENDPOINTS = (PROJECT_GRAPHQL, PROJECT_REST)


class ParseError(ValueError):
    """wrk's output had neither the script's JSON line nor a readable summary."""


@dataclass(frozen=True)
class LevelResult:
    """One wrk run: one target at one concurrency."""

    target: str
    connections: int
    threads: int
    duration_s: float
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int
    error_detail: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict) -> "LevelResult":
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


# --- wrk output ---------------------------------------------------------------------------------


def parse_lua_summary(output: str, *, target: str, connections: int, threads: int) -> LevelResult:
    """The line printed by post.lua's done(): latencies in microseconds, every kind of error counted.

    Errors are socket errors (connect, read, write, timeout), responses outside 2xx, and 2xx bodies
    that match the error pattern. wrk's own "status" count (>= 400) is a subset of non_2xx.
    """
    lines = [line for line in output.splitlines() if line.startswith(LUA_MARKER)]
    if not lines:
        raise ParseError("no BENCH_JSON line in wrk's output")
    data = json.loads(lines[-1][len(LUA_MARKER) :])
    duration_s = data["duration_us"] / 1e6
    latency = data["latency_us"]
    detail = {name: int(count) for name, count in data["errors"].items() if name != "status"}
    return LevelResult(
        target=target,
        connections=connections,
        threads=threads,
        duration_s=round(duration_s, 3),
        requests=int(data["requests"]),
        rps=round(data["requests"] / duration_s, 2) if duration_s > 0 else 0.0,
        p50_ms=round(latency["p50"] / 1000, 3),
        p90_ms=round(latency["p90"] / 1000, 3),
        p99_ms=round(latency["p99"] / 1000, 3),
        errors=sum(detail.values()),
        error_detail=detail,
    )


_UNIT_TO_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_DURATION = re.compile(r"^([0-9]*\.?[0-9]+)(us|ms|s|m|h)$")


def duration_to_ms(text: str) -> float:
    """wrk's human durations ("812.00us", "1.23ms", "2.01s", "1.50m") in milliseconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ParseError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNIT_TO_MS[match.group(2)]


def parse_wrk_text(output: str, *, target: str, connections: int, threads: int) -> LevelResult:
    """wrk's own summary (run with --latency), for when the script's JSON line is missing.

    It cannot see 2xx bodies carrying errors, and counts 3xx as errors along with 4xx/5xx.
    """
    percentiles = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)\s*$", output, flags=re.M))
    totals = re.search(r"^\s*(\d+) requests in ([0-9.]+\w+),", output, flags=re.M)
    if not totals or len(percentiles) < 3:
        raise ParseError("wrk's summary has no request count or latency distribution (run with --latency)")
    requests = int(totals.group(1))
    duration_s = duration_to_ms(totals.group(2)) / 1000
    detail = {"connect": 0, "read": 0, "write": 0, "timeout": 0, "non_2xx": 0}
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket:
        detail.update(zip(("connect", "read", "write", "timeout"), map(int, socket.groups()), strict=True))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        detail["non_2xx"] = int(non_2xx.group(1))
    return LevelResult(
        target=target,
        connections=connections,
        threads=threads,
        duration_s=round(duration_s, 3),
        requests=requests,
        rps=round(requests / duration_s, 2) if duration_s > 0 else 0.0,
        p50_ms=round(duration_to_ms(percentiles["50"]), 3),
        p90_ms=round(duration_to_ms(percentiles["90"]), 3),
        p99_ms=round(duration_to_ms(percentiles["99"]), 3),
        errors=sum(detail.values()),
        error_detail=detail,
    )


def parse_wrk_output(output: str, *, target: str, connections: int, threads: int) -> LevelResult:
    try:
        return parse_lua_summary(output, target=target, connections=connections, threads=threads)
    except (ParseError, ValueError, KeyError):
        return parse_wrk_text(output, target=target, connections=connections, threads=threads)


# --- targets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetCheck:
    """`observed <comparison> factor × reference`, e.g. GraphQL req/s >= 0.5 × FastAPI req/s."""

    name: str
    comparison: str  # ">=" or "<="
    factor: float
    status: str  # PASS, MISS or N/A
    observed: float | None = None
    reference: float | None = None
    limit: float | None = None
    margin_pct: float | None = None  # headroom over the limit; negative: missed by that much
    note: str = ""

    @property
    def detail(self) -> str:
        if self.status == "N/A":
            return self.note
        if self.comparison == ">=":
            side = "above" if self.margin_pct >= 0 else "below"
        else:
            side = "under" if self.margin_pct >= 0 else "over"
        ratio = self.observed / self.limit
        text = (
            f"{fmt_number(self.observed)} vs limit {fmt_number(self.limit)} "
            f"({ratio:.2g}x the limit, {abs(self.margin_pct):.0f}% {side})"
        )
        return f"{text}; {self.note}" if self.note else text

    @property
    def summary(self) -> str:
        return f"{self.status}: {self.detail}"


def target_check(
    name: str,
    *,
    observed: float | None,
    reference: float | None,
    factor: float,
    comparison: str,
    errors: int = 0,
    missing: str = "",
) -> TargetCheck:
    """PASS or MISS, and by how much; N/A when a side was not measured. Errors on the subject fail it."""
    if comparison not in (">=", "<="):
        raise ValueError(f"comparison must be >= or <=, got {comparison!r}")
    if observed is None or reference is None:
        return TargetCheck(name, comparison, factor, "N/A", observed, reference, note=missing or "not measured")
    if reference <= 0:
        return TargetCheck(name, comparison, factor, "N/A", observed, reference, note="the reference measured 0")
    limit = factor * reference
    if comparison == ">=":
        passed = observed >= limit
        margin = (observed / limit - 1) * 100
    else:
        passed = observed <= limit
        margin = (1 - observed / limit) * 100
    note = ""
    if errors:
        passed, note = False, f"{errors} errors in the measured run"
    return TargetCheck(
        name, comparison, factor, "PASS" if passed else "MISS", observed, reference, limit, round(margin, 1), note
    )


def _level(levels: list[LevelResult], target: str, connections: int) -> LevelResult | None:
    for level in levels:
        if level.target == target and level.connections == connections:
            return level
    return None


def evaluate_targets(
    levels: list[LevelResult],
    batch: dict | None = None,
    *,
    unavailable: dict[str, str] | None = None,
    concurrency: int = TARGET_CONCURRENCY,
) -> list[TargetCheck]:
    """The ratios the project aims for, at `concurrency` connections and for 1,000-row batches.

    Per project endpoint: req/s >= MLServer's, req/s >= 0.5 x FastAPI's, p99 <= 2 x MLServer's;
    batch rows/s >= 0.5 x in-process predict_proba rows/s (the work the service does per row).
    """
    unavailable = unavailable or {}

    def why(*targets: str) -> str:
        reasons = [f"{LABELS.get(t, t)}: {unavailable[t]}" for t in targets if t in unavailable]
        return "; ".join(reasons) or f"no run at c={concurrency}"

    checks = []
    for endpoint in PROJECT_ENDPOINTS:
        mine = _level(levels, endpoint, concurrency)
        mlserver = _level(levels, MLSERVER, concurrency)
        fastapi = _level(levels, FASTAPI, concurrency)
        label = LABELS[endpoint]
        errors = mine.errors if mine else 0
        checks.append(
            target_check(
                f"{label} req/s at c={concurrency} >= MLServer",
                observed=mine and mine.rps,
                reference=mlserver and mlserver.rps,
                factor=1.0,
                comparison=">=",
                errors=errors,
                missing=why(endpoint, MLSERVER),
            )
        )
        checks.append(
            target_check(
                f"{label} req/s at c={concurrency} >= 0.5 x FastAPI",
                observed=mine and mine.rps,
                reference=fastapi and fastapi.rps,
                factor=0.5,
                comparison=">=",
                errors=errors,
                missing=why(endpoint, FASTAPI),
            )
        )
        checks.append(
            target_check(
                f"{label} p99 at c={concurrency} <= 2 x MLServer",
                observed=mine and mine.p99_ms,
                reference=mlserver and mlserver.p99_ms,
                factor=2.0,
                comparison="<=",
                errors=errors,
                missing=why(endpoint, MLSERVER),
            )
        )
    in_process = ((batch or {}).get("in_process") or {}).get("predict_proba_rows_per_s")
    for endpoint in PROJECT_ENDPOINTS:
        result = ((batch or {}).get("endpoints") or {}).get(endpoint) or {}
        if result.get("rows_per_s") is None:
            missing = result.get("note") or why(endpoint)
        else:
            missing = "no in-process baseline"
        checks.append(
            target_check(
                f"{LABELS[endpoint]} batch rows/s >= 0.5 x in-process",
                observed=result.get("rows_per_s"),
                reference=in_process,
                factor=0.5,
                comparison=">=",
                errors=result.get("errors", 0),
                missing=missing,
            )
        )
    return checks


# --- markdown -----------------------------------------------------------------------------------


def one_line(text: str, limit: int = 200) -> str:
    """A note fit for a table cell: first line, no pipes, at most `limit` characters."""
    first = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    first = first.replace("|", "/")
    return first if len(first) <= limit else first[: limit - 1] + "…"


def fmt_number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def markdown_table(header: list[str], rows: list[list[str]], *, numeric_from: int = 1) -> str:
    """Columns from `numeric_from` on are right-aligned."""
    align = ["---" if i < numeric_from else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(one_line(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def load_table(levels: list[LevelResult]) -> str:
    order = {target: i for i, target in enumerate(LABELS)}
    rows = [
        [
            LABELS.get(level.target, level.target),
            str(level.connections),
            fmt_number(level.rps),
            fmt_number(level.p50_ms),
            fmt_number(level.p90_ms),
            fmt_number(level.p99_ms),
            str(level.errors),
        ]
        for level in sorted(levels, key=lambda lv: (order.get(lv.target, len(order)), lv.target, lv.connections))
    ]
    return markdown_table(["Server", "Connections", "req/s", "p50 ms", "p90 ms", "p99 ms", "Errors"], rows)


IN_PROCESS_LABELS = {
    "predict_rows_per_s": "in-process predict",
    "predict_proba_rows_per_s": "in-process predict_proba",
    "json_roundtrip_rows_per_s": "in-process JSON in + predict_proba + JSON out",
}


def ms_per_batch(rows: int, rows_per_s: float) -> float | None:
    return rows / rows_per_s * 1000 if rows and rows_per_s else None


def batch_table(batch: dict) -> str:
    rows = []
    in_process = batch.get("in_process") or {}
    for key, label in IN_PROCESS_LABELS.items():
        if in_process.get(key) is not None:
            rows.append(
                [
                    label,
                    fmt_number(in_process[key]),
                    fmt_number(ms_per_batch(batch.get("rows", 0), in_process[key])),
                    "-",
                ]
            )
    for endpoint, result in (batch.get("endpoints") or {}).items():
        label = LABELS.get(endpoint, endpoint)
        if result.get("rows_per_s") is None:
            rows.append([label, "-", "-", result.get("note", "not measured")])
        else:
            rows.append(
                [
                    label,
                    fmt_number(result["rows_per_s"]),
                    fmt_number(result["ms_per_call"]),
                    str(result.get("errors", 0)),
                ]
            )
    return markdown_table(
        [f"Batch of {batch.get('rows', 0)} rows", "rows/s", "ms per call", "Errors / note"], rows, numeric_from=1
    )


def targets_section(checks: list[TargetCheck]) -> str:
    rows = [[check.name, check.status, check.detail] for check in checks]
    return markdown_table(["Target", "Result", "Detail"], rows, numeric_from=3)


def render_markdown(document: dict) -> str:
    """The whole report, from the results document alone (so any saved run can be re-rendered)."""
    machine, config = document["machine"], document["config"]
    levels = [LevelResult.from_dict(item) for item in document["load"]]
    parts = [
        f"# mlapi benchmark {document['run_id']} ({document['mode']})",
        "",
        f"{machine.get('cores')} cores, {machine.get('cpu_model', '?')}, {machine.get('memory_gib', '?')} GiB; "
        f"Python {machine.get('python')}; database {machine.get('database')}; {machine.get('wrk')}.",
        f"{config['workers']} workers per server; {config['duration_s']} s per level "
        f"after a {config['warmup_s']} s warm-up; "
        f"load generator and servers share the machine (loopback).",
    ]
    if config.get("gunicorn_cmd_args"):
        parts.append(f"The project's gunicorn also got GUNICORN_CMD_ARGS={config['gunicorn_cmd_args']!r}.")
    boots = (config.get("diagnostics") or {}).get("gunicorn_worker_boots")
    if boots and boots > config["workers"]:
        parts.append(
            f"The project's gunicorn booted {boots} workers for {config['workers']} slots: workers were recycled "
            f"(gunicorn.conf.py's max_requests) or died during the run, and requests waited meanwhile."
        )
    load_average = machine.get("load_average_at_start")
    if load_average is not None and load_average > BUSY_LOAD_AVERAGE:
        parts.append(
            f"**Warning:** load average {load_average} when the run started: other work shared the CPUs; "
            "do not compare these numbers."
        )
    parts += [
        "",
        "## Single-row predictions (wrk)",
        "",
        load_table(levels) if levels else "(no load results)",
    ]
    unavailable = {key: info["note"] for key, info in document["servers"].items() if info["status"] != "ok"}
    if unavailable:
        parts += ["", "Not measured:"] + [
            f"- {LABELS.get(key, key)}: {one_line(note)}" for key, note in unavailable.items()
        ]
    if document.get("batch"):
        parts += ["", "## Batches (Python loop client)", "", batch_table(document["batch"])]
    checks = [TargetCheck(**item) for item in document["targets"]]
    passed = sum(check.status == "PASS" for check in checks)
    parts += ["", f"## Targets ({passed}/{len(checks)} PASS)", "", targets_section(checks), ""]
    return "\n".join(parts)


# --- results document ---------------------------------------------------------------------------

DOCUMENT_KEYS = (
    "schema",
    "run_id",
    "mode",
    "started_at",
    "finished_at",
    "machine",
    "config",
    "servers",
    "load",
    "batch",
    "targets",
)
LEVEL_KEYS = tuple(LevelResult.__dataclass_fields__)


def run_id(moment: datetime) -> str:
    """A UTC timestamp that sorts and is safe in a file name: 20261123T183012Z."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def results_document(
    *,
    started_at: datetime,
    finished_at: datetime,
    mode: str,
    machine: dict,
    config: dict,
    servers: dict[str, dict],
    levels: list[LevelResult],
    batch: dict | None,
    targets: list[TargetCheck],
) -> dict:
    document = {
        "schema": SCHEMA_VERSION,
        "run_id": run_id(started_at),
        "mode": mode,
        "started_at": started_at.astimezone(UTC).isoformat(timespec="seconds"),
        "finished_at": finished_at.astimezone(UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "config": config,
        "servers": servers,
        "load": [asdict(level) for level in levels],
        "batch": batch,
        "targets": [asdict(check) for check in targets],
    }
    document_validate(document)
    return document


def document_validate(document: dict) -> None:
    """Raises ValueError when a results document lacks what the report and later comparisons read."""
    missing = [key for key in DOCUMENT_KEYS if key not in document]
    if missing:
        raise ValueError(f"results document lacks {missing}")
    for key in ("cores", "python", "database", "date"):
        if key not in document["machine"]:
            raise ValueError(f"machine info lacks {key!r}")
    for name, info in document["servers"].items():
        if info.get("status") not in ("ok", "unavailable", "skipped") or "note" not in info:
            raise ValueError(f"server {name!r} needs a status (ok, unavailable, skipped) and a note")
    for level in document["load"]:
        if set(level) != set(LEVEL_KEYS):
            raise ValueError(f"load entry has keys {sorted(level)}, expected {sorted(LEVEL_KEYS)}")
    for check in document["targets"]:
        if check.get("status") not in ("PASS", "MISS", "N/A"):
            raise ValueError(f"target {check.get('name')!r} has status {check.get('status')!r}")
    json.dumps(document, allow_nan=False)  # the file must be strict JSON
