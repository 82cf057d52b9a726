"""Renders the pod's consumer.toml (the init container of deployment.yaml runs it).

Each ``${NAME}`` in the template becomes the value of the environment variable NAME, escaped
for a TOML basic string, so a password holding quotes or backslashes cannot break the file.
A missing variable or a result that is not valid TOML stops the pod with one clear line,
rather than starting a consumer with an empty credential.

Usage: python render_config.py TEMPLATE OUTPUT
"""

from __future__ import annotations

import json
import os
import string
import sys
import tomllib


def toml_escaped(value: str) -> str:
    # JSON's escapes are a subset of TOML's basic-string escapes; DEL is the one control
    # character TOML forbids that JSON leaves as is.
    return json.dumps(value, ensure_ascii=False)[1:-1].replace("\x7f", "\\u007f")


def render(template: str, env: dict[str, str]) -> str:
    rendered = string.Template(template).substitute(
        {name: toml_escaped(value) for name, value in env.items()})
    tomllib.loads(rendered)
    return rendered


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: render_config.py TEMPLATE OUTPUT\n")
        return 2
    template_path, output_path = argv
    with open(template_path, encoding="utf-8") as handle:
        template = handle.read()
    try:
        rendered = render(template, dict(os.environ))
    except KeyError as missing:
        sys.stderr.write(f"render_config: {template_path} needs the environment variable "
                         f"{missing.args[0]} (from the Secret named in deployment.yaml)\n")
        return 2
    except ValueError as exc:
        # string.Template's bad placeholder, or tomllib's TOMLDecodeError (a ValueError).
        sys.stderr.write(f"render_config: {template_path}: {exc}\n")
        return 2
    # Owner-only: the file holds the SASL password.
    descriptor = os.open(output_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
