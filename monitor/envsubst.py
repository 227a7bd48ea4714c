"""`${VAR}` interpolation and `*_file` secrets, applied to the raw YAML tree before validation."""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from pathlib import Path

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
FILE_SUFFIX = "_file"


class ConfigError(Exception):
    """A config that cannot be used; `errors` holds one line per problem with its key path."""

    def __init__(self, source: str, errors: list[str]) -> None:
        self.source = source
        self.errors = errors
        super().__init__(f"{source}: " + "; ".join(errors))


def join_path(path: str, key: object) -> str:
    """`targets` + 0 → `targets[0]`; `targets[0]` + `name` → `targets[0].name`."""
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
    if isinstance(node, Mapping):
        return {k: _walk(v, join_path(path, k), env, errors) for k, v in node.items()}
    if isinstance(node, list):
        return [_walk(v, join_path(path, i), env, errors) for i, v in enumerate(node)]
    return node


def expand_env(
    data: Mapping[str, object], env: Mapping[str, str] | None = None
) -> tuple[dict[str, object], list[str]]:
    """`${VAR}` replaced in every string value, and one error per unset variable."""
    errors: list[str] = []
    out = _walk(data, "", os.environ if env is None else env, errors)
    assert isinstance(out, dict)
    return out, errors


def interpolate(
    data: Mapping[str, object], env: Mapping[str, str] | None = None, *, source: str = "<config>"
) -> dict[str, object]:
    """Replace `${VAR}` in every string; an unset variable is an error, never an empty string."""
    out, errors = expand_env(data, env)
    if errors:
        raise ConfigError(source, errors)
    return out


def _secret_key(key: object, secrets: Collection[str]) -> str | None:
    """`admin_token_file` → `admin_token` when `admin_token` is a secret field."""
    if isinstance(key, str) and key.endswith(FILE_SUFFIX):
        name = key.removesuffix(FILE_SUFFIX)
        return name if name in secrets else None
    return None


def _read_files(
    node: object, path: str, ctx: tuple[Path, Collection[str]], errors: list[str]
) -> object:
    if isinstance(node, list):
        return [_read_files(v, join_path(path, i), ctx, errors) for i, v in enumerate(node)]
    if not isinstance(node, Mapping):
        return node
    out: dict[object, object] = {}
    for key, value in node.items():
        here = join_path(path, key)
        if (name := _secret_key(key, ctx[1])) is None:
            out[key] = _read_files(value, here, ctx, errors)
        elif name in node:
            errors.append(f"{here}: give either {name} or {key}, not both")
        else:
            out[name] = _secret_from(value, here, ctx[0], errors)
    return out


def _secret_from(value: object, path: str, base: Path, errors: list[str]) -> str:
    """The file's content, stripped; errors name the key and the file, never the content."""
    if not isinstance(value, str) or not value:
        errors.append(f"{path}: expected a file path")
        return ""
    try:
        return (base / value).read_text(encoding="utf-8").strip()
    except OSError as exc:
        errors.append(f"{path}: cannot read {value}: {exc.strerror or type(exc).__name__}")
    except UnicodeDecodeError:
        errors.append(f"{path}: {value} is not UTF-8 text")
    return ""


def inline_secret_files(
    data: Mapping[str, object], base: Path, secrets: Collection[str]
) -> tuple[dict[str, object], list[str]]:
    """Every `<secret>_file: path` turned into `<secret>: <content>`, and one error per problem.

    Only keys named after a secret field are read, so a misplaced or misspelt `*_file`
    key stays as written and validation reports it under the name the user typed.
    """
    errors: list[str] = []
    out = _read_files(data, "", (base, secrets), errors)
    assert isinstance(out, dict)
    return out, errors


def read_secret_files(
    data: Mapping[str, object], base: Path, secrets: Collection[str], *, source: str = "<config>"
) -> dict[str, object]:
    """Turn every `<secret>_file: path` into `<secret>: <file content>` (mounted secrets)."""
    out, errors = inline_secret_files(data, base, secrets)
    if errors:
        raise ConfigError(source, errors)
    return out
