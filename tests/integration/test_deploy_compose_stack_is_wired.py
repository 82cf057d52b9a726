"""docker-compose.yml parses (`docker-compose config`, which needs no engine) and wires the
stack: Kafka in KRaft mode reachable from the host and from the compose network, Redis and
our registry with healthchecks, the orders consumer started only once those are healthy and
the topics and schema exist, Prometheus loading deploy/prometheus and Grafana provisioned
from deploy/grafana. Every file the stack mounts is in the repository."""

import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = shutil.which("docker-compose")


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    """The file as docker-compose resolves it (anchors merged, paths made absolute)."""
    if COMPOSE is None:
        pytest.skip("docker-compose not installed (Debian package docker-compose)")
    result = subprocess.run([COMPOSE, "-f", str(ROOT / "docker-compose.yml"), "config"],
                            capture_output=True, text=True, timeout=60, cwd=ROOT,
                            env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]


def bind_mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> host path of the service's bind mounts."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("/"):
            mounts[target] = Path(source)
    return mounts


def test_kafka_runs_in_kraft_mode_for_the_host_and_the_compose_network(services):
    kafka = services["kafka"]
    env = kafka["environment"]
    assert kafka["image"].startswith("apache/kafka:")
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert not any("ZOOKEEPER" in name for name in env)
    advertised = {item.split("://")[0]: item.split("://")[1]
                  for item in env["KAFKA_ADVERTISED_LISTENERS"].split(",")}
    hosts = {listener: address.rsplit(":", 1)[0] for listener, address in advertised.items()}
    assert "localhost" in hosts.values() and "kafka" in hosts.values()
    host_port = next(a for a in advertised.values() if a.startswith("localhost:")).split(":")[1]
    assert any(int(p["published"]) == int(host_port) for p in kafka["ports"])
    internal = next(a for a in advertised.values() if a.startswith("kafka:"))
    assert services["consumer"]["environment"]["CONSUMER_BOOTSTRAP"] == internal


def test_the_consumer_starts_after_its_services_are_healthy_and_its_topics_exist(services):
    depends = services["consumer"]["depends_on"]
    for name in ("kafka", "redis", "registry"):
        assert depends[name]["condition"] == "service_healthy"
        assert services[name]["healthcheck"]["test"], f"{name} has no healthcheck"
    for one_shot in ("kafka-init", "registry-init"):
        assert depends[one_shot]["condition"] == "service_completed_successfully"
    creates = services["kafka-init"]["command"]
    topic = services["consumer"]["environment"]["CONSUMER_TOPIC"]
    assert f"for topic in {topic} {topic}.dlq" in " ".join(creates)


def test_the_registry_and_the_consumer_run_the_image_of_deploy_dockerfile(services):
    for name in ("registry", "registry-init", "consumer"):
        build = services[name]["build"]
        assert (Path(build["context"]), build["dockerfile"]) == (ROOT, "deploy/Dockerfile")
        assert services[name]["read_only"] is True
    assert services["registry"]["command"] == [
        "registry", "serve", "--host", "0.0.0.0", "--port", "8081", "--data", "/data/registry.db"]
    assert "/data" in [v.split(":")[1] for v in services["registry"]["volumes"]]


def handler_mount(services: dict[str, Any]) -> tuple[str, Path]:
    """The consumer's handler module name and the host folder it is mounted from."""
    consumer = services["consumer"]
    module = consumer["environment"]["CONSUMER_HANDLER"].split(":")[0]
    package_target = f"{consumer['environment']['PYTHONPATH']}/{module.split('.')[0]}"
    return module, bind_mounts(consumer)[package_target]


def test_every_mounted_file_is_in_the_repository(services):
    for name, service in services.items():
        for target, source in bind_mounts(service).items():
            assert ROOT in source.parents, f"{name}: {source} is outside the repository"
            assert source.exists(), f"{name}: {source} (mounted at {target}) is missing"


def test_the_consumers_handler_is_in_the_folder_mounted_for_it(services):
    module, handlers = handler_mount(services)
    relative = Path(*module.split(".")[1:])
    assert (handlers / relative.with_suffix(".py")).is_file() or (
        handlers / relative / "__init__.py").is_file(), f"{module} is not in {handlers}"


def test_the_consumer_drains_before_docker_kills_it(services):
    consumer = services["consumer"]
    config = bind_mounts(consumer)["/etc/consumer/consumer.toml"]
    shutdown_timeout_s = tomllib.loads(config.read_text())["shutdown_timeout"]
    grace = consumer["stop_grace_period"]
    assert grace.endswith("s") and int(grace[:-1]) > shutdown_timeout_s


def test_prometheus_loads_the_repositorys_config_and_rules(services):
    prometheus = services["prometheus"]
    mounts = bind_mounts(prometheus)
    assert mounts["/etc/prometheus"] == ROOT / "deploy" / "prometheus"
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "consumer"]
    [target] = job["static_configs"][0]["targets"]
    host, port = target.split(":")
    assert host in services
    assert int(port) == int(services[host]["environment"]["CONSUMER_METRICS_PORT"])


def test_grafana_is_provisioned_with_the_datasource_and_the_dashboard(services):
    grafana = services["grafana"]
    mounts = bind_mounts(grafana)
    provisioning = mounts["/etc/grafana/provisioning"]
    assert provisioning == ROOT / "deploy" / "grafana" / "provisioning"
    [datasource] = yaml.safe_load(
        (provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    url = urlparse(datasource["url"])
    assert url.hostname in services and url.port == 9090
    [provider] = yaml.safe_load(
        (provisioning / "dashboards" / "consumer.yml").read_text())["providers"]
    dashboards = mounts[provider["options"]["path"]]
    assert list(dashboards.glob("*.json")), "the provider's folder holds no dashboard"
    assert grafana["depends_on"]["prometheus"]["condition"] == "service_healthy"
