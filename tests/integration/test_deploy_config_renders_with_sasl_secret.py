"""The pod's configuration works end to end without the cluster: the init container of
deploy/k8s/deployment.yaml, run as written, renders consumer.toml with SASL credentials from
the Secret (however awkward the password), and what the consumer container then reads is
accepted by the real `consumer run` settings loader and by librdkafka. The compose consumer's
settings load the same way."""

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import Consumer, Producer

from consumer import kafka
from consumer.cli import build_parser
from consumer.config import Settings, load_settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
# Quotes, backslashes, a dollar, braces, a newline, non-ASCII and DEL: all legal in a password.
AWKWARD_PASSWORD = 'p"a\\ss$wo{r}d\'\n üñí\x7f end'
SECRET = {"orders-consumer-kafka-sasl": {"username": "orders-svc", "password": AWKWARD_PASSWORD}}


def pod_spec() -> dict[str, Any]:
    deployment = yaml.safe_load((K8S / "deployment.yaml").read_text())
    return deployment["spec"]["template"]["spec"]


def env_of(container: dict[str, Any], secrets: dict[str, dict[str, str]]) -> dict[str, str]:
    env = {}
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            if ref["name"] in secrets:
                env[var["name"]] = secrets[ref["name"]][ref["key"]]
    return env


class Volumes:
    """The pod's volumes as local folders: the ConfigMap's files (kustomize's generator) and
    the emptyDirs; container paths are translated through each container's mounts."""

    def __init__(self, root: Path) -> None:
        self.dirs: dict[str, Path] = {}
        generator = yaml.safe_load((K8S / "kustomization.yaml").read_text())["configMapGenerator"]
        for volume in pod_spec()["volumes"]:
            folder = root / volume["name"]
            folder.mkdir()
            if "configMap" in volume:
                [files] = [g["files"] for g in generator if g["name"] == volume["configMap"]["name"]]
                for name in files:
                    shutil.copy(K8S / name, folder / name)
            self.dirs[volume["name"]] = folder

    def local(self, container: dict[str, Any], path: str) -> str:
        mounts = sorted(container.get("volumeMounts", []), key=lambda m: -len(m["mountPath"]))
        for mount in mounts:
            if path.startswith(mount["mountPath"] + "/"):
                return str(self.dirs[mount["name"]] / path[len(mount["mountPath"]) + 1:])
        return path


def run_init_container(volumes: Volumes, secrets: dict[str, dict[str, str]]
                       ) -> subprocess.CompletedProcess[str]:
    [init] = pod_spec()["initContainers"]
    command = [volumes.local(init, part) for part in init["command"]]
    assert command[0] == "python"
    return subprocess.run([sys.executable, *command[1:]], capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], **env_of(init, secrets)}, timeout=30)


def consumer_settings(volumes: Volumes) -> Settings:
    [container] = pod_spec()["containers"]
    args = build_parser().parse_args([volumes.local(container, a) for a in container["args"]])
    return load_settings(args, env=env_of(container, SECRET))


def test_the_init_container_renders_the_secret_into_the_consumers_config(tmp_path):
    volumes = Volumes(tmp_path)
    result = run_init_container(volumes, SECRET)
    assert result.returncode == 0, result.stderr

    [container] = pod_spec()["containers"]
    rendered = Path(volumes.local(container, "/etc/consumer/consumer.toml"))
    assert stat.S_IMODE(rendered.stat().st_mode) == 0o600
    settings = consumer_settings(volumes)
    assert settings.kafka["sasl.username"] == "orders-svc"
    assert settings.kafka["sasl.password"] == AWKWARD_PASSWORD
    assert settings.kafka["security.protocol"] == "SASL_SSL"
    assert (settings.topic, settings.group) == ("orders", "orders-consumer")
    assert settings.metrics_port == 9464


def test_librdkafka_accepts_every_setting_the_pod_passes(tmp_path):
    volumes = Volumes(tmp_path)
    assert run_init_container(volumes, SECRET).returncode == 0
    settings = consumer_settings(volumes)
    # Nothing listens there: constructing the clients validates every property, offline.
    Consumer(kafka.consumer_config("127.0.0.1:9", settings.group, settings.kafka)).close()
    Producer(kafka.producer_config("127.0.0.1:9", settings.kafka)).flush(0)


def test_a_missing_secret_stops_the_pod_with_one_clear_line(tmp_path):
    volumes = Volumes(tmp_path)
    result = run_init_container(volumes, secrets={})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "KAFKA_SASL_USERNAME" in result.stderr
    [container] = pod_spec()["containers"]
    assert not Path(volumes.local(container, "/etc/consumer/consumer.toml")).exists()


def test_the_compose_consumers_settings_load(tmp_path):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["consumer"]
    # Container path -> repository path of each bind mount ("./x:/y[:ro]").
    mounts = {volume.split(":")[1]: str(ROOT / volume.split(":")[0])
              for volume in compose["volumes"] if volume.startswith("./")}

    def local(text: str) -> str:
        for target, source in sorted(mounts.items(), key=lambda m: -len(m[0])):
            text = text.replace(target, source)
        return text

    config = tmp_path / "consumer.toml"
    config.write_text(local(Path(mounts["/etc/consumer/consumer.toml"]).read_text()))
    args = [str(config) if a == "/etc/consumer/consumer.toml" else a for a in compose["command"]]
    env = {k: str(v).replace("${CONSUMER_HANDLER:-", "").rstrip("}")
           for k, v in compose["environment"].items()}
    settings = load_settings(build_parser().parse_args(args), env=env)
    assert (settings.topic, settings.group, settings.bootstrap) == (
        "orders", "orders-consumer", "kafka:19092")
    assert settings.reader_schema == str(ROOT / "schemas" / "orders-v1.avsc")
    Consumer(kafka.consumer_config("127.0.0.1:9", settings.group, settings.kafka)).close()
