"""The Kubernetes objects of deploy/k8s fit the orders consumer and each other: the pod runs
non-root on a read-only root filesystem with requests and limits, the kubelet waits longer
than the consumer's drain, the SASL credentials come only by reference to a Secret, the
Service, ServiceMonitor and PodDisruptionBudget select the pods, and KEDA scales the
Deployment on its group's lag without ever exceeding the topic's partitions."""

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"


def manifest(name: str) -> dict[str, Any]:
    return yaml.safe_load((K8S / name).read_text())


def pod() -> dict[str, Any]:
    return manifest("deployment.yaml")["spec"]["template"]


def containers() -> list[dict[str, Any]]:
    spec = pod()["spec"]
    return spec["initContainers"] + spec["containers"]


def consumer_env() -> dict[str, str]:
    [consumer] = pod()["spec"]["containers"]
    return {var["name"]: var["value"] for var in consumer["env"] if "value" in var}


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def test_the_pod_runs_non_root_on_a_read_only_root_filesystem():
    security = pod()["spec"]["securityContext"]
    assert security["runAsNonRoot"] is True
    dockerfile_user = re.search(r"^USER (\d+):(\d+)$", (ROOT / "deploy/Dockerfile").read_text(),
                                flags=re.M)
    assert dockerfile_user
    assert (security["runAsUser"], security["runAsGroup"]) == tuple(
        int(part) for part in dockerfile_user.groups())
    assert security["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod()["spec"]["automountServiceAccountToken"] is False
    for container in containers():
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True, container["name"]
        assert context["allowPrivilegeEscalation"] is False, container["name"]
        assert context["capabilities"]["drop"] == ["ALL"], container["name"]


def test_every_container_has_requests_and_limits():
    for container in containers():
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][bound]), container["name"]


def test_the_kubelet_waits_longer_than_the_consumers_drain():
    shutdown_timeout_s = tomllib.loads((K8S / "consumer.toml").read_text())["shutdown_timeout"]
    assert pod()["spec"]["terminationGracePeriodSeconds"] > shutdown_timeout_s
    # SIGTERM drains by itself: a preStop sleep would only eat into the grace period.
    assert all("lifecycle" not in c for c in containers())


def test_sasl_credentials_come_only_by_reference_to_a_secret():
    kustomization = manifest("kustomization.yaml")
    listed = [doc for name in kustomization["resources"]
              for doc in yaml.safe_load_all((K8S / name).read_text())]
    assert "Secret" not in {doc["kind"] for doc in listed}
    config = (K8S / "consumer.toml").read_text()
    assert re.search(r'^"sasl.password" = "\$\{(\w+)\}"$', config, flags=re.M)
    [init] = pod()["spec"]["initContainers"]
    references = {var["name"]: var["valueFrom"]["secretKeyRef"] for var in init["env"]}
    placeholders = set(re.findall(r"\$\{(\w+)\}", config))
    assert placeholders == set(references)
    secret_names = {ref["name"] for ref in references.values()}
    trigger_auth = manifest("triggerauthentication.yaml")["spec"]["secretTargetRef"]
    assert {ref["name"] for ref in trigger_auth} == secret_names
    assert {ref["key"] for ref in trigger_auth} == {ref["key"] for ref in references.values()}
    # The rendered file, holding the password, lives in memory only.
    [rendered] = [v for v in pod()["spec"]["volumes"] if v["name"] == "config"]
    assert rendered["emptyDir"]["medium"] == "Memory"


def test_the_service_servicemonitor_and_budget_select_the_consumer_pods():
    labels = pod()["metadata"]["labels"]
    deployment = manifest("deployment.yaml")
    assert selects(deployment["spec"]["selector"]["matchLabels"], labels)
    service = manifest("service.yaml")
    assert selects(service["spec"]["selector"], labels)
    assert service["spec"]["publishNotReadyAddresses"] is True
    monitor = manifest("servicemonitor.yaml")["spec"]
    assert selects(monitor["selector"]["matchLabels"], service["metadata"]["labels"])
    # The job label the alert rules select (job="consumer") comes from the Service's label.
    assert service["metadata"]["labels"][monitor["jobLabel"]] == "consumer"
    budget = manifest("poddisruptionbudget.yaml")["spec"]
    assert selects(budget["selector"]["matchLabels"], labels)
    # With one replica, minAvailable: 1 would block every node drain.
    assert budget["maxUnavailable"] == 1 and "minAvailable" not in budget


def test_keda_scales_the_deployment_on_its_groups_lag_up_to_the_partition_count():
    deployment = manifest("deployment.yaml")
    assert "replicas" not in deployment["spec"], "a fixed count fights the autoscaler"
    scaled = manifest("scaledobject.yaml")["spec"]
    assert scaled["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    [trigger] = scaled["triggers"]
    assert trigger["type"] == "kafka"
    env = consumer_env()
    for parameter in ("bootstrapServers", "consumerGroup", "topic"):
        assert trigger["metadata"][f"{parameter}FromEnv"] in env, parameter
    assert trigger["metadata"]["allowIdleConsumers"] == "false"
    assert trigger["authenticationRef"]["name"] == (
        manifest("triggerauthentication.yaml")["metadata"]["name"])
    # The example topic's partitions, as docker-compose.yml creates it.
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    creation = " ".join(compose["services"]["kafka-init"]["command"])
    partitions = re.search(r"--partitions (\d+)", creation)
    assert partitions and env["CONSUMER_TOPIC"] in creation
    assert 1 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"] <= int(partitions.group(1))
