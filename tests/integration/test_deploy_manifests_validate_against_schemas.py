"""The Kubernetes manifests of deploy/k8s are objects a cluster accepts: the built-in kinds
validate strictly (unknown fields rejected) against the Kubernetes schemas of
`kubernetes-validate`, for the oldest and newest Kubernetes we support; the custom resources
(ServiceMonitor, ScaledObject, TriggerAuthentication), which those schemas lack, validate
against the fields and types of their CRDs as written below; and `kubectl kustomize` builds
the whole set."""

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

pytestmark = pytest.mark.integration

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())

# -- the CRDs' shapes (prometheus-operator monitoring.coreos.com/v1, KEDA keda.sh/v1alpha1) ---
DURATION = {"type": "string",
            "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?"
                       r"(([0-9]+)s)?(([0-9]+)ms)?)$"}
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
LABEL_SELECTOR = {"type": "object", "additionalProperties": False,
                  "properties": {"matchLabels": STRING_MAP,
                                 "matchExpressions": {"type": "array"}}}
METADATA = {"type": "object", "required": ["name"],
            "properties": {"name": {"type": "string"}, "labels": STRING_MAP,
                           "annotations": STRING_MAP, "namespace": {"type": "string"}}}


def custom_resource(api_version: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
            "additionalProperties": False,
            "properties": {"apiVersion": {"const": api_version}, "kind": {"const": kind},
                           "metadata": METADATA, "spec": spec}}


SERVICE_MONITOR = custom_resource("monitoring.coreos.com/v1", "ServiceMonitor", {
    "type": "object", "required": ["selector"], "additionalProperties": False,
    "properties": {
        "jobLabel": {"type": "string"},
        "targetLabels": {"type": "array", "items": {"type": "string"}},
        "podTargetLabels": {"type": "array", "items": {"type": "string"}},
        "selector": LABEL_SELECTOR,
        "namespaceSelector": {"type": "object", "additionalProperties": False,
                              "properties": {"any": {"type": "boolean"},
                                             "matchNames": {"type": "array"}}},
        "sampleLimit": {"type": "integer", "minimum": 0},
        "endpoints": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "port": {"type": "string"}, "targetPort": {"type": ["string", "integer"]},
                "path": {"type": "string", "pattern": "^/"},
                "scheme": {"enum": ["http", "https", "HTTP", "HTTPS"]},
                "interval": DURATION, "scrapeTimeout": DURATION,
                "honorLabels": {"type": "boolean"}, "honorTimestamps": {"type": "boolean"},
                "relabelings": {"type": "array"}, "metricRelabelings": {"type": "array"},
                "params": {"type": "object"}, "tlsConfig": {"type": "object"},
                "followRedirects": {"type": "boolean"}, "enableHttp2": {"type": "boolean"},
                "filterRunning": {"type": "boolean"}}}}}})

SCALED_OBJECT = custom_resource("keda.sh/v1alpha1", "ScaledObject", {
    "type": "object", "required": ["scaleTargetRef", "triggers"], "additionalProperties": False,
    "properties": {
        "scaleTargetRef": {"type": "object", "required": ["name"], "additionalProperties": False,
                           "properties": {"name": {"type": "string"},
                                          "apiVersion": {"type": "string"},
                                          "kind": {"type": "string"},
                                          "envSourceContainerName": {"type": "string"}}},
        "pollingInterval": {"type": "integer", "minimum": 1},
        "cooldownPeriod": {"type": "integer", "minimum": 0},
        "initialCooldownPeriod": {"type": "integer", "minimum": 0},
        "idleReplicaCount": {"type": "integer", "minimum": 0},
        "minReplicaCount": {"type": "integer", "minimum": 0},
        "maxReplicaCount": {"type": "integer", "minimum": 1},
        "fallback": {"type": "object"},
        "advanced": {"type": "object", "additionalProperties": False, "properties": {
            "restoreToOriginalReplicaCount": {"type": "boolean"},
            "scalingModifiers": {"type": "object"},
            "horizontalPodAutoscalerConfig": {
                "type": "object", "additionalProperties": False,
                "properties": {"name": {"type": "string"}, "behavior": {"type": "object"}}}}},
        "triggers": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["type", "metadata"], "additionalProperties": False,
            "properties": {
                "type": {"type": "string"}, "name": {"type": "string"},
                "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                "useCachedMetrics": {"type": "boolean"},
                # The CRD types trigger metadata as a map of strings: "1000", not 1000.
                "metadata": STRING_MAP,
                "authenticationRef": {"type": "object", "required": ["name"],
                                      "additionalProperties": False,
                                      "properties": {"name": {"type": "string"},
                                                     "kind": {"enum": [
                                                         "TriggerAuthentication",
                                                         "ClusterTriggerAuthentication"]}}}}}}}})

TRIGGER_AUTHENTICATION = custom_resource("keda.sh/v1alpha1", "TriggerAuthentication", {
    "type": "object", "additionalProperties": False,
    "properties": {
        "secretTargetRef": {"type": "array", "items": {
            "type": "object", "required": ["parameter", "name", "key"],
            "additionalProperties": False,
            "properties": {"parameter": {"type": "string"}, "name": {"type": "string"},
                           "key": {"type": "string"}}}},
        "env": {"type": "array"}, "configMapTargetRef": {"type": "array"},
        "podIdentity": {"type": "object"}, "hashiCorpVault": {"type": "object"}}})

CUSTOM_SCHEMAS = {"ServiceMonitor": SERVICE_MONITOR, "ScaledObject": SCALED_OBJECT,
                  "TriggerAuthentication": TRIGGER_AUTHENTICATION}


def kustomization() -> dict[str, Any]:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


def listed_objects() -> list[dict[str, Any]]:
    """The objects kustomization.yaml lists, and the ConfigMap its generator makes."""
    objects = [doc for name in kustomization()["resources"]
               for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]
    for generator in kustomization()["configMapGenerator"]:
        objects.append({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": generator["name"]},
                        "data": {name: (K8S / name).read_text() for name in generator["files"]}})
    return objects


def validate(obj: dict[str, Any]) -> None:
    if obj["kind"] in CUSTOM_SCHEMAS:
        jsonschema.validate(obj, CUSTOM_SCHEMAS[obj["kind"]])
        return
    for version in KUBERNETES_VERSIONS:
        kubernetes_validate.validate(obj, version, strict=True)


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [found] = [obj for obj in objects if obj["kind"] == kind]
    return found


def test_every_listed_manifest_validates():
    objects = listed_objects()
    assert {obj["kind"] for obj in objects} == {
        "Deployment", "ConfigMap", "Service", "ServiceMonitor", "PodDisruptionBudget",
        "ScaledObject", "TriggerAuthentication"}
    for obj in objects:
        validate(obj)


def test_the_example_secret_validates_but_is_not_applied():
    [secret] = yaml.safe_load_all((K8S / "secret.example.yaml").read_text())
    validate(secret)
    assert "secret.example.yaml" not in kustomization()["resources"]
    assert all(value.startswith("REPLACE_WITH_") for value in secret["stringData"].values())


def test_the_autoscaler_keda_derives_from_the_scaled_object_validates():
    """KEDA turns the ScaledObject into an HPA: its behavior block must be a valid HPA's."""
    scaled = by_kind(listed_objects(), "ScaledObject")["spec"]
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "keda-hpa-orders-consumer"},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                       "name": scaled["scaleTargetRef"]["name"]},
                    "minReplicas": scaled["minReplicaCount"],
                    "maxReplicas": scaled["maxReplicaCount"],
                    "behavior": scaled["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]}}
    validate(hpa)


@pytest.mark.parametrize("kind, path, misspelling", [
    ("Deployment", ("spec", "template", "spec", "containers", 0), "livenessProb"),
    ("ScaledObject", ("spec",), "maxReplicas"),
    ("ServiceMonitor", ("spec", "endpoints", 0), "intervall"),
    ("TriggerAuthentication", ("spec", "secretTargetRef", 0), "parameters"),
])
def test_a_misspelled_field_fails_validation(kind, path, misspelling):
    obj = copy.deepcopy(by_kind(listed_objects(), kind))
    node: Any = obj
    for step in path:
        node = node[step]
    node[misspelling] = 1
    with pytest.raises(jsonschema.ValidationError):
        validate(obj)


@pytest.mark.skipif(shutil.which("kubectl") is None,
                    reason="kubectl not installed (Debian package kubernetes-client)")
def test_kustomize_builds_a_valid_set_that_references_the_generated_config():
    built = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True,
                           timeout=60)
    assert built.returncode == 0, built.stderr
    objects = [doc for doc in yaml.safe_load_all(built.stdout) if doc]
    for obj in objects:
        validate(obj)
    config_map = by_kind(objects, "ConfigMap")["metadata"]["name"]
    assert config_map.startswith("orders-consumer-config-"), "no content hash in the name"
    pod = by_kind(objects, "Deployment")["spec"]["template"]["spec"]
    assert {v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v} == {config_map}
    [image] = kustomization()["images"]
    assert {c["image"] for c in pod["containers"] + pod["initContainers"]} == {
        f"{image['newName']}:{image['newTag']}"}
