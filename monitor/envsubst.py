"""`${VAR}` interpolation and `*_file` secrets, applied to the raw YAML tree before validation."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(Exception):
    """A config that cannot be used; `errors` holds one line per problem with its key path."""

    def __init__(self, source: str, errors: list[str]) -> None:
        self.source = source
        self.errors = errors
        super().__init__(f"{source}: " + "; ".join(errors))


def _join(path: str, key: object) -> str:
    return f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else str(key))


def _substitute(text: str, path: str, env: Mapping[str, str], errors: list[str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            errors.append(f"{path}: environment variable {name} is not set")
            return ""
        return env[name]

    return _VAR.sub(replace, text)


def _walk(node: object, path: str, env: Mapping[str, str], errors: list[str]) -> object:
    if isinstance(node, str):
        return _substitute(node, path, env, errors)
    if isinstance(node, dict):
        return {k: _walk(v, _join(path, k), env, errors) for k, v in node.items()}
    if isinstance(node, list):
        return [_walk(v, _join(path, i), env, errors) for i, v in enumerate(node)]
    return node


def interpolate(data: dict[str, object], env: Mapping[str, str] | None = None) -> dict[str, object]:
    """Replace `${VAR}` in every string; an unset variable is an error, never an empty string."""
    errors: list[str] = []
    out = _walk(data, "", os.environ if env is None else env, errors)
    if errors:
        raise ConfigError("config", errors)
    assert isinstance(out, dict)
    return out


def _read_files(node: object, path: str, base: Path, errors: list[str]) -> object:
    if isinstance(node, list):
        return [_read_files(v, _join(path, i), base, errors) for i, v in enumerate(node)]
    if not isinstance(node, dict):
        return node
    out: dict[object, object] = {}
    for key, value in node.items():
        here = _join(path, key)
        if isinstance(key, str) and key.endswith("_file") and key != "ca_file":
            name = key.removesuffix("_file")
            if name in node:
                errors.append(f"{here}: give either {name} or {key}, not both")
            out[name] = _secret_from(value, here, base, errors)
        else:
            out[key] = _read_files(value, here, base, errors)
    return out


def _secret_from(value: object, path: str, base: Path, errors: list[str]) -> str:
    if not isinstance(value, str) or not value:
        errors.append(f"{path}: expected a file path")
        return ""
    file = base / value
    try:
        return file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        errors.append(f"{path}: cannot read {value}: {exc.strerror}")
        return ""


def read_secret_files(data: dict[str, object], base: Path) -> dict[str, object]:
    """Turn every `x_file: path` into `x: <file content>` (secrets mounted in containers)."""
    errors: list[str] = []
    out = _read_files(data, "", base, errors)
    if errors:
        raise ConfigError("config", errors)
    assert isinstance(out, dict)
    return out
