"""Turn pydantic's validation errors into one line per problem: key path, then what to do.

The key path is the one the user typed (`targets[0].probes.create_sync.interval`), found by
walking the input document along pydantic's error location: parts that are not in the
document (`function-before[...]`, `dict[str,...]`, `[key]`, union member names) are
pydantic's own and are dropped. Messages never carry the offending value.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, get_args, get_origin

from pydantic import BaseModel, SecretStr, ValidationError

from monitor.envsubst import FILE_SUFFIX, join_path

_PLAIN = {
    "missing": "required",
    "string_type": "expected a string",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "list_type": "expected a list",
    "invalid_key": "keys must be strings",
}
_WITH_CONTEXT = {
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "too_short": "needs at least {min_length} entries",
    "string_too_short": "must not be empty",
    "string_too_long": "must be at most {max_length} characters",
    "literal_error": "expected one of {expected}",
    "union_tag_invalid": "expected one of {expected_tags}",
}
_REDACTED = "<value>"
_MIN_ECHO = 4  # shorter inputs are too common in ordinary words to redact safely

Part = int | str


def validation_messages(
    exc: ValidationError, document: object, model: type[BaseModel]
) -> list[str]:
    """One line per problem, `key.path: message`, without duplicates."""
    lines = []
    for err in exc.errors(include_url=False):
        parts = document_parts(err["loc"], document, keep_last=err["type"] == "missing")
        message = _redacted(_message(err, parts, model), err.get("input"))
        path = format_path(parts)
        lines.append(f"{path}: {message}" if path else message)
    return list(dict.fromkeys(lines))


def document_parts(loc: Sequence[Part], document: object, *, keep_last: bool = False) -> list[Part]:
    """The parts of pydantic's location that are keys or indexes the user wrote."""
    parts: list[Part] = []
    node = document
    for i, part in enumerate(loc):
        found = _child(node, part)
        if found is not None:
            key, node = found
            parts.append(key)
        elif keep_last and i == len(loc) - 1:
            parts.append(part)
    return parts


def format_path(parts: Sequence[Part]) -> str:
    """`['targets', 0, 'name']` → `targets[0].name`."""
    path = ""
    for part in parts:
        path = join_path(path, part)
    return path


def _child(node: object, part: Part) -> tuple[Part, object] | None:
    """The key as the user wrote it and the value under it, when `part` is in the document."""
    if isinstance(node, Mapping):
        for key in (part, f"{part}{FILE_SUFFIX}"):  # a secret read from `<name>_file`
            if key in node:
                return (str(key) if isinstance(key, int) else key), node[key]
    if isinstance(node, list):
        if isinstance(part, int) and 0 <= part < len(node):
            return part, node[part]
        if isinstance(part, str) and part in node:  # a name in a list that became a key
            return part, None
    return None


def _message(err: Mapping[str, Any], parts: Sequence[Part], model: type[BaseModel]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return _unknown_key(parts, model)
    if kind in _PLAIN:
        return _PLAIN[kind]
    if kind == "too_short" and err["ctx"]["min_length"] == 1:
        return "must not be empty"
    if kind in _WITH_CONTEXT:
        ctx = {k: (f"{v:g}" if isinstance(v, float) else v) for k, v in err["ctx"].items()}
        return _WITH_CONTEXT[kind].format_map(ctx)
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _redacted(message: str, value: object) -> str:
    """Belt and braces: a message must never echo the value it complains about."""
    if isinstance(value, str) and len(value) >= _MIN_ECHO:
        return message.replace(value, _REDACTED)
    return message


def _unknown_key(parts: Sequence[Part], model: type[BaseModel]) -> str:
    valid = allowed_keys_at(model, parts[:-1])
    if not valid or not parts:
        return "unknown key"
    close = difflib.get_close_matches(str(parts[-1]), valid, n=1)
    if close:
        return f"unknown key (did you mean {close[0]}?)"
    return f"unknown key (valid: {', '.join(valid)})"


def allowed_keys_at(model: type[BaseModel], parts: Sequence[Part]) -> list[str]:
    """The keys allowed under a document path, e.g. `targets[0].simulator`."""
    node: object = model
    for part in parts:
        node = _descend(node, part)
    found = _model_in(node)
    return allowed_keys(found) if found else []


def allowed_keys(model: type[BaseModel]) -> list[str]:
    """A model's keys, plus `<name>_file` for each of its secret fields."""
    fields = model.model_fields
    own = [field.alias or name for name, field in fields.items()]
    files = [f"{n}{FILE_SUFFIX}" for n in fields if SecretStr in _walk_types(fields[n].annotation)]
    return own + files


def _descend(annotation: object, part: Part) -> object:
    model = _model_in(annotation)
    if model is not None:
        by_key = {f.alias or n: f for n, f in model.model_fields.items()}
        field = by_key.get(str(part))
        return field.annotation if field else None
    for member in _members(annotation):
        if get_origin(member) in (list, dict):
            return get_args(member)[-1]  # list[X] → X, dict[K, V] → V
    return None


def _members(annotation: object) -> list[object]:
    """`X | Y | None` → [X, Y]; anything else → [it]."""
    args = get_args(annotation)
    if get_origin(annotation) in (list, dict) or not args:
        return [annotation]
    return [a for a in args if a is not type(None)]


def _model_in(annotation: object) -> type[BaseModel] | None:
    for member in _members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None


def _walk_types(annotation: object) -> Iterator[object]:
    yield annotation
    for arg in get_args(annotation):
        yield from _walk_types(arg)


def secret_fields(model: type[BaseModel]) -> frozenset[str]:
    """Names of every `SecretStr` field in a model and the models inside it."""
    names: set[str] = set()
    for name, field in model.model_fields.items():
        for found in _walk_types(field.annotation):
            if found is SecretStr:
                names.add(name)
            elif isinstance(found, type) and issubclass(found, BaseModel):
                names |= secret_fields(found)
    return frozenset(names)
