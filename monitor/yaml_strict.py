"""YAML loading that refuses a key given twice in one mapping (PyYAML keeps the last)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode

_MERGE = "tag:yaml.org,2002:merge"


# libyaml's parser when PyYAML has it (its wheels do): a 100-target config parses in
# ~10 ms instead of ~150 ms, and a reload holds the event loop that much less.
if TYPE_CHECKING:
    _SafeLoader = yaml.SafeLoader
else:
    _SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictLoader(_SafeLoader):
    """A safe loader that reports duplicate keys with their line and column."""


def _construct_mapping(loader: StrictLoader, node: MappingNode) -> object:
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        if key_node.tag == _MERGE:
            continue
        key = loader.construct_object(key_node)
        if isinstance(key, Hashable) and key in seen:
            raise ConstructorError(None, None, f"duplicate key {key}", key_node.start_mark)
        if isinstance(key, Hashable):
            seen.add(key)
    return loader.construct_mapping(node)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(text: str) -> object:
    """The document in `text`, parsed safely; raises yaml.YAMLError with a position."""
    return yaml.load(text, Loader=StrictLoader)  # safe: no arbitrary objects
