"""The image, the compose file and the Kubernetes manifests, checked without Docker, a cluster or kubectl.

Core objects are validated against the schemas of the oldest Kubernetes the docs claim and
of the newest kubernetes-validate knows (strict: unknown fields are errors); then the parts
must fit together: probes on the gateway's real endpoints that tolerate a slow answer, a
grace period longer than the drain, a preStop wait older clusters can run, the config mounted
so that edits reach the running gateway, the spend ledger on a volume, a memory limit that
holds the workers, no placeholder Secret applied over the real one, and the embedded config
itself valid. The Dockerfile is read too: a base image pinned by digest, installs from the
lock only, a health check that runs in a slim image.
"""

from __future__ import annotations

import http.server
import json
import re
import shlex
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

import kubernetes_validate
import pytest
import yaml

from router.config import parse_config
from tests.conftest import REPO

KUBE = REPO / "deploy" / "kubernetes"
# The oldest Kubernetes the docs claim (the oldest whose schemas kubernetes-validate ships;
# everything used is GA there: autoscaling/v2, policy/v1, startupProbe, seccompProfile).
OLDEST_KUBERNETES = "1.25.0"
KUBERNETES_VERSIONS = (OLDEST_KUBERNETES, kubernetes_validate.latest_version())
MiB = 1024**2
# Measured RSS of `raceway serve --workers 2`, idle: the supervisor and its helper process
# ~55 MiB; a worker ~55 MiB, and ~210 MiB once litellm is imported.
SUPERVISOR_MEMORY = 60 * MiB
WORKER_MEMORY_WITH_LITELLM = 220 * MiB


def manifests() -> dict[str, dict[str, Any]]:
    kustomization = yaml.safe_load((KUBE / "kustomization.yaml").read_text())
    documents = {}
    for name in kustomization["resources"]:
        document = yaml.safe_load((KUBE / name).read_text())
        documents[document["kind"]] = document
    return documents


MANIFESTS = manifests()
SECRET_EXAMPLE: dict[str, Any] = yaml.safe_load((KUBE / "secret.example.yaml").read_text())


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (INSTRUCTION, arguments), continuation lines joined."""
    instructions, pending = [], ""
    for line in (REPO / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1]
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


DOCKERFILE = dockerfile()


def image_env() -> dict[str, str]:
    """The image's environment, as its ENV instructions set it."""
    env: dict[str, str] = {}
    for kind, arguments in DOCKERFILE:
        if kind == "ENV":
            env.update(token.partition("=")[::2] for token in shlex.split(arguments))
    return env


def image_probe() -> list[str]:
    """The exec-form command of the image's HEALTHCHECK."""
    (check,) = [arguments for kind, arguments in DOCKERFILE if kind == "HEALTHCHECK"]
    _, _, command = check.partition("CMD ")
    probe: list[str] = json.loads(command)  # exec form: no shell in the way
    return probe


def container() -> dict[str, Any]:
    (only,) = MANIFESTS["Deployment"]["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = only
    return result


def pod_volume(name: str) -> dict[str, Any]:
    volumes = MANIFESTS["Deployment"]["spec"]["template"]["spec"]["volumes"]
    result: dict[str, Any] = next(v for v in volumes if v["name"] == name)
    return result


def embedded_config() -> Any:
    raw = MANIFESTS["ConfigMap"]["data"]["gateway.yaml"].encode()
    return parse_config(raw, SECRET_EXAMPLE["stringData"])  # the placeholders have the right shape


def operations_section(title: str) -> str:
    """A section of docs/operations.md, where the Kubernetes manifests are documented."""
    page = (REPO / "docs" / "operations.md").read_text()
    return page.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def memory(quantity: str) -> int:
    units = {"Ki": 1024, "Mi": MiB, "Gi": 1024 * MiB}
    number, unit = re.fullmatch(r"(\d+)(Ki|Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
    return int(number) * units[unit]


# Every core object, and the example Secret too: it must still be a valid Secret.
CORE_OBJECTS = {kind: doc for kind, doc in MANIFESTS.items() if kind != "ServiceMonitor"} | {
    "Secret": SECRET_EXAMPLE
}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("kind", sorted(CORE_OBJECTS))
def test_core_objects_match_the_kubernetes_schema(kind: str, version: str) -> None:
    kubernetes_validate.validate(CORE_OBJECTS[kind], version, strict=True)


def test_the_docs_claim_the_oldest_version_the_manifests_are_validated_against() -> None:
    major_minor = OLDEST_KUBERNETES.rsplit(".", 1)[0]
    assert f"Kubernetes {major_minor} or newer" in operations_section("Kubernetes")
    assert OLDEST_KUBERNETES in kubernetes_validate.utils.all_versions()


def test_every_listed_file_exists_and_every_file_is_listed() -> None:
    kustomization = yaml.safe_load((KUBE / "kustomization.yaml").read_text())
    on_disk = {path.name for path in KUBE.glob("*.yaml")} - {"kustomization.yaml"}
    examples = {name for name in on_disk if name.endswith(".example.yaml")}
    assert set(kustomization["resources"]) == on_disk - examples


def test_the_secret_is_an_example_that_apply_never_sends() -> None:
    # Applied, placeholders would overwrite the real Secret on every `kubectl apply -k`.
    assert "Secret" not in MANIFESTS
    assert SECRET_EXAMPLE["kind"] == "Secret"
    assert {"secretRef": {"name": SECRET_EXAMPLE["metadata"]["name"]}} in container()["envFrom"]
    # It holds exactly what the config references, and both the example and the docs say
    # how to create the real one with every key.
    referenced = set(re.findall(r"\$\{(\w+)\}", MANIFESTS["ConfigMap"]["data"]["gateway.yaml"]))
    assert set(SECRET_EXAMPLE["stringData"]) == referenced
    for text in ((KUBE / "secret.example.yaml").read_text(), operations_section("Kubernetes")):
        assert f"create secret generic {SECRET_EXAMPLE['metadata']['name']}" in text
        assert {name for name in referenced if f"--from-literal={name}=" in text} == referenced


def test_probes_use_the_gateways_endpoints_on_its_port() -> None:
    spec = container()
    ports = {port["name"]: port["containerPort"] for port in spec["ports"]}
    assert spec["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert spec["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    bind = spec["args"][spec["args"].index("--bind") + 1]
    assert bind == f"0.0.0.0:{ports['http']}"


def test_probes_tolerate_a_slow_answer_and_readiness_still_notices_a_drain() -> None:
    readiness, liveness = container()["readinessProbe"], container()["livenessProbe"]
    # One slow or lost answer drops nothing: several misses in a row, each given 2 s.
    assert readiness["failureThreshold"] >= 3 and readiness["timeoutSeconds"] >= 2
    assert readiness["periodSeconds"] > readiness["timeoutSeconds"]  # one probe at a time
    assert liveness.get("failureThreshold", 3) >= 3 and liveness.get("timeoutSeconds", 1) >= 2
    # A draining gateway answers /ready with 503: the Service drops it before the drain ends.
    noticed = readiness["periodSeconds"] * readiness["failureThreshold"] + readiness["timeoutSeconds"]
    assert noticed < embedded_config().server.graceful_timeout


def pre_stop_seconds() -> float:
    pre_stop = container()["lifecycle"]["preStop"]
    # The `sleep` action needs Kubernetes 1.30; the schemas list it from 1.29 on (behind a
    # feature gate there), so validating against them does not catch it.
    assert "sleep" not in pre_stop
    command, seconds = pre_stop["exec"]["command"]
    assert command == "sleep"  # coreutils, in every Debian-based image
    return float(seconds)


def test_the_grace_period_covers_the_prestop_wait_and_the_drain() -> None:
    pod = MANIFESTS["Deployment"]["spec"]["template"]["spec"]
    drain = embedded_config().server.graceful_timeout
    assert pre_stop_seconds() >= 5  # the endpoints drop the pod before SIGTERM
    assert pod["terminationGracePeriodSeconds"] >= pre_stop_seconds() + drain + 5


def test_the_pod_gets_no_service_account_token() -> None:
    # The gateway never calls the Kubernetes API.
    assert MANIFESTS["Deployment"]["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_the_memory_limit_holds_every_worker_with_litellm_and_a_full_cache() -> None:
    spec = container()
    workers = int(spec["args"][spec["args"].index("--workers") + 1])
    limit = memory(spec["resources"]["limits"]["memory"])
    assert limit >= 1024 * MiB
    assert memory(spec["resources"]["requests"]["memory"]) <= limit
    resident = SUPERVISOR_MEMORY + workers * (WORKER_MEMORY_WITH_LITELLM + embedded_config().cache.max_bytes)
    assert resident <= 0.8 * limit  # the rest for requests in flight


def test_the_ledger_is_on_a_writable_volume_at_the_containers_state_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = container()
    env = image_env() | {variable["name"]: variable["value"] for variable in spec.get("env", [])}
    monkeypatch.setenv("XDG_STATE_HOME", env["XDG_STATE_HOME"])
    ledger = PurePosixPath(embedded_config().state.ledger)  # where the gateway would open it
    assert ledger.is_relative_to(env["XDG_STATE_HOME"])
    mount = max(
        (m for m in spec["volumeMounts"] if ledger.is_relative_to(m["mountPath"])),
        key=lambda m: len(m["mountPath"]),
    )
    assert mount["mountPath"] == env["XDG_STATE_HOME"]
    assert not mount.get("readOnly") and spec["securityContext"]["readOnlyRootFilesystem"]
    assert {"emptyDir", "persistentVolumeClaim"} & set(pod_volume(mount["name"]))


def test_the_config_is_a_mounted_configmap_directory_so_edits_reach_the_gateway() -> None:
    spec = container()
    config_path = Path(spec["args"][spec["args"].index("-c") + 1])
    mount = next(m for m in spec["volumeMounts"] if m["mountPath"] == str(config_path.parent))
    assert "subPath" not in mount  # a subPath mount never sees ConfigMap updates
    assert pod_volume(mount["name"])["configMap"]["name"] == MANIFESTS["ConfigMap"]["metadata"]["name"]
    assert config_path.name in MANIFESTS["ConfigMap"]["data"]


def test_the_embedded_config_is_valid_with_the_secrets_environment() -> None:
    config = embedded_config()
    assert config.models and config.keys
    # Every pod shares limits, cooldowns, the cache and spend through Redis.
    assert config.state.backend == "redis" and "RACEWAY_REDIS_URL" in SECRET_EXAMPLE["stringData"]
    # A read-only root: the workers' scratch space (metrics files, config snapshot) is writable.
    assert "/tmp" in {m["mountPath"] for m in container()["volumeMounts"]}


def test_service_autoscaler_disruption_budget_and_monitor_point_at_the_gateway() -> None:
    labels = MANIFESTS["Deployment"]["spec"]["template"]["metadata"]["labels"]
    service = MANIFESTS["Service"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert {port["targetPort"] for port in service["spec"]["ports"]} <= {
        p["name"] for p in container()["ports"]
    }
    target = MANIFESTS["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", MANIFESTS["Deployment"]["metadata"]["name"])
    assert MANIFESTS["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    monitor = MANIFESTS["ServiceMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    annotations = MANIFESTS["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/path"] == "/metrics"


def test_the_image_takes_raceway_subcommands_as_arguments() -> None:
    assert ("ENTRYPOINT", '["raceway"]') in DOCKERFILE
    assert container()["args"][0] == "serve"


def test_the_image_installs_the_locked_set_and_resolves_nothing() -> None:
    runs = [arguments for kind, arguments in DOCKERFILE if kind == "RUN"]
    installs = [step for step in runs if "pip install" in step or "uv " in step]
    assert installs, runs
    for step in installs:
        if "pip install" in step:
            assert "--require-hashes -r deploy/uv-requirements.txt" in step, step
        else:
            assert "uv sync --locked" in step, step
    assert any("uv.lock" in arguments for kind, arguments in DOCKERFILE if kind == "COPY")


def test_the_base_image_is_pinned_by_a_digest_that_one_argument_bumps() -> None:
    first_from = next(i for i, (kind, _) in enumerate(DOCKERFILE) if kind == "FROM")
    defaults = dict(arguments.split("=", 1) for kind, arguments in DOCKERFILE[:first_from] if kind == "ARG")
    base = DOCKERFILE[first_from][1]
    assert re.fullmatch(r"\S+@\$\{\w+\}", base), base  # the digest is an ARG (--build-arg for one build)
    resolved = re.sub(r"\$\{(\w+)\}", lambda match: defaults[match[1]], base)
    pinned = re.fullmatch(r"python:(?P<tag>[\w.-]+)@sha256:[0-9a-f]{64}", resolved)
    assert pinned and pinned["tag"] != "latest", resolved
    assert [kind for kind, _ in DOCKERFILE].count("FROM") == 1


def test_the_image_checks_its_health_with_python_on_the_port_it_serves() -> None:
    probe = image_probe()
    assert probe[:2] == ["python", "-c"]  # no curl in a slim image
    (cmd,) = [json.loads(arguments) for kind, arguments in DOCKERFILE if kind == "CMD"]
    port = cmd[cmd.index("--bind") + 1].rsplit(":", 1)[1]
    assert f"'http://127.0.0.1:{port}/health'" in probe[2]
    assert ("EXPOSE", port) in DOCKERFILE


@contextmanager
def health_endpoint(status: int | None) -> Iterator[int]:
    """A port whose /health answers ``status``, or on which nothing listens (None)."""
    if status is None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            yield probe.getsockname()[1]
        return
    answer = status

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(answer if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False), (None, False)])
def test_the_image_health_probe_passes_only_when_health_answers_ok(status: int | None, healthy: bool) -> None:
    _, flag, code = image_probe()
    with health_endpoint(status) as port:
        code = code.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        done = subprocess.run([sys.executable, flag, code], capture_output=True, timeout=30)
    assert (done.returncode == 0) is healthy, done.stderr


def test_the_image_keeps_the_spend_ledger_on_a_volume_its_user_can_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state_home = image_env()["XDG_STATE_HOME"]
    monkeypatch.setenv("XDG_STATE_HOME", state_home)
    assert PurePosixPath(embedded_config().state.ledger).is_relative_to(state_home)
    kinds = [kind for kind, _ in DOCKERFILE]
    volume = kinds.index("VOLUME")
    assert json.loads(DOCKERFILE[volume][1]) == [state_home]
    # Created for the gateway's user before VOLUME: a fresh named volume copies it, owner
    # included (changes after VOLUME would be discarded).
    (created,) = [
        i for i, (kind, arguments) in enumerate(DOCKERFILE) if kind == "RUN" and state_home in arguments
    ]
    assert created < volume and "-o raceway" in DOCKERFILE[created][1]
    pod_user = MANIFESTS["Deployment"]["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
    assert DOCKERFILE[kinds.index("USER")][1] == str(pod_user)
    assert f"--uid {pod_user}" in DOCKERFILE[created][1]


def test_compose_checks_health_and_keeps_the_ledger_on_a_named_volume() -> None:
    compose = yaml.safe_load((REPO / "grafana" / "docker-compose.yml").read_text())
    raceway = compose["services"]["raceway"]
    assert raceway["healthcheck"]["test"] == ["CMD", *image_probe()]
    bind = raceway["command"][raceway["command"].index("--bind") + 1]
    assert f"127.0.0.1:{bind.rsplit(':', 1)[1]}/health" in image_probe()[2]
    mounts = {target: source for source, target, *_ in (volume.split(":") for volume in raceway["volumes"])}
    source = mounts[image_env()["XDG_STATE_HOME"]]
    assert source in compose["volumes"]  # named: `docker compose down` keeps it
