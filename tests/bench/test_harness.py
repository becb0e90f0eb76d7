"""The benchmark harness's pure parts: wrk output, targets, markdown, the results file, process groups.

These run under the product's venv: bench.report, bench.load and bench.servers use the standard
library only. No database, no network (one test binds a loopback port).
"""

import json
import os
import subprocess
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import report, run
from bench.load import Scenario, run_wrk, scenario_json, threads_for
from bench.report import FASTAPI, MLSERVER, PROJECT_GRAPHQL, PROJECT_REST, LevelResult
from bench.servers import ManagedProcess, free_port

# Real output of `wrk -t2 -c16 -d3s --latency -s bench/post.lua` against the project's /graphql/.
WRK_OUTPUT = (
    """Running 3s test @ http://127.0.0.1:18123/graphql/
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   114.78ms   23.59ms 194.84ms   75.60%
    Req/Sec    69.47     20.66   140.00     83.05%
  Latency Distribution
     50%  117.21ms
     75%  129.39ms
     90%  139.54ms
     99%  166.66ms
  414 requests in 3.01s, 305.65KB read
Requests/sec:    137.67
Transfer/sec:    101.64KB
"""
    'BENCH_JSON {"requests": 414, "duration_us": 3007142, "bytes": 312984, '
    '"latency_us": {"p50": 117210, "p90": 139537, "p99": 166661, "mean": 114784.1, "max": 194840}, '
    '"errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0, "status": 0, "non_2xx": 0, "body": 0}}\n'
)

WRK_TEXT_WITH_ERRORS = """Running 2s test @ http://127.0.0.1:8000/predict
  1 threads and 1 connections
  Latency Distribution
     50%  812.00us
     75%    1.01ms
     90%    1.50ms
     99%    2.01s
  2000 requests in 2.00s, 1.00MB read
  Socket errors: connect 1, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 40
Requests/sec:   1000.00
"""


def level(target, connections, rps, p99_ms=10.0, errors=0):
    return LevelResult(
        target=target,
        connections=connections,
        threads=threads_for(connections),
        duration_s=20.0,
        requests=int(rps * 20),
        rps=rps,
        p50_ms=p99_ms / 4,
        p90_ms=p99_ms / 2,
        p99_ms=p99_ms,
        errors=errors,
        error_detail={"non_2xx": errors},
    )


def full_levels(*, graphql_rps=400.0, graphql_p99=30.0, graphql_errors=0):
    return [
        level(PROJECT_GRAPHQL, 16, graphql_rps, graphql_p99, graphql_errors),
        level(PROJECT_REST, 16, 500.0, 20.0),
        level(FASTAPI, 16, 1000.0, 8.0),
        level(MLSERVER, 16, 450.0, 20.0),
    ]


def test_lua_summary_is_parsed_into_milliseconds_and_requests_per_second():
    # when
    result = report.parse_lua_summary(WRK_OUTPUT, target=PROJECT_GRAPHQL, connections=16, threads=2)

    # then
    assert result.requests == 414
    assert result.duration_s == pytest.approx(3.007, abs=0.001)
    assert result.rps == pytest.approx(414 / 3.007142, rel=1e-3)
    assert (result.p50_ms, result.p90_ms, result.p99_ms) == (117.21, 139.537, 166.661)
    assert result.errors == 0


def test_lua_summary_counts_socket_status_and_body_errors_once():
    # given: wrk's "status" (>= 400) is also inside non_2xx, so it must not be added twice
    line = (
        'BENCH_JSON {"requests": 100, "duration_us": 1000000, "bytes": 1, "latency_us": {"p50": 1000, "p90": 2000, '
        '"p99": 3000, "mean": 1.0, "max": 5000}, "errors": {"connect": 1, "read": 2, "write": 0, "timeout": 3, '
        '"status": 7, "non_2xx": 7, "body": 11}}'
    )
    stale = line.replace('"body": 11', '"body": 999')

    # when: an earlier line (e.g. the warm-up's) is followed by the run's own
    result = report.parse_lua_summary(f"{stale}\nnoise\n{line}\n", target=FASTAPI, connections=1, threads=1)

    # then
    assert result.errors == 1 + 2 + 3 + 7 + 11
    assert result.error_detail == {"connect": 1, "read": 2, "write": 0, "timeout": 3, "non_2xx": 7, "body": 11}


def test_wrk_text_summary_is_the_fallback_without_the_lua_line():
    # when
    result = report.parse_wrk_output(WRK_TEXT_WITH_ERRORS, target=FASTAPI, connections=1, threads=1)

    # then
    assert result.requests == 2000
    assert result.rps == 1000.0
    assert (result.p50_ms, result.p90_ms, result.p99_ms) == (0.812, 1.5, 2010.0)
    assert result.errors == 1 + 2 + 3 + 40


def test_output_without_any_summary_is_a_parse_error():
    with pytest.raises(report.ParseError):
        report.parse_wrk_output(
            "unable to connect to 127.0.0.1:1 Connection refused\n", target=FASTAPI, connections=1, threads=1
        )


@pytest.mark.parametrize(
    "text, expected_ms",
    [("812.00us", 0.812), ("1.23ms", 1.23), ("2.01s", 2010.0), ("1.50m", 90_000.0), ("3s", 3000.0)],
)
def test_wrk_durations_convert_to_milliseconds(text, expected_ms):
    assert report.duration_to_ms(text) == pytest.approx(expected_ms)


def test_unknown_duration_unit_is_rejected():
    with pytest.raises(report.ParseError):
        report.duration_to_ms("12parsecs")


def test_at_least_target_passes_and_misses_with_the_margin():
    passed = report.target_check("t", observed=600.0, reference=1000.0, factor=0.5, comparison=">=")
    missed = report.target_check("t", observed=400.0, reference=1000.0, factor=0.5, comparison=">=")

    assert (passed.status, passed.limit, passed.margin_pct) == ("PASS", 500.0, 20.0)
    assert (missed.status, missed.margin_pct) == ("MISS", -20.0)
    assert missed.summary == "MISS: 400 vs limit 500 (0.8x the limit, 20% below)"


def test_at_most_target_passes_and_misses_with_the_margin():
    passed = report.target_check("p99", observed=30.0, reference=20.0, factor=2.0, comparison="<=")
    missed = report.target_check("p99", observed=60.0, reference=20.0, factor=2.0, comparison="<=")

    assert (passed.status, passed.limit, passed.margin_pct) == ("PASS", 40.0, 25.0)
    assert (missed.status, missed.margin_pct) == ("MISS", -50.0)
    assert missed.summary == "MISS: 60.0 vs limit 40.0 (1.5x the limit, 50% over)"


def test_errors_in_the_measured_run_fail_a_target_the_numbers_would_pass():
    check = report.target_check("t", observed=900.0, reference=100.0, factor=1.0, comparison=">=", errors=3)

    assert check.status == "MISS"
    assert "3 errors" in check.note


@pytest.mark.parametrize("observed, reference", [(None, 100.0), (100.0, None)])
def test_a_side_not_measured_is_not_applicable(observed, reference):
    check = report.target_check(
        "t", observed=observed, reference=reference, factor=1.0, comparison=">=", missing="MLServer: down"
    )

    assert check.status == "N/A"
    assert check.detail == "MLServer: down"


def test_a_reference_of_zero_is_not_applicable_rather_than_infinite():
    check = report.target_check("t", observed=10.0, reference=0.0, factor=1.0, comparison=">=")

    assert check.status == "N/A"


def test_targets_compare_each_project_endpoint_at_concurrency_16():
    # given: GraphQL 400 req/s (< MLServer's 450, < half FastAPI's 1000: 500), p99 30 ms (<= 2 x 20)
    batch = {
        "rows": 1000,
        "in_process": {"predict_rows_per_s": 5e6, "predict_proba_rows_per_s": 4e6},
        "endpoints": {
            PROJECT_GRAPHQL: {"rows_per_s": 2.5e6, "ms_per_call": 0.4, "errors": 0},
            PROJECT_REST: {"rows_per_s": 1e6},
        },
    }
    levels = full_levels() + [level(PROJECT_GRAPHQL, 1, 9999.0)]  # other levels do not count

    # when
    checks = {check.name: check for check in report.evaluate_targets(levels, batch)}

    # then
    assert len(checks) == 8
    assert checks["mlapi GraphQL req/s at c=16 >= MLServer"].status == "MISS"
    assert checks["mlapi GraphQL req/s at c=16 >= 0.5 x FastAPI"].status == "MISS"
    assert checks["mlapi GraphQL p99 at c=16 <= 2 x MLServer"].status == "PASS"
    assert checks["mlapi REST req/s at c=16 >= MLServer"].status == "PASS"
    assert checks["mlapi REST req/s at c=16 >= 0.5 x FastAPI"].status == "PASS"
    assert checks["mlapi GraphQL batch rows/s >= 0.5 x in-process"].status == "PASS"  # 2.5M >= 0.5 x 4M
    assert checks["mlapi REST batch rows/s >= 0.5 x in-process"].status == "MISS"


def test_targets_name_why_a_server_was_not_measured():
    levels = [lv for lv in full_levels() if lv.target != MLSERVER]

    checks = report.evaluate_targets(levels, None, unavailable={MLSERVER: "mlserver exited with code 1"})

    against_mlserver = [check for check in checks if "MLServer" in check.name]
    assert {check.status for check in against_mlserver} == {"N/A"}
    assert all("mlserver exited with code 1" in check.note for check in against_mlserver)
    assert [check.status for check in checks if "batch" in check.name] == ["N/A", "N/A"]


def test_load_table_lists_servers_in_a_fixed_order_then_by_connections():
    levels = [
        level(MLSERVER, 16, 450.0),
        level(PROJECT_GRAPHQL, 16, 1234.5),
        level(PROJECT_GRAPHQL, 1, 87.25, errors=2),
    ]

    lines = report.load_table(levels).splitlines()

    assert lines[0] == "| Server | Connections | req/s | p50 ms | p90 ms | p99 ms | Errors |"
    assert lines[1] == "|---|---:|---:|---:|---:|---:|---:|"
    assert lines[2] == "| mlapi GraphQL | 1 | 87.2 | 2.50 | 5.00 | 10.0 | 2 |"
    assert lines[3].startswith("| mlapi GraphQL | 16 | 1,234 |")
    assert lines[4].startswith("| MLServer (sklearn) | 16 | 450 |")


def test_a_multi_line_note_becomes_one_table_safe_line():
    note = "mlserver exited | with code 1\nTraceback (most recent call last):\n..."

    assert report.one_line(note) == "mlserver exited / with code 1"
    assert len(report.one_line("x" * 500, limit=50)) == 50


def document(**overrides):
    levels = full_levels()
    batch = {"rows": 1000, "iterations": 3, "in_process": {"predict_proba_rows_per_s": 4e6}, "endpoints": {}}
    arguments = dict(
        started_at=datetime(2026, 11, 23, 18, 30, 5, tzinfo=UTC),
        finished_at=datetime(2026, 11, 23, 18, 31, 50, tzinfo=UTC),
        mode="quick",
        machine={
            "cores": 2,
            "python": "3.11.7",
            "database": "PostgreSQL 15",
            "date": "2026-11-23T18:31:50+00:00",
            "load_average_at_start": 0.1,
        },
        config={"levels": [1, 16], "duration_s": 3.0, "warmup_s": 1.0, "workers": 2},
        servers={
            PROJECT_GRAPHQL: {"status": "ok", "note": ""},
            PROJECT_REST: {"status": "skipped", "note": "REST endpoint not available (404)"},
        },
        levels=levels,
        batch=batch,
        targets=report.evaluate_targets(levels, batch),
    )
    arguments.update(overrides)
    return report.results_document(**arguments)


def test_results_document_has_the_documented_shape_and_is_strict_json():
    doc = document()

    assert tuple(doc) == report.DOCUMENT_KEYS
    assert doc["run_id"] == "20261123T183005Z"
    assert doc["schema"] == report.SCHEMA_VERSION
    assert set(doc["load"][0]) == set(report.LEVEL_KEYS)
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc
    assert [LevelResult.from_dict(item) for item in doc["load"]] == full_levels()


def test_results_document_without_machine_info_is_rejected():
    with pytest.raises(ValueError, match="database"):
        document(machine={"cores": 2, "python": "3.11", "date": "today"})


def test_results_document_with_an_unknown_server_status_is_rejected():
    with pytest.raises(ValueError, match="status"):
        document(servers={MLSERVER: {"status": "broken", "note": ""}})


def test_markdown_report_renders_from_the_document_alone():
    markdown = report.render_markdown(document())

    assert markdown.startswith("# mlapi benchmark 20261123T183005Z (quick)")
    assert "| mlapi GraphQL | 16 | 400 |" in markdown
    assert "- mlapi REST: REST endpoint not available (404)" in markdown
    passed = sum(check["status"] == "PASS" for check in document()["targets"])
    assert f"## Targets ({passed}/8 PASS)" in markdown
    assert "Warning" not in markdown


def test_markdown_report_warns_when_the_machine_was_busy():
    machine = {"cores": 2, "python": "3.11.7", "database": "SQLite", "date": "d", "load_average_at_start": 3.9}

    assert "load average 3.9" in report.render_markdown(document(machine=machine))


def test_markdown_report_says_when_gunicorn_recycled_workers():
    config = {
        "levels": [1, 16],
        "duration_s": 3.0,
        "warmup_s": 1.0,
        "workers": 2,
        "diagnostics": {"gunicorn_worker_boots": 6},
    }

    assert "booted 6 workers for 2 slots" in report.render_markdown(document(config=config))
    assert "booted" not in report.render_markdown(document())


def test_wrk_targets_loopback_only():
    scenario = Scenario(FASTAPI, "http://192.168.1.10:8000/predict", b"{}")

    with pytest.raises(ValueError, match="loopback"):
        run_wrk(scenario, connections=1, duration_s=1, workdir=None)


def test_wrk_threads_never_exceed_two_or_the_connections():
    assert [threads_for(c) for c in (1, 16, 64)] == [1, 2, 2]


def test_scenario_record_never_holds_the_token():
    scenario = Scenario(PROJECT_REST, "http://127.0.0.1:1/x", b'{"features": {}}', {"Authorization": "Bearer s3cret"})

    recorded = scenario_json(scenario)

    assert recorded["headers"] == {"Authorization": "<redacted>"}
    assert "s3cret" not in json.dumps(recorded)


def test_free_port_is_a_bindable_loopback_port():
    assert 1024 <= free_port() <= 65535


def test_stopping_a_server_stops_its_whole_process_group(tmp_path):
    # given: a leader that ignores SIGTERM and a child of its own, like a master and its worker
    pid_file = tmp_path / "child.pid"
    script = f"trap '' TERM; sleep 60 & echo $! > {pid_file}; wait"
    process = ManagedProcess(
        "group", ["bash", "-c", script], env={"PATH": os.environ["PATH"]}, cwd=tmp_path, log_path=tmp_path / "log"
    )
    process.start()
    for _ in range(100):
        if pid_file.exists() and pid_file.read_text().strip():
            break
        time.sleep(0.02)
    child = int(pid_file.read_text())

    # when
    process.stop(grace_s=0.5)

    # then: both are gone (the child may linger as a zombie of init for a moment)
    assert not process.alive
    state = subprocess.run(["ps", "-o", "stat=", "-p", str(child)], capture_output=True, text=True).stdout.strip()
    assert state in ("", "Z")


class NotFoundHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"detail": "Not found."}')

    def log_message(self, *args):
        pass


def test_a_rest_endpoint_that_answers_404_is_skipped_with_a_note(tmp_path):
    # given: a loopback server without the REST endpoint
    server = ThreadingHTTPServer(("127.0.0.1", 0), NotFoundHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state = run.Run(args=None, config=run.MODES["quick"], workdir=tmp_path)

    # when
    try:
        run.rest_measure(state, f"http://127.0.0.1:{server.server_port}", {"Authorization": "Bearer t"})
    finally:
        server.shutdown()
        server.server_close()

    # then: no load was sent, and the report will say why
    assert state.servers[PROJECT_REST]["status"] == "skipped"
    assert "REST endpoint not available" in state.servers[PROJECT_REST]["note"]
    assert state.levels == []
