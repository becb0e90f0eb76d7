"""The deployment files, read as the tools that use them would: no Docker, no cluster, no database.

Part of `make test`; alone: .venv/bin/python -m pytest tests/deploy -q
(they need no Django settings: add `-p no:django --noconftest` to run them without any).
"""

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import types
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
IMAGE_UID = 10001
WORKLOAD_KINDS = {"Deployment", "Job"}


# ---------------------------------------------------------------- helpers


def _k8s_docs():
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((path.name, doc))
    return docs


def _one(kind, name=None):
    found = [doc for _, doc in _k8s_docs() if doc["kind"] == kind and (name is None or doc["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def _workloads():
    return [doc for _, doc in _k8s_docs() if doc["kind"] in WORKLOAD_KINDS]


def _pod_spec(workload):
    return workload["spec"]["template"]["spec"]


def _containers(pod_spec):
    return pod_spec.get("initContainers", []) + pod_spec["containers"]


def _deployment(component):
    found = [
        doc
        for doc in _workloads()
        if doc["kind"] == "Deployment"
        and doc["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component") == component
    ]
    assert len(found) == 1, f"expected one {component} Deployment, found {len(found)}"
    return found[0]


def _compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _dockerfile_instructions():
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    return [tuple((line.split(None, 1) + [""])[:2]) for line in logical]


def _final_stage():
    instructions = _dockerfile_instructions()
    last_from = max(i for i, (word, _) in enumerate(instructions) if word.upper() == "FROM")
    return instructions[last_from:]


def _load_gunicorn_conf():
    spec = importlib.util.spec_from_file_location("gunicorn_conf_under_test", ROOT / "gunicorn.conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- kubernetes


def test_every_manifest_parses_and_names_kind_and_namespace():
    docs = _k8s_docs()
    namespace = _one("Namespace")["metadata"]["name"]

    assert {name for name, _ in docs} >= {
        "namespace.yaml",
        "configmap.yaml",
        "secret.example.yaml",
        "web-deployment.yaml",
        "web-service.yaml",
        "web-hpa.yaml",
        "worker-deployment.yaml",
        "beat-deployment.yaml",
        "migrate-job.yaml",
        "media-pvc.yaml",
        "network-policy.yaml",
    }
    for filename, doc in docs:
        assert doc.get("apiVersion") and doc.get("kind"), filename
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == namespace, f"{filename}: {doc['kind']}"


def test_every_container_requests_and_limits_cpu_and_memory():
    checked = 0
    for workload in _workloads():
        for container in _containers(_pod_spec(workload)):
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    assert resources.get(bound, {}).get(resource), (
                        f"{workload['metadata']['name']}/{container['name']}: no {bound}.{resource}"
                    )
            checked += 1
    assert checked >= 4  # web, worker, beat, migrate


def test_every_pod_runs_as_the_image_user_without_privilege_escalation():
    for workload in _workloads():
        name = workload["metadata"]["name"]
        pod_spec = _pod_spec(workload)
        pod_security = pod_spec.get("securityContext", {})
        assert pod_security.get("runAsUser") == IMAGE_UID, name
        assert pod_security.get("seccompProfile", {}).get("type") == "RuntimeDefault", name
        for container in _containers(pod_spec):
            security = {**pod_security, **container.get("securityContext", {})}
            where = f"{name}/{container['name']}"
            assert security.get("runAsNonRoot") is True, where
            assert security.get("runAsUser", 0) != 0, where
            assert container["securityContext"].get("allowPrivilegeEscalation") is False, where
            assert "ALL" in container["securityContext"].get("capabilities", {}).get("drop", []), where


def test_read_only_root_filesystems_get_a_writable_tmp():
    for workload in _workloads():
        pod_spec = _pod_spec(workload)
        empty_dirs = {v["name"] for v in pod_spec.get("volumes", []) if "emptyDir" in v}
        for container in _containers(pod_spec):
            where = f"{workload['metadata']['name']}/{container['name']}"
            assert container["securityContext"].get("readOnlyRootFilesystem") is True, where
            tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
            assert tmp and tmp[0]["name"] in empty_dirs, f"{where}: /tmp is not an emptyDir"


SECRET_MOUNT = "/run/secrets/mlapi"


def test_workloads_read_the_configmap_from_env_and_the_secret_from_files():
    configmap = _one("ConfigMap")
    secret = _one("Secret")

    for workload in _workloads():
        pod_spec = _pod_spec(workload)
        secret_volumes = {
            v["name"]
            for v in pod_spec["volumes"]
            if v.get("secret", {}).get("secretName") == secret["metadata"]["name"]
        }
        for container in _containers(pod_spec):
            where = f"{workload['metadata']['name']}/{container['name']}"
            assert container.get("envFrom") == [{"configMapRef": {"name": configmap["metadata"]["name"]}}], where
            assert not any("valueFrom" in variable for variable in container.get("env", [])), where
            mounts = [m for m in container["volumeMounts"] if m["name"] in secret_volumes]
            assert [(m["mountPath"], m.get("readOnly")) for m in mounts] == [(SECRET_MOUNT, True)], where
    assert configmap["data"]["DJANGO_SETTINGS_MODULE"] == "mlapi.settings.production"
    assert configmap["data"]["DEBUG"] == "false"


def test_every_secret_key_is_read_through_a_file_variable():
    keys = set(_one("Secret")["stringData"])
    configmap = _one("ConfigMap")["data"]
    file_variables = {name: path for name, path in configmap.items() if name.endswith("_FILE")}

    assert {name.removesuffix("_FILE") for name in file_variables} == keys
    for name, path in file_variables.items():
        assert path == f"{SECRET_MOUNT}/{name.removesuffix('_FILE')}", name
    # the settings know every one of them (mlapi/settings/env.py reads NAME from NAME_FILE)
    env_py = (ROOT / "mlapi" / "settings" / "env.py").read_text()
    for key in keys:
        assert f'"{key}"' in env_py, key


def test_images_are_pinned_by_digest_never_latest():
    images = {container["image"] for workload in _workloads() for container in _containers(_pod_spec(workload))}

    assert len(images) == 1, images  # one image for every role
    image = images.pop()
    name, digest = image.split("@")
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), image
    assert ":" in name.rsplit("/", 1)[-1] and not name.endswith(":latest"), image


def test_network_policies_deny_by_default_and_open_only_what_each_role_needs():
    policies = {doc["metadata"]["name"]: doc["spec"] for _, doc in _k8s_docs() if doc["kind"] == "NetworkPolicy"}
    deny = [spec for spec in policies.values() if spec["podSelector"] == {}]
    web_labels = _deployment("web")["spec"]["template"]["metadata"]["labels"]

    assert len(deny) == 1 and set(deny[0]["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny[0] and "egress" not in deny[0]
    ingress = [spec for spec in policies.values() if "ingress" in spec]
    assert len(ingress) == 1 and ingress[0]["podSelector"]["matchLabels"].items() <= web_labels.items()
    assert ingress[0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "web"
    assert [p["port"] for rule in ingress[0]["ingress"] for p in rule["ports"]] == [8000]
    egress_ports = {
        (p["protocol"], p["port"])
        for spec in policies.values()
        for rule in spec.get("egress", [])
        for p in rule["ports"]
    }
    assert egress_ports == {("UDP", 53), ("TCP", 53), ("TCP", 5432), ("TCP", 6379), ("TCP", 443)}
    for workload in _workloads():  # every app pod is covered by the egress policy
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert any(
            spec.get("egress") and spec["podSelector"]["matchLabels"].items() <= labels.items()
            for spec in policies.values()
        ), workload["metadata"]["name"]


def test_secret_example_holds_the_secrets_and_only_placeholders():
    secret = _one("Secret")
    values = secret["stringData"]
    configmap = _one("ConfigMap")["data"]

    assert {"SECRET_KEY", "DATABASE_URL", "PAYPAL_CLIENT_SECRET"} <= set(values)
    assert all("example" in value for value in values.values()), values
    assert not {"SECRET_KEY", "DATABASE_URL", "PAYPAL_CLIENT_SECRET"} & set(configmap)


def test_web_probes_readyz_for_readiness_and_healthz_for_liveness_on_8000():
    container = _pod_spec(_deployment("web"))["containers"][0]
    ports = {p.get("name"): p["containerPort"] for p in container["ports"]}

    def probe(kind):
        get = container[kind]["httpGet"]
        port = ports.get(get["port"], get["port"])  # a named port resolves to its number
        return get["path"], port

    assert probe("readinessProbe") == ("/readyz", 8000)
    assert probe("livenessProbe") == ("/healthz", 8000)
    assert probe("startupProbe") == ("/healthz", 8000)


def test_probes_host_header_is_an_allowed_host():
    allowed = _one("ConfigMap")["data"]["ALLOWED_HOSTS"].split(",")
    container = _pod_spec(_deployment("web"))["containers"][0]

    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        headers = {h["name"]: h["value"] for h in container[kind]["httpGet"].get("httpHeaders", [])}
        assert headers.get("Host") in allowed, kind


def test_web_deployment_runs_two_replicas_with_media_on_the_shared_claim():
    web = _deployment("web")
    pvc = _one("PersistentVolumeClaim")
    pod_spec = _pod_spec(web)
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod_spec["volumes"] if "persistentVolumeClaim" in v
    }
    mounts = {m["mountPath"]: m["name"] for m in pod_spec["containers"][0]["volumeMounts"]}

    assert web["spec"]["replicas"] == 2
    assert claims[mounts["/app/media"]] == pvc["metadata"]["name"]
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    worker_mounts = {m["mountPath"] for m in _pod_spec(_deployment("worker"))["containers"][0]["volumeMounts"]}
    assert "/app/media" in worker_mounts


def test_service_selects_the_web_pods_on_their_http_port():
    service = _one("Service")
    web = _deployment("web")
    pod_labels = web["spec"]["template"]["metadata"]["labels"]
    port_names = {p["name"] for p in _pod_spec(web)["containers"][0]["ports"]}

    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["selector"] == web["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] in port_names | {8000}


def test_hpa_scales_the_web_deployment_on_cpu():
    hpa = _one("HorizontalPodAutoscaler")
    web = _deployment("web")

    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": web["metadata"]["name"],
    }
    assert hpa["spec"]["minReplicas"] >= 2
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Resource"] == ["cpu"]


def test_worker_runs_celery_without_http_probes():
    container = _pod_spec(_deployment("worker"))["containers"][0]
    command = container.get("command", []) + container.get("args", [])

    assert command[:4] == ["celery", "-A", "mlapi", "worker"]
    for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert "httpGet" not in container.get(kind, {}), kind
    liveness = " ".join(container["livenessProbe"]["exec"]["command"])
    assert "inspect ping" in liveness and "celery@$HOSTNAME" in liveness
    assert container["livenessProbe"]["exec"]["command"][:2] == ["sh", "-c"]  # so $HOSTNAME expands


def test_beat_is_a_single_recreated_pod():
    beat = _deployment("beat")
    container = _pod_spec(beat)["containers"][0]
    command = container.get("command", []) + container.get("args", [])

    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"
    assert command[:4] == ["celery", "-A", "mlapi", "beat"]
    schedule = command[command.index("--schedule") + 1]
    assert schedule.startswith("/tmp/")  # the only writable place on a read-only root
    # liveness: beat answers celery's ping (remote control on) under its own node name
    assert "--enable-remote-control" in command
    liveness = container["livenessProbe"]["exec"]["command"]
    assert liveness[:2] == ["sh", "-c"] and "inspect ping -d celerybeat@$HOSTNAME" in liveness[2]


def test_migrate_job_runs_migrate_once_with_the_app_image():
    job = _one("Job")
    pod_spec = _pod_spec(job)
    container = pod_spec["containers"][0]
    web_image = _pod_spec(_deployment("web"))["containers"][0]["image"]

    assert container.get("command", []) + container.get("args", []) == [
        "python",
        "manage.py",
        "migrate",
        "--noinput",
    ]
    assert isinstance(job["spec"]["backoffLimit"], int) and job["spec"]["backoffLimit"] >= 1
    assert pod_spec["restartPolicy"] == "Never"
    assert container["image"] == web_image
    for workload in _workloads():
        if workload["kind"] == "Deployment":  # no replica migrates at start-up
            for other in _containers(_pod_spec(workload)):
                assert "migrate" not in other.get("command", []) + other.get("args", [])


# ---------------------------------------------------------------- docker compose


def test_compose_has_every_service():
    services = _compose()["services"]

    assert set(services) >= {"web", "worker", "beat", "postgres", "redis", "migrate"}
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "redis-cli" in " ".join(services["redis"]["healthcheck"]["test"])


def test_compose_starts_web_after_migrate_succeeded_and_redis_is_healthy():
    services = _compose()["services"]

    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["web"]["depends_on"]["redis"]["condition"] == "service_healthy"
    for name in ("worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_compose_app_services_share_image_env_and_media():
    services = _compose()["services"]
    app = ("web", "worker", "beat", "migrate")

    assert len({services[name]["image"] for name in app}) == 1
    for name in app:
        env = services[name]["environment"]
        assert env["DJANGO_SETTINGS_MODULE"] == "mlapi.settings.production", name
        assert env["SECRET_KEY"].startswith("${SECRET_KEY:?"), name  # required, no default
        assert env["DATABASE_URL"].startswith("postgres://"), name
        assert services[name]["read_only"] is True and "/tmp" in services[name]["tmpfs"], name
    for name in ("web", "worker"):
        assert "media:/app/media" in services[name]["volumes"], name
    assert services["worker"]["command"][:4] == ["celery", "-A", "mlapi", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "mlapi", "beat"]
    assert "--enable-remote-control" in services["beat"]["command"]
    assert "inspect ping -d celerybeat@$$HOSTNAME" in " ".join(services["beat"]["healthcheck"]["test"])
    assert services["web"]["ports"] == ["${WEB_PORT:-8000}:8000"]


# ---------------------------------------------------------------- Dockerfile and entrypoint


def test_dockerfile_is_multi_stage_with_a_slim_runtime():
    instructions = _dockerfile_instructions()
    stages = [args for word, args in instructions if word.upper() == "FROM"]

    assert len(stages) >= 2
    assert all(stage.startswith("python:3.11-slim") for stage in stages), stages
    final = _final_stage()
    assert any(word == "COPY" and args.startswith("--from=builder /opt/venv") for word, args in final)
    assert not any(word == "RUN" and "build-essential" in args for word, args in final)


def test_dockerfile_runs_as_a_fixed_non_root_user():
    users = [args for word, args in _final_stage() if word.upper() == "USER"]

    assert users, "no USER in the runtime stage"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert user == str(IMAGE_UID)


def test_dockerfile_collects_static_with_a_throwaway_secret_key_on_that_line_only():
    instructions = _dockerfile_instructions()
    collect = [args for word, args in instructions if word == "RUN" and "collectstatic" in args]

    assert len(collect) == 1 and re.match(r"SECRET_KEY=\S+ ", collect[0]), collect
    for word, args in instructions:
        if word.upper() in {"ENV", "ARG", "LABEL"}:
            assert "SECRET_KEY" not in args, f"{word} {args}"


def test_dockerfile_health_checks_healthz_and_exposes_8000():
    final = _final_stage()
    healthchecks = [args for word, args in final if word.upper() == "HEALTHCHECK"]

    assert ("EXPOSE", "8000") in final
    assert len(healthchecks) == 1
    command = json.loads(healthchecks[0].split("CMD", 1)[1])
    assert command[0] == "python" and "urllib" in command[2] and "/healthz" in command[2]


def test_dockerfile_enters_through_the_entrypoint_script():
    final = _final_stage()
    entrypoints = [json.loads(args) for word, args in final if word.upper() == "ENTRYPOINT"]

    assert entrypoints == [["/app/docker/entrypoint.sh"]]
    assert ("WORKDIR", "/app") in final
    assert ("CMD", '["web"]') in final
    script = (ROOT / "docker" / "entrypoint.sh").read_text()
    assert script.startswith("#!/bin/sh\n") and "set -eu" in script
    assert "exec gunicorn mlapi.wsgi -c gunicorn.conf.py" in script


def test_dockerignore_keeps_local_state_and_secrets_out():
    patterns = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}

    assert {".git", ".venv", "bench/.venv", ".env", "*.sqlite3", "media"} <= patterns
    assert "**/__pycache__" in patterns
    assert not patterns & {"docker", "gunicorn.conf.py", "requirements.txt", "manage.py", "mlapi"}


@pytest.fixture
def fake_bin(tmp_path):
    """A PATH directory whose gunicorn, python and celery only record how they were called."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for program in ("gunicorn", "python", "celery"):
        stub = bin_dir / program
        stub.write_text(f'#!/bin/sh\necho "{program} $*" >> "{log}"\n')
        stub.chmod(0o755)
    return bin_dir, log


def _run_entrypoint(fake_bin, *args, **env):
    bin_dir, log = fake_bin
    environ = {"PATH": f"{bin_dir}:/usr/bin:/bin", **env}
    result = subprocess.run(
        ["sh", str(ROOT / "docker" / "entrypoint.sh"), *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    calls = log.read_text().splitlines() if log.exists() else []
    return result, calls


@pytest.mark.parametrize("args", [(), ("web",)])
def test_entrypoint_execs_gunicorn_without_migrating(fake_bin, args):
    result, calls = _run_entrypoint(fake_bin, *args)

    assert result.returncode == 0, result.stderr
    assert calls == ["gunicorn mlapi.wsgi -c gunicorn.conf.py"]


def test_entrypoint_migrates_first_when_asked(fake_bin):
    result, calls = _run_entrypoint(fake_bin, RUN_MIGRATIONS="1")

    assert result.returncode == 0, result.stderr
    assert calls == [
        "python manage.py migrate --noinput",
        "gunicorn mlapi.wsgi -c gunicorn.conf.py",
    ]


def test_entrypoint_runs_any_other_command_as_given(fake_bin):
    command = shlex.split("celery -A mlapi worker -l info --concurrency 2")
    result, calls = _run_entrypoint(fake_bin, *command, RUN_MIGRATIONS="1")

    assert result.returncode == 0, result.stderr
    assert calls == [" ".join(command)]  # no migration outside the web role


# ---------------------------------------------------------------- gunicorn.conf.py


def test_gunicorn_workers_and_threads_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("GUNICORN_WORKERS", "5")
    monkeypatch.setenv("GUNICORN_THREADS", "4")
    monkeypatch.setenv("PORT", "9000")

    conf = _load_gunicorn_conf()

    assert conf.workers == 5
    assert conf.threads == 4
    assert conf.worker_class == "gthread"
    assert conf.bind == "0.0.0.0:9000"


def test_gunicorn_defaults_to_one_threaded_worker_per_cpu(monkeypatch):
    for name in ("GUNICORN_WORKERS", "GUNICORN_THREADS", "PORT"):
        monkeypatch.delenv(name, raising=False)

    conf = _load_gunicorn_conf()

    assert conf.workers == min(len(os.sched_getaffinity(0)), 8)  # one per CPU this process may use, capped at 8
    assert conf.threads == 2 and conf.worker_class == "gthread"
    assert conf.bind == "0.0.0.0:8000"
    assert conf.accesslog is None
    assert conf.timeout == 30 and conf.max_requests > 0 and conf.max_requests_jitter > 0


@pytest.mark.parametrize("value", ["0", "many"])
def test_gunicorn_refuses_a_bad_worker_count(monkeypatch, value):
    monkeypatch.setenv("GUNICORN_WORKERS", value)

    with pytest.raises(ValueError):
        _load_gunicorn_conf()


def test_gunicorn_conf_names_only_real_settings():
    from gunicorn.config import Config

    conf = _load_gunicorn_conf()
    config = Config()
    names = [name for name, value in vars(conf).items() if not name.startswith("_") and not isinstance(value, type(os))]

    assert "post_fork" in names and "workers" in names
    for name in names:
        assert name in config.settings, f"gunicorn ignores unknown setting {name!r}"
        config.set(name, getattr(conf, name))  # runs gunicorn's own validation
    assert config.control_socket_disable is True


class _RecordingLog:
    def __init__(self):
        self.records = []

    def info(self, msg, *args):
        self.records.append(("info", msg % args))

    def exception(self, msg, *args):
        self.records.append(("exception", msg % args))


class _Worker:
    pid = 4242

    def __init__(self):
        self.log = _RecordingLog()


def _fake_registry(monkeypatch, warm_start):
    """Stand-ins for the app's predictions.registry.cache (the real one needs a database)."""
    for name in ("predictions", "predictions.registry", "predictions.registry.cache"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    sys.modules["predictions.registry.cache"].production_models_warm_start = warm_start


@pytest.mark.parametrize(
    ("apps_ready", "expected"),
    [(False, ["django.setup", "warm"]), (True, ["warm"])],  # fresh worker / Django already set up
)
def test_post_fork_sets_django_up_if_needed_then_starts_the_background_warm_up(monkeypatch, apps_ready, expected):
    import django
    from django.apps import apps

    calls = []
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "mlapi.settings.test")
    monkeypatch.setattr(apps, "ready", apps_ready)
    monkeypatch.setattr(django, "setup", lambda: calls.append("django.setup"))

    def warm_start():
        calls.append("warm")
        return True  # the thread started: post_fork returns without waiting for the models

    _fake_registry(monkeypatch, warm_start)
    worker = _Worker()

    _load_gunicorn_conf().post_fork(server=None, worker=worker)

    assert calls == expected
    assert worker.log.records == [("info", "worker 4242: production model warm-up started in the background")]


def test_post_fork_logs_a_failed_warm_up_and_keeps_the_worker(monkeypatch):
    import django

    def broken_warm():
        raise RuntimeError("cannot start a thread")

    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "mlapi.settings.test")
    monkeypatch.setattr(django, "setup", lambda: None)  # whether or not pytest-django set it up
    _fake_registry(monkeypatch, broken_warm)
    worker = _Worker()

    _load_gunicorn_conf().post_fork(server=None, worker=worker)  # does not raise

    assert [level for level, _ in worker.log.records] == ["exception"]
    assert "4242" in worker.log.records[0][1]


def test_rabbitmq_is_the_broker_in_compose_and_in_the_secret_example():
    services = _compose()["services"]
    secret = _one("Secret")["stringData"]

    assert services["rabbitmq"]["image"].startswith("rabbitmq:3")
    assert "rabbitmq-diagnostics" in services["rabbitmq"]["healthcheck"]["test"]
    for name in ("web", "worker", "beat"):
        assert services[name]["environment"]["CELERY_BROKER_URL"].startswith("amqp://"), name
        assert services[name]["depends_on"]["rabbitmq"]["condition"] == "service_healthy", name
    assert secret["CELERY_BROKER_URL"].startswith("amqp://")
