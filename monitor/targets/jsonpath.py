"""A small JSONPath subset for ids and fields in responses: `$.a.b`, `$.a[0]`, `$.a[*].id`."""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+|\*)\]|\['([^']+)'\]")

# A step: a key, a list index, or EVERY for `[*]`. The wildcard is not the string "*",
# so a quoted key `['*']` still names the key "*".
Step = str | int | None
EVERY: Step = None


def parse(path: str) -> list[Step]:
    """`$.users[*].id` → ['users', EVERY, 'id']; raises ValueError on anything else."""
    if not path.startswith("$"):
        raise ValueError(f"JSONPath {path!r} must start with $")
    steps: list[Step] = []
    rest = path[1:]
    while rest:
        match = _TOKEN.match(rest)
        if match is None:
            raise ValueError(f"JSONPath {path!r}: unsupported syntax at {rest!r}")
        name, index, quoted = match.groups()
        steps.append(name or quoted or (EVERY if index == "*" else int(index)))
        rest = rest[match.end() :]
    return steps


def find_all(document: Any, path: str) -> list[Any]:
    """Every value the path selects."""
    nodes = [document]
    for step in parse(path):
        nodes = [child for node in nodes for child in _children(node, step)]
    return nodes


def find_one(document: Any, path: str) -> Any:
    """The first value the path selects, or None."""
    found = find_all(document, path)
    return found[0] if found else None


def _children(node: Any, step: Step) -> list[Any]:
    if step is EVERY:
        return list(node) if isinstance(node, list) else []
    if isinstance(step, int):
        return [node[step]] if isinstance(node, list) and -len(node) <= step < len(node) else []
    return [node[step]] if isinstance(node, dict) and step in node else []


def assign(document: dict[str, Any], path: str, value: Any) -> None:
    """Set `value` at a `$.a.b` path, creating the objects on the way."""
    steps = parse(path)
    if not steps or not all(isinstance(s, str) for s in steps):
        raise ValueError(f"JSONPath {path!r}: only $.a.b paths can be written")
    node = document
    for step in steps[:-1]:
        node = node.setdefault(str(step), {})
    node[str(steps[-1])] = value
