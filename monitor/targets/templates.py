"""Templated paths and JSON bodies: `/users/{id}`, `{"email": "{email}", "x": "{fields}"}`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")


class TemplateError(ValueError):
    """A template names a value the call does not have."""


def _value(name: str, values: Mapping[str, Any]) -> Any:
    if name not in values:
        raise TemplateError(f"template placeholder {{{name}}} has no value in this call")
    return values[name]


def render_path(template: str, values: Mapping[str, Any]) -> str:
    """Placeholders in a path are URL-quoted, so an id cannot escape its segment."""
    return _PLACEHOLDER.sub(lambda m: quote(str(_value(m.group(1), values)), safe=""), template)


def render_body(template: Any, values: Mapping[str, Any]) -> Any:
    """A string that is exactly one placeholder takes the value's own JSON type."""
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole:
            return _value(whole.group(1), values)
        return _PLACEHOLDER.sub(lambda m: str(_value(m.group(1), values)), template)
    if isinstance(template, dict):
        rendered = {k: render_body(v, values) for k, v in template.items()}
        return {k: v for k, v in rendered.items() if v is not None}
    if isinstance(template, list):
        return [render_body(v, values) for v in template]
    return template


def placeholders(template: Any) -> set[str]:
    """Every placeholder name a path or body template uses."""
    if isinstance(template, str):
        return set(_PLACEHOLDER.findall(template))
    if isinstance(template, dict):
        return set().union(*(placeholders(v) for v in template.values())) if template else set()
    if isinstance(template, list):
        return set().union(*(placeholders(v) for v in template)) if template else set()
    return set()
