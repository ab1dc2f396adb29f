"""The Kubernetes manifests in deploy/kubernetes, checked without a cluster or kubectl.

Core objects are validated against Kubernetes 1.31's OpenAPI schemas (kubernetes-validate,
strict: unknown fields are errors); then the parts must fit together: probes on the
gateway's real endpoints, a grace period longer than the drain, the config mounted so
that edits reach the running gateway, and the embedded config itself valid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from router.config import parse_config
from tests.conftest import REPO

KUBE = REPO / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.31.0"


def manifests() -> dict[str, dict[str, Any]]:
    kustomization = yaml.safe_load((KUBE / "kustomization.yaml").read_text())
    documents = {}
    for name in kustomization["resources"]:
        document = yaml.safe_load((KUBE / name).read_text())
        documents[document["kind"]] = document
    return documents


MANIFESTS = manifests()


def container() -> dict[str, Any]:
    (only,) = MANIFESTS["Deployment"]["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = only
    return result


def embedded_config() -> Any:
    raw = MANIFESTS["ConfigMap"]["data"]["gateway.yaml"].encode()
    return parse_config(raw, MANIFESTS["Secret"]["stringData"])  # the placeholders have the right shape


@pytest.mark.parametrize("kind", sorted(set(MANIFESTS) - {"ServiceMonitor"}))
def test_core_objects_match_the_kubernetes_schema(kind: str) -> None:
    kubernetes_validate.validate(MANIFESTS[kind], KUBERNETES_VERSION, strict=True)


def test_every_listed_file_exists_and_every_file_is_listed() -> None:
    kustomization = yaml.safe_load((KUBE / "kustomization.yaml").read_text())
    on_disk = {path.name for path in KUBE.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == on_disk


def test_probes_use_the_gateways_endpoints_on_its_port() -> None:
    spec = container()
    ports = {port["name"]: port["containerPort"] for port in spec["ports"]}
    assert spec["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert spec["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    bind = spec["args"][spec["args"].index("--bind") + 1]
    assert bind == f"0.0.0.0:{ports['http']}"


def test_the_grace_period_covers_the_prestop_wait_and_the_drain() -> None:
    pod = MANIFESTS["Deployment"]["spec"]["template"]["spec"]
    pre_stop = container()["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain = embedded_config().server.graceful_timeout
    assert pod["terminationGracePeriodSeconds"] >= pre_stop + drain + 5


def test_the_config_is_a_mounted_configmap_directory_so_edits_reach_the_gateway() -> None:
    spec = container()
    config_path = Path(spec["args"][spec["args"].index("-c") + 1])
    mount = next(m for m in spec["volumeMounts"] if m["mountPath"] == str(config_path.parent))
    assert "subPath" not in mount  # a subPath mount never sees ConfigMap updates
    volume = next(
        v
        for v in MANIFESTS["Deployment"]["spec"]["template"]["spec"]["volumes"]
        if v["name"] == mount["name"]
    )
    assert volume["configMap"]["name"] == MANIFESTS["ConfigMap"]["metadata"]["name"]
    assert config_path.name in MANIFESTS["ConfigMap"]["data"]


def test_the_embedded_config_is_valid_with_the_secrets_environment() -> None:
    config = embedded_config()
    assert config.models and config.keys
    secret = MANIFESTS["Secret"]["metadata"]["name"]
    assert {"secretRef": {"name": secret}} in container()["envFrom"]
    # Every pod shares limits, cooldowns, the cache and spend through Redis.
    assert config.state.backend == "redis" and "RACEWAY_REDIS_URL" in MANIFESTS["Secret"]["stringData"]
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
    dockerfile = (REPO / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["raceway"]' in dockerfile
    assert container()["args"][0] == "serve"


def test_the_image_installs_the_locked_set_and_resolves_nothing() -> None:
    steps = [
        line for line in (REPO / "Dockerfile").read_text().splitlines() if line.startswith(("RUN", "COPY"))
    ]
    installs = [step for step in steps if "install" in step or "sync" in step]
    assert installs, steps
    for step in installs:
        if "pip install" in step:
            assert "--require-hashes -r deploy/uv-requirements.txt" in step, step
        else:
            assert "uv sync --locked" in step, step
    assert any("uv.lock" in step for step in steps if step.startswith("COPY"))
