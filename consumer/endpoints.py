"""Where the services are: a flag, else the CONTRACT.md environment variable, else the address
of the embedded stack (``consumer dev up``)."""

from __future__ import annotations

import os

from .constants import ENV_BOOTSTRAP, ENV_REDIS, ENV_REGISTRY
from .errors import UsageError

_ENV = {"bootstrap": ENV_BOOTSTRAP, "registry": ENV_REGISTRY, "redis": ENV_REDIS}
_FLAG = {"bootstrap": "--bootstrap", "registry": "--registry", "redis": "--redis"}


def resolve(service: str, flag_value: str | None) -> str:
    if flag_value:
        return flag_value
    from_env = os.environ.get(_ENV[service])
    if from_env:
        return from_env
    from .devstack import DevStack

    running = DevStack().addresses().get(service)
    if running:
        return running
    raise UsageError(f"no {service} address: pass {_FLAG[service]}, set {_ENV[service]}, "
                     f"or start the embedded stack with `consumer dev up`")
