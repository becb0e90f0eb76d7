"""The interleaved suite's pure parts: CPU accounting from a /proc tree, medians and ratios, targets, the report.

No servers, no database: /proc is a directory made here, the samples are numbers."""

import json
import os

import pytest

from bench import cpu, suite

TICKS = os.sysconf("SC_CLK_TCK")


def _process(proc, pid, *, pgrp, ticks, title="python"):
    directory = proc / str(pid)
    directory.mkdir(parents=True, exist_ok=True)
    utime, stime, cutime, cstime = ticks
    # A command name with a space and a parenthesis, as a gunicorn worker's can be.
    (directory / "stat").write_text(
        f"{pid} (gunicorn: worker) x) S 1 {pgrp} {pgrp} 0 -1 4194560 1 0 0 0 "
        f"{utime} {stime} {cutime} {cstime} 20 0 1 0\n"
    )
    (directory / "cmdline").write_bytes(title.replace(" ", "\0").encode() + b"\0")


def test_proc_stat_fields_are_read_after_the_command_name(tmp_path):
    _process(tmp_path, 41, pgrp=40, ticks=(100, 50, 7, 3))
    stat = cpu.proc_stat_parse((tmp_path / "41" / "stat").read_text(), 41)
    assert (stat.pgrp, stat.cpu_seconds) == (40, pytest.approx(160 / TICKS))


def test_meter_counts_the_server_group_and_the_bench_databases_backends_only(tmp_path):
    # given: a server group (master + worker), another group, and backends of two databases
    _process(tmp_path, 40, pgrp=40, ticks=(10, 0, 0, 0))
    _process(tmp_path, 41, pgrp=40, ticks=(100, 0, 0, 0))
    _process(tmp_path, 99, pgrp=99, ticks=(500, 0, 0, 0))
    _process(
        tmp_path,
        200,
        pgrp=200,
        ticks=(20, 0, 0, 0),
        title="postgres: 15/main: postgres mlapi_bench 127.0.0.1(5000) idle",
    )
    _process(tmp_path, 201, pgrp=201, ticks=(20, 0, 0, 0), title="postgres: postgres mlapi_other 127.0.0.1(5001) idle")
    meter = cpu.CpuMeter(pgid=40, database="mlapi_bench", proc=tmp_path)
    meter.start()
    # when: the worker, the other group and both backends spend CPU; a new bench backend appears
    _process(tmp_path, 41, pgrp=40, ticks=(100 + TICKS, 0, 0, 0))
    _process(tmp_path, 99, pgrp=99, ticks=(500 + 10 * TICKS, 0, 0, 0))
    _process(
        tmp_path,
        200,
        pgrp=200,
        ticks=(20 + TICKS // 2, 0, 0, 0),
        title="postgres: postgres mlapi_bench 127.0.0.1(5000) idle",
    )
    _process(
        tmp_path,
        201,
        pgrp=201,
        ticks=(20 + 10 * TICKS, 0, 0, 0),
        title="postgres: postgres mlapi_other 127.0.0.1(5001) idle",
    )
    _process(
        tmp_path, 202, pgrp=202, ticks=(TICKS, 0, 0, 0), title="postgres: postgres mlapi_bench 127.0.0.1(5002) idle"
    )
    server, database = meter.stop()
    # then
    assert server == pytest.approx(1.0)
    assert database == pytest.approx(1.5, abs=1 / TICKS)


@pytest.mark.parametrize(
    ("title", "database"),
    [
        ("postgres: 15/main: postgres mlapi_bench 127.0.0.1(34852) idle", "mlapi_bench"),
        ("postgres: postgres mlapi_bench [local] INSERT", "mlapi_bench"),
        ("postgres: 15/main: checkpointer ", None),
        ("postgres: 15/main: walwriter", None),
        ("/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main", None),
    ],
)
def test_backend_titles_name_their_database(title, database):
    assert cpu.backend_database(title) == database


def _samples(rps, p50=2.0, p99=10.0, calls=1000, server_s=1.0, database_s=0.5):
    samples = suite.Samples()
    for value in rps:
        samples.add(rps=value, p50_ms=p50, p99_ms=p99, calls=calls, server_s=server_s, database_s=database_s, errors=0)
    return samples


def test_ratios_are_of_medians_measured_in_the_same_run_and_targets_follow():
    # given: three rounds each
    samples = {
        suite.GRAPHQL: {16: _samples([900, 1100, 1000], p99=30.0), 1: _samples([300, 300, 300], p50=1.0)},
        suite.MLSERVER: {16: _samples([1000, 5000, 900], p99=10.0), 1: _samples([500, 500, 500], p50=2.0)},
        suite.FASTAPI: {16: _samples([2000, 2000, 2000])},
        suite.BATCH_GRAPHQL: {1: _samples([30000, 20000, 26000], calls=5000)},
    }
    # when
    table = suite.summarize(samples)
    checks = {check["target"]: check for check in suite.targets_check(table)}
    # then: medians, not means (the 5000 outlier does not count)
    row = table[suite.GRAPHQL]["16"]
    assert (row["median_rps"], row["rps_vs_mlserver"], row["rps_vs_fastapi"]) == (1000, 1.0, 0.5)
    assert row["p99_vs_mlserver"] == 3.0
    assert row["server_cpu_us_per_call"] == 1000 and row["database_cpu_us_per_call"] == 500
    label = suite.LABELS[suite.GRAPHQL]
    assert checks[f"{label}: req/s at c=16 ≥ 1.0× MLServer"]["met"] is True
    assert checks[f"{label}: p99 at c=16 ≤ 1.5× MLServer's"]["met"] is False
    assert checks[f"{label}: p50 at c=1 ≤ MLServer's"]["met"] is True
    assert checks[f"{suite.LABELS[suite.BATCH_GRAPHQL]}: ≥ 25,000 rows/s"]["met"] is True


def test_report_shows_every_measured_variant_and_the_machine_load():
    table = suite.summarize({suite.GRAPHQL: {16: _samples([500])}, suite.MLSERVER: {16: _samples([1000])}})
    document = {
        "run_id": "suite-x",
        "mode": "quick",
        "load_average_at_end": 3.5,
        "machine": {
            "date": "2026-12-01",
            "cores": 2,
            "cpu_model": "cpu",
            "database": "PostgreSQL",
            "git_commit": "abc",
            "load_average_at_start": 1.0,
        },
        "config": {"rounds": 1, "duration_s": 2.0, "levels": [16], "workers": 2},
        "results": table,
        "unavailable": {suite.FASTAPI: "not installed"},
        "targets": suite.targets_check(table),
    }
    markdown = suite.render(document)
    assert "| mlapi GraphQL createPrediction | 16 | 500 | 0.50× |" in markdown
    assert "busy" in markdown and "not installed" in markdown and "MISS" in markdown
    json.dumps(document)  # the results file


def test_persisted_bodies_name_documents_the_server_trusts():
    from bench.batch import BATCH_GRAPHQL
    from mlapi.graphql_core.persisted import trusted_documents

    for query in (suite.GRAPHQL_SINGLE, BATCH_GRAPHQL):
        body = suite.persisted_body(query, {})
        assert trusted_documents()[body["extensions"]["persistedQuery"]["sha256Hash"]] == query


def test_the_shadow_target_compares_p50_on_and_off_at_c16_in_the_same_run():
    # given: shadow off and on, three rounds each
    samples = {
        suite.GRAPHQL: {16: _samples([1000, 1000, 1000], p50=10.0)},
        suite.GRAPHQL_SHADOW: {16: _samples([980, 990, 1000], p50=10.4)},
    }
    # when
    checks = {check["target"]: check for check in suite.targets_check(suite.summarize(samples))}
    # then
    check = checks[f"{suite.LABELS[suite.GRAPHQL_SHADOW]}: p50 at c=16 ≤ 1.05× shadow off (issue 16)"]
    assert (check["value"], check["met"]) == (1.04, True)
    samples[suite.GRAPHQL_SHADOW] = {16: _samples([900], p50=10.6)}
    checks = suite.targets_check(suite.summarize(samples))
    assert [c["met"] for c in checks if "shadow off" in c["target"]] == [False]


def test_a_targeted_run_names_its_variants_and_the_shadow_mode():
    cfg = suite.run_config(
        suite.parse_args(["--quick", "--variants", "mlapi-graphql,mlapi-graphql-shadow", "--shadow-execution", "beat"])
    )
    assert cfg["variants"] == [suite.GRAPHQL, suite.GRAPHQL_SHADOW] and cfg["shadow_execution"] == "beat"
    assert 'modelName: "iris-shadowed"' in suite.GRAPHQL_SHADOWED
    with pytest.raises(SystemExit):
        suite.run_config(suite.parse_args(["--variants", "nope"]))


def test_the_scorer_has_caught_up_only_after_an_empty_pass_that_began_once_the_rows_had_settled():
    from bench import project

    log = "\n".join(
        [
            "SHADOW_SCORED 0 in 0.002 s, pass began 1000.000",  # before the rows settled: proves nothing
            "SHADOW_SCORED 500 in 0.400 s, pass began 1011.000",  # scoring them
            "SHADOW_SCORED 0 in 0.002 s, pass began 1016.000",
        ]
    )
    assert project.shadow_scorer_caught_up(log, stored_before=1001.0, settle_s=10.0)
    assert not project.shadow_scorer_caught_up(log, stored_before=1007.0, settle_s=10.0)
    assert not project.shadow_scorer_caught_up(log.rsplit("\n", 1)[0], stored_before=1001.0, settle_s=10.0)


def test_the_suite_waits_for_the_scorer_and_gives_up_after_its_timeout(tmp_path):
    # given: a scorer log with no empty pass yet
    scorer = suite.ShadowScorer(log_path=tmp_path / "scorer.log", settle_s=0.0)
    scorer.log_path.write_text("SHADOW_SCORED 7 in 0.1 s, pass began 5.000\n")
    # when / then: it waits out its timeout, then returns once a late enough empty pass is logged
    assert suite.shadow_scorer_wait(scorer, stored_before=10.0, timeout_s=0.6) >= 0.6
    with scorer.log_path.open("a") as log:
        log.write("SHADOW_SCORED 0 in 0.1 s, pass began 11.000\n")
    assert suite.shadow_scorer_wait(scorer, stored_before=10.0, timeout_s=5.0) < 5.0  # found, not timed out
