"""The Kubernetes manifests under deploy/: valid for a pinned Kubernetes, and true to the code.

Every manifest is validated with kubernetes-validate against the Kubernetes version below
(strict: unknown fields fail). The other checks read the facts from the services' own code, not
from copies: the ports and routes come from the backend's and the gateway's settings and apps
(this environment) and from Rasa's and rasa-sdk's argument parsers and apps (Rasa's
environment, tests/deploy/rasa_side.py); the services a deployment needs from the Procfile; the
secrets from the settings, which refuse to start outside development without them.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RASA_PY = ROOT / ".venv" / "rasa" / "bin" / "python"
# The oldest Kubernetes release still maintained upstream when the manifests were written;
# everything used (apps/v1, autoscaling/v2, policy/v1, networking.k8s.io/v1, batch/v1 with
# ttlSecondsAfterFinished) is GA there.
KUBERNETES_VERSION = "1.33.0"
NAMESPACE = "pomocnik"
SECRET = "pomocnik-secrets"
# Built by deploy/docker/<name>.Dockerfile; each runs the Procfile services of one environment.
IMAGES = {"pomocnik-app": ".venv/app", "pomocnik-rasa": ".venv/rasa"}
# Procfile services not deployed, and why (the test fails if the reason stops being true).
NOT_DEPLOYED = {"mailsink": "development mail sink; the backend sends to the site's SMTP relay"}
# An environment variable carrying any of these is a secret: it must come from the Secret.
SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|KEY|AUTHORIZATION|DATABASE_URL|DB_URL|REDIS_URL")
LONG_RUNNING = ("Deployment",)
WORKLOADS = ("Deployment", "Job")


# ------------------------------------------------------------------------------- loading


def manifest_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*.yaml") if p.name != "kustomization.yaml")


def load_documents(paths: list[Path] | None = None) -> list[dict]:
    documents = []
    for path in paths or manifest_files():
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                document["__file__"] = str(path.relative_to(ROOT))
                documents.append(document)
    return documents


DOCUMENTS = load_documents()


def objects(kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in DOCUMENTS if d["kind"] == kind}


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def containers(workload: dict, init: bool = True) -> list[dict]:
    spec = pod_spec(workload)
    return [*(spec.get("initContainers", []) if init else []), *spec["containers"]]


def container_params() -> list:
    return [pytest.param(where, container, id=where) for where, container in all_containers()]


def all_containers() -> list[tuple[str, dict]]:
    found = []
    for kind in WORKLOADS:
        for name, workload in objects(kind).items():
            for container in containers(workload):
                found.append((f"{kind}/{name}/{container['name']}", container))
    return found


def main_container(name: str) -> dict:
    (container,) = [c for c in objects("Deployment")[name]["spec"]["template"]["spec"]["containers"]
                    if c["name"] == name]
    return container


def named_port(container: dict, name: str) -> int:
    return next(p["containerPort"] for p in container["ports"] if p["name"] == name)


def probe_port(container: dict, probe: str) -> int:
    port = container[probe]["httpGet"]["port"]
    return named_port(container, port) if isinstance(port, str) else port


def procfile() -> dict[str, list[str]]:
    services = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            services[name.strip()] = shlex.split(command)
    return services


# ------------------------------------------------------------------------------- environment


@pytest.fixture(scope="module")
def secret_values() -> dict[str, str]:
    """What an operator puts in the Secret (fresh random values, never committed)."""
    return {
        "BACKEND_SERVICE_TOKEN": secrets.token_urlsafe(48),
        "BACKEND_HMAC_SECRET": secrets.token_urlsafe(48),
        "GATEWAY_SECRET": secrets.token_urlsafe(48),
        "RASA_API_TOKEN": secrets.token_urlsafe(48),
        "TRACKER_SECRET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "BACKEND_DATABASE_URL": "postgresql+asyncpg://backend:pw@db.example:5432/backend",
        "GATEWAY_DATABASE_URL": "postgresql+asyncpg://gateway:pw@db.example:5432/gateway",
        "TRACKER_DB_URL": "postgresql://rasa:pw@db.example:5432/rasa",
        "REDIS_URL": "redis://:pw@redis.example:6379/0",
        "REDIS_PASSWORD": "pw",
        "MODEL_STORE_AUTHORIZATION": "Bearer " + secrets.token_urlsafe(24),
    }


SITE_VALUES = {
    "pomocnik-site": {
        "BACKEND_PUBLIC_URL": "https://pomoc.example.pl",
        "SMTP_HOST": "smtp-relay.example",
        "SMTP_PORT": "25",
        "MAIL_FROM": "iKsięgowość24 <no-reply@example.pl>",
        "REDIS_HOST": "redis.example",
        "REDIS_PORT": "6379",
        "GATEWAY_ALLOWED_ORIGINS": "",
    },
    "pomocnik-model": {
        "MODEL_URL": "https://models.example/pomocnik-0123.tar.gz",
        "MODEL_SHA256": "0" * 64,
    },
    "pomocnik-model-candidate": {
        "MODEL_URL": "https://models.example/pomocnik-4567.tar.gz",
        "MODEL_SHA256": "1" * 64,
    },
}


def resolved_env(container: dict, secret_values: dict[str, str]) -> dict[str, str]:
    """The container's environment as Kubernetes would build it from the manifests, the
    operator's Secret and site ConfigMaps."""
    config_maps = {name: cm["data"] for name, cm in objects("ConfigMap").items()}
    config_maps.update(SITE_VALUES)
    env = {}
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = variable["value"]
            continue
        source = variable["valueFrom"]
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            assert ref["name"] == SECRET
            env[variable["name"]] = secret_values[ref["key"]]
        else:
            ref = source["configMapKeyRef"]
            env[variable["name"]] = config_maps[ref["name"]][ref["key"]]
    return env


def expand(argv: list[str], env: dict[str, str]) -> list[str]:
    """Kubernetes' $(VAR) expansion in command and args."""
    return [re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), a) for a in argv]


# ------------------------------------------------------------------------------- validity


@pytest.mark.parametrize(
    "document", DOCUMENTS, ids=lambda d: f"{d['__file__']}:{d['kind']}/{d['metadata']['name']}"
)
def test_manifest_is_valid_kubernetes(document):
    resource = {k: v for k, v in document.items() if k != "__file__"}
    kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def test_validation_catches_a_broken_manifest():
    # The validator itself must be able to fail: a Deployment with a misspelt field.
    broken = {k: v for k, v in objects("Deployment")["gateway"].items() if k != "__file__"}
    broken = json.loads(json.dumps(broken))
    broken["spec"]["replica"] = broken["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("kustomization", sorted(DEPLOY.rglob("kustomization.yaml")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_kustomizations_list_existing_files(kustomization):
    listed = yaml.safe_load(kustomization.read_text())["resources"]
    for name in listed:
        assert (kustomization.parent / name).is_file(), name


def test_every_long_running_manifest_is_in_the_kustomization():
    listed = set(yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"])
    top_level = {p.name for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml"}
    assert top_level == listed
    jobs = set(yaml.safe_load((DEPLOY / "jobs" / "kustomization.yaml").read_text())["resources"])
    # The model check is applied on its own when a model is rolled out (docs/deployment.md).
    assert jobs == {"migrate.yaml"}


def test_everything_is_in_the_namespace():
    for document in DOCUMENTS:
        if document["kind"] != "Namespace":
            assert document["metadata"].get("namespace") == NAMESPACE, document["__file__"]


# ------------------------------------------------------------------------------- containers


@pytest.mark.parametrize("where, container", container_params())
def test_container_has_resources_and_pinned_image(where, container):
    requests = container.get("resources", {}).get("requests", {})
    limits = container.get("resources", {}).get("limits", {})
    assert {"cpu", "memory"} <= set(requests), f"{where}: requests {requests}"
    assert "memory" in limits, f"{where}: no memory limit"
    image, _, tag = container["image"].rpartition(":")
    assert image in IMAGES, where
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert tag == version, f"{where}: image tag {tag!r}, project version {version!r}"
    security = container.get("securityContext", {})
    assert security.get("allowPrivilegeEscalation") is False, where
    assert security.get("capabilities", {}).get("drop") == ["ALL"], where


@pytest.mark.parametrize("name", sorted(objects("Deployment")))
def test_long_running_container_has_probes(name):
    for container in objects("Deployment")[name]["spec"]["template"]["spec"]["containers"]:
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert "httpGet" in container.get(probe, {}), f"{name}/{container['name']}: {probe}"


@pytest.mark.parametrize("where, container", container_params())
def test_secrets_come_from_the_secret(where, container):
    for variable in container.get("env", []):
        source = variable.get("valueFrom", {})
        if SECRET_NAME.search(variable["name"]):
            assert "secretKeyRef" in source, f"{where}: {variable['name']} is not from a Secret"
        if "secretKeyRef" in source:
            assert source["secretKeyRef"]["name"] == SECRET, where
            assert source["secretKeyRef"]["key"] == variable["name"], where
    assert "envFrom" not in container, f"{where}: list variables one by one"


def test_no_secret_is_committed():
    assert not objects("Secret"), "the operator creates the Secret; none is committed"


def test_docs_create_every_secret_and_site_value():
    """docs/deployment.md's commands create every key the manifests read from the operator."""
    docs = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    wanted = {SECRET: set(), **{name: set() for name in SITE_VALUES}}
    for _, container in all_containers():
        for variable in container.get("env", []):
            source = variable.get("valueFrom", {})
            ref = source.get("secretKeyRef") or source.get("configMapKeyRef")
            if ref and ref["name"] in wanted:
                wanted[ref["name"]].add(ref["key"])
    assert wanted[SECRET] and all(wanted.values())
    for name, keys in wanted.items():
        kind = "secret generic" if name == SECRET else "configmap"
        command = re.split(rf"create {kind} {re.escape(name)}\s", docs, maxsplit=1)
        assert len(command) == 2, f"docs/deployment.md has no command creating {name}"
        block = command[1].split("```", 1)[0]
        for key in keys:
            assert f"--from-literal={key}=" in block, f"{name}: {key} missing in the docs command"


# ------------------------------------------------------------------------------- the services


def test_every_procfile_service_has_a_deployment():
    deployments = objects("Deployment")
    for name, argv in procfile().items():
        if name in NOT_DEPLOYED:
            assert name not in deployments
            continue
        assert name in deployments, f"Procfile service {name!r} has no Deployment"
        command = main_container(name)["command"]
        # "exec env VAR=value ... <interpreter or program> ...": what comes after the variables.
        interpreter = next(a for a in argv if a.startswith(".venv/"))
        program = argv[argv.index(interpreter):]
        environment = "/".join(interpreter.split("/")[:2])
        image = main_container(name)["image"].rpartition(":")[0]
        assert IMAGES[image] == environment, f"{name}: image {image} is not {environment}"
        if "-m" in program:
            module = program[program.index("-m") + 1]
            assert command[:3] == ["python", "-m", module], f"{name}: {command}"
        else:  # a console script, e.g. ".venv/rasa/bin/rasa run"
            assert command[:2] == [Path(interpreter).name, program[1]], f"{name}: {command}"


def test_the_mail_sink_is_replaced_by_the_sites_relay():
    env = {v["name"]: v for v in main_container("backend")["env"]}
    assert env["SMTP_HOST"]["valueFrom"]["configMapKeyRef"]["name"] == "pomocnik-site"
    assert "mailsink" not in json.dumps(DOCUMENTS)


def test_gateway_ports_and_probes_match_its_code(secret_values):
    from bot.gateway.app import create_app
    from bot.gateway.settings import Settings

    container = main_container("gateway")
    settings = Settings.from_env(resolved_env(container, secret_values))
    assert not settings.is_development
    assert settings.host == "0.0.0.0" and settings.metrics_host == "0.0.0.0"
    assert named_port(container, "http") == settings.port
    assert named_port(container, "metrics") == settings.metrics_port
    routes = {"/" + r.path.lstrip("/") for r in create_app(settings).router.routes}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert probe_port(container, probe) == settings.port
        assert container[probe]["httpGet"]["path"] in routes, probe


def test_backend_ports_and_probes_match_its_code(secret_values, monkeypatch):
    from backend.app import create_app
    from backend.settings import Settings

    container = main_container("backend")
    for key in [k for k in os.environ if k.startswith(("BACKEND_", "SMTP_", "MAIL_"))]:
        monkeypatch.delenv(key)
    for key, value in resolved_env(container, secret_values).items():
        monkeypatch.setenv(key, value)
    settings = Settings.from_env()  # refuses missing or development secrets in production
    assert not settings.is_development
    assert settings.host == "0.0.0.0" and settings.metrics_host == "0.0.0.0"
    assert named_port(container, "http") == settings.port
    assert named_port(container, "metrics") == settings.metrics_port
    routes = {"/" + r.path.lstrip("/") for r in create_app(settings, name="deploy_test").router.routes}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert probe_port(container, probe) == settings.port
        assert container[probe]["httpGet"]["path"] in routes, probe


@pytest.fixture(scope="module")
def rasa_side(secret_values) -> dict:
    """Rasa's and the action server's view of their containers (Rasa's environment)."""
    rasa, actions = main_container("rasa"), main_container("actions")
    rasa_env = resolved_env(rasa, secret_values)
    spec = {
        "rasa": {"argv": expand(rasa["command"] + rasa.get("args", []), rasa_env), "env": rasa_env,
                 "endpoints": objects("ConfigMap")["rasa-endpoints"]["data"]["endpoints.yml"]},
        "actions": {"argv": actions["command"] + actions.get("args", []),
                    "env": resolved_env(actions, secret_values)},
    }
    done = subprocess.run(
        [str(RASA_PY), str(Path(__file__).with_name("rasa_side.py"))], input=json.dumps(spec),
        capture_output=True, text=True, cwd=ROOT, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "RASA_TELEMETRY_ENABLED": "false"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(l for l in reversed(done.stdout.splitlines()) if l.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def test_rasa_ports_probes_and_endpoints_match_its_code(rasa_side, secret_values):
    side, container = rasa_side["rasa"], main_container("rasa")
    assert side["command"] == "rasa.cli.run.run"
    assert side["host"] == "0.0.0.0" and side["enable_api"]
    assert side["auth_token"] == secret_values["RASA_API_TOKEN"]
    assert named_port(container, "http") == side["port"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert probe_port(container, probe) == side["port"]
        assert container[probe]["httpGet"]["path"] in side["routes"], probe
    # The model the init container fetches is the one Rasa loads.
    (fetch,) = pod_spec(objects("Deployment")["rasa"])["initContainers"]
    assert side["model"] == fetch["command"][fetch["command"].index("--out") + 1]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert Path(side["model"]).parent == Path(mounts["models"])
    assert Path(side["endpoints_file"]).parent == Path(mounts["endpoints"])
    # The responses' most specific variation wins (bot/rasa_ext/nlg.py), as in endpoints.yml.
    assert side["nlg"] == "bot.rasa_ext.nlg.SpecificResponseGenerator"
    # Scale-out stores: the secret-protecting tracker store on PostgreSQL, the Redis lock store.
    assert side["tracker_store"] == "bot.rasa_ext.tracker_store.RedactingSQLTrackerStore"
    assert side["tracker_store_dialect"] == "postgresql"
    assert side["lock_store"] == "redis"
    assert side["lock_store_url"] == SITE_VALUES["pomocnik-site"]["REDIS_HOST"]
    assert side["lock_store_port"] == SITE_VALUES["pomocnik-site"]["REDIS_PORT"]
    assert side["lock_store_password"] == secret_values["REDIS_PASSWORD"]
    # TensorFlow's pools as Rasa set them from the container's variables (a misspelt name would
    # be ignored silently: unset, TensorFlow sizes them from the node's cores).
    env = {v["name"]: v.get("value") for v in container["env"]}
    assert side["tf_threads"] == {"intra": int(env["TF_INTRA_OP_PARALLELISM_THREADS"]),
                                  "inter": int(env["TF_INTER_OP_PARALLELISM_THREADS"])}


def test_actions_ports_and_probes_match_its_code(rasa_side):
    side, container = rasa_side["actions"], main_container("actions")
    assert side["environment"] != "development"
    assert side["host"] == "0.0.0.0" and side["metrics_host"] == "0.0.0.0"
    assert named_port(container, "http") == side["port"]
    assert named_port(container, "metrics") == side["metrics_port"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert probe_port(container, probe) == side["port"]
        assert container[probe]["httpGet"]["path"] in side["routes"], probe


def service_url_ok(url: str) -> None:
    """A URL one service uses for another names a Service and the port its pods listen on."""
    parts = urlsplit(url)
    assert parts.hostname in objects("Service"), f"{url}: no Service {parts.hostname!r}"
    service = objects("Service")[parts.hostname]
    ports = [p for p in service["spec"]["ports"] if p["port"] == parts.port]
    assert len(ports) == 1, f"{url}: Service {parts.hostname!r} has no port {parts.port}"
    target = ports[0]["targetPort"]
    assert named_port(main_container(parts.hostname), target) == parts.port


def test_service_urls_point_at_services_and_their_ports(rasa_side):
    service_url_ok(rasa_side["rasa"]["action_url"])
    assert urlsplit(rasa_side["rasa"]["action_url"]).path in rasa_side["actions"]["routes"]
    for name in ("gateway", "actions"):
        for variable in main_container(name)["env"]:
            if variable["name"] in ("RASA_URL", "BACKEND_URL"):
                service_url_ok(variable["value"])


def test_every_deployment_has_a_service_on_its_http_port():
    services = objects("Service")
    for name, deployment in objects("Deployment").items():
        service = services[name]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        for port in service["spec"]["ports"]:
            named_port(main_container(name), port["targetPort"])  # exists


def test_prometheus_annotations_name_the_metrics_port():
    for name, deployment in objects("Deployment").items():
        container = main_container(name)
        has_metrics = any(p["name"] == "metrics" for p in container["ports"])
        annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
        if has_metrics:
            assert int(annotations["prometheus.io/port"]) == named_port(container, "metrics")
        else:
            assert "prometheus.io/port" not in annotations


# ------------------------------------------------------------------------------- scaling


@pytest.mark.parametrize("name", ["gateway", "actions"])
def test_hpa_scales_the_deployment_on_cpu(name):
    hpa = objects("HorizontalPodAutoscaler")[name]
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", name)
    assert hpa["spec"]["minReplicas"] >= 2
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    # CPU utilisation is relative to the request: every container must have one.
    for container in containers(objects("Deployment")[name], init=False):
        assert container["resources"]["requests"]["cpu"]


def test_replicated_deployments_use_shared_stores(secret_values):
    """More than one replica only where the state is shared (no SQLite on a pod)."""
    for name, deployment in objects("Deployment").items():
        if deployment["spec"]["replicas"] > 1:
            env = resolved_env(main_container(name), secret_values)
            for key, value in env.items():
                if key.endswith(("DATABASE_URL", "DB_URL")):
                    assert not value.startswith("sqlite"), f"{name}: {key}"
            if name == "gateway":
                assert "REDIS_URL" in env  # fan-out between gateway replicas


# ------------------------------------------------------------------------------- network


def policies_for(labels: dict) -> list[dict]:
    return [
        p for p in objects("NetworkPolicy").values()
        if p["spec"]["podSelector"].get("matchLabels", {}).items() <= labels.items()
    ]


def test_default_deny_ingress():
    deny = [p for p in objects("NetworkPolicy").values()
            if p["spec"]["podSelector"] == {} and p["spec"]["policyTypes"] == ["Ingress"]]
    assert deny and all("ingress" not in p["spec"] for p in deny)


def allowed_sources(labels: dict, port_name: str) -> list:
    """Every `from` list (None = from anywhere) that lets traffic reach the named port."""
    sources = []
    for policy in policies_for(labels):
        for rule in policy["spec"].get("ingress", []):
            if any(p.get("port") == port_name for p in rule.get("ports", [])):
                sources.append(rule.get("from"))
    return sources


MONITORING = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]


@pytest.mark.parametrize("name", sorted(objects("Deployment")))
def test_metrics_reach_only_the_monitoring_namespace(name):
    deployment = objects("Deployment")[name]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    if any(p["name"] == "metrics" for p in main_container(name)["ports"]):
        assert allowed_sources(labels, "metrics") == [MONITORING]
    # Every policy rule names its ports: none opens the metrics port by accident.
    for policy in policies_for(labels):
        for rule in policy["spec"].get("ingress", []):
            assert rule.get("ports"), policy["metadata"]["name"]


def test_rasas_api_reaches_only_the_gateway():
    labels = objects("Deployment")["rasa"]["spec"]["template"]["metadata"]["labels"]
    gateway = objects("Deployment")["gateway"]["spec"]["template"]["metadata"]["labels"]
    (sources,) = allowed_sources(labels, "http")
    assert sources == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gateway"}}}]
    assert sources[0]["podSelector"]["matchLabels"].items() <= gateway.items()


def test_action_server_reaches_only_rasa():
    labels = objects("Deployment")["actions"]["spec"]["template"]["metadata"]["labels"]
    (sources,) = allowed_sources(labels, "http")
    assert sources == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "rasa"}}}]


# ------------------------------------------------------------------------------- jobs, images


def run_app_command(container: dict, secret_values: dict, database: Path) -> subprocess.CompletedProcess:
    """Runs an app-image container's command here, its databases replaced by an SQLite file."""
    env = resolved_env(container, secret_values)
    for key in ("BACKEND_DATABASE_URL", "GATEWAY_DATABASE_URL"):
        if key in env:
            env[key] = f"sqlite+aiosqlite:///{database}"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BACKEND_", "GATEWAY_"))}
    argv = list(container["command"])
    if argv[0] == "python":
        argv[0] = sys.executable
    elif argv[:2] == ["sh", "-c"]:
        # The init containers' loop: run its command once instead of waiting.
        argv = shlex.split(re.match(r"until (.*?); do", argv[2]).group(1))
        argv[0] = sys.executable
    return subprocess.run(argv, env={**base, **env}, cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("job, deployment", [("backend-migrate", "backend"),
                                             ("gateway-migrate", "gateway")])
def test_migration_job_brings_the_schema_the_deployment_waits_for(job, deployment, secret_values,
                                                                  tmp_path):
    """The Job's real command migrates; the Deployment's init container fails before, passes
    after (its command run once, with the manifests' environment, on SQLite)."""
    database = tmp_path / f"{deployment}.db"
    (migrate,) = containers(objects("Job")[job])
    (wait,) = pod_spec(objects("Deployment")[deployment])["initContainers"]
    before = run_app_command(wait, secret_values, database)
    assert before.returncode == 1, before.stdout + before.stderr
    done = run_app_command(migrate, secret_values, database)
    assert done.returncode == 0, done.stdout + done.stderr
    after = run_app_command(wait, secret_values, database)
    assert after.returncode == 0, after.stdout + after.stderr


@pytest.mark.parametrize("image, environment", sorted(IMAGES.items()))
def test_dockerfile_builds_from_the_lock_with_the_envs_python(image, environment):
    dockerfile = (DEPLOY / "docker" / f"{image.removeprefix('pomocnik-')}.Dockerfile").read_text()
    bases = set(re.findall(r"^FROM (\S+)", dockerfile, flags=re.M))
    assert len(bases) == 1, f"{image}: build and runtime stages on one base, got {bases}"
    (base,) = bases
    name, tag = base.split(":")
    assert name == "python" and tag != "latest"
    cfg = (ROOT / environment / "pyvenv.cfg").read_text()
    version = re.search(r"^version(?:_info)?\s*=\s*(\d+\.\d+)", cfg, flags=re.M).group(1)
    assert tag.startswith(version + "."), f"{image}: {base}, environment Python {version}"
    lock = f"requirements/{environment.split('/')[-1]}.lock"
    assert f"COPY {lock} {lock}" in dockerfile
    assert f"pip install -r {lock}" in dockerfile
    assert re.search(r"^USER 10001", dockerfile, flags=re.M)
    for _, container in all_containers():
        if container["image"].startswith(image + ":"):
            assert container.get("securityContext", {}).get("readOnlyRootFilesystem") is True
