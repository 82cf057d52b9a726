"""deploy/Dockerfile makes a small, non-root image of the runtime: multi-stage from
python:3.11-slim, the package installed without its dev extra, a numeric non-root USER,
`consumer` as the entrypoint running the mounted config, a HEALTHCHECK on /healthz; and the
root .dockerignore keeps the build context to what the Dockerfile copies. (No Docker engine
runs here: the file is read the way `docker build` reads it.)"""

import fnmatch
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def instructions() -> list[Instruction]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    parsed = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            parsed.append(Instruction(keyword.upper(), arguments.strip()))
    return parsed


def stages() -> list[list[Instruction]]:
    found: list[list[Instruction]] = []
    for instruction in instructions():
        if instruction.keyword == "FROM":
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


def base_image(from_arguments: str) -> str:
    """FROM's image, with a global ARG's default substituted."""
    image = from_arguments.split()[0]
    defaults = dict(i.arguments.split("=", 1) for i in instructions()
                    if i.keyword == "ARG" and "=" in i.arguments)
    return re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], image)


def final(keyword: str) -> list[Instruction]:
    return [i for i in stages()[-1] if i.keyword == keyword]


def test_it_builds_in_stages_on_python_311_slim():
    assert len(stages()) >= 2
    assert all(base_image(stage[0].arguments) == "python:3.11-slim" for stage in stages())
    # The final stage takes the built environment, not the source tree or the toolchain.
    assert [i.arguments for i in final("COPY")] == ["--from=build /opt/consumer /opt/consumer"]


def test_it_installs_the_runtime_dependencies_only():
    installs = " ".join(i.arguments for i in instructions()
                        if i.keyword == "RUN" and "pip install" in i.arguments)
    assert "['project']['dependencies']" in installs
    assert "[dev]" not in installs and "optional-dependencies" not in installs
    assert " -e " not in installs and "--editable" not in installs


def test_it_runs_as_a_numeric_non_root_user():
    [user] = final("USER")
    uid, _, gid = user.arguments.partition(":")
    assert uid.isdigit() and gid.isdigit(), "runAsNonRoot can only verify a numeric user"
    assert int(uid) != 0 and int(gid) != 0


def test_its_entrypoint_is_the_consumer_command_running_the_mounted_config():
    [entrypoint] = final("ENTRYPOINT")
    [cmd] = final("CMD")
    assert json.loads(entrypoint.arguments) == ["consumer"]
    assert json.loads(cmd.arguments) == ["run", "--config", "/etc/consumer/consumer.toml"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["consumer"] == "consumer.cli:main"


def test_its_healthcheck_asks_healthz_on_the_metrics_port():
    [healthcheck] = final("HEALTHCHECK")
    options, _, command = healthcheck.arguments.partition("CMD ")
    probe = " ".join(json.loads(command))
    assert "/healthz" in probe and "'CONSUMER_METRICS_PORT', '9464'" in probe
    assert "--interval=" in options and "--timeout=" in options


def ignored(path: str, patterns: list[str]) -> bool:
    """.dockerignore's rule for the patterns used there: the last pattern matching the path
    or one of its parent folders decides, and `!` re-includes."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    verdict = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern.lstrip("!").rstrip("/")
        if any(fnmatch.fnmatchcase(prefix, body) for prefix in prefixes):
            verdict = not negated
    return verdict


def test_the_build_context_holds_what_is_copied_and_nothing_local():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    copied = [source for i in instructions() if i.keyword == "COPY" and "--from" not in i.arguments
              for source in i.arguments.split()[:-1]]
    readme = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["readme"]
    assert readme in copied, "pip install . needs the readme pyproject.toml names"
    for source in copied:
        inside = [f"{source}/{p.name}" for p in (ROOT / source).glob("*.py")]
        for path in [source, *inside]:
            assert not ignored(path, patterns), path
    for local in (".venv/bin/python", ".git/HEAD", ".state/dev/stack.json",
                  "tests/conftest.py", "consumer/__pycache__/cli.cpython-311.pyc"):
        assert ignored(local, patterns), local
