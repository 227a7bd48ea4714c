"""Reference sections of the README, generated from the code so they cannot drift.

`python -m monitor.docs` rewrites them in README.md; a test checks they are current.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from monitor.alerts.engine import Alert
from monitor.alerts.service import AlertsCollector
from monitor.config import Config
from monitor.exposition import Registry
from monitor.metrics import LastRunCollector, Metrics, TasksCollector
from monitor.probes import REGISTRY
from monitor.recorder import Recorder
from monitor.results import ProbeResult, Step, Sync
from monitor.settings import Deadlines

README = Path(__file__).resolve().parents[1] / "README.md"
_SKIP_LABELS = {"le", "quantile"}


def _example_registry() -> Registry:
    """A registry where every metric of ours has a series: one job, one result, one alert."""
    registry = Registry()
    metrics = Metrics(registry)
    recorder = Recorder(metrics)
    registry.register(LastRunCollector(recorder))
    alert = Alert(
        {"alertname": "A", "target": "t", "probe": "p", "severity": "warning"}, {}, "firing", 0.0
    )
    registry.register(AlertsCollector(lambda: [alert]))
    loop = asyncio.new_event_loop()
    loop.close()  # only counted, never run
    registry.register(TasksCollector(loop))
    recorder.add_job("t", "p", interval=30.0, kinds=("missing",))
    steps = (Step("auth.create", 0.01),)
    recorder.record(ProbeResult("t", "p", "pass", 1.0, 0.1, (Sync("create", 0.05, 3),), steps))
    metrics.janitor_removed.labels("t", "auth")
    metrics.notifications.labels("log", "sent")
    metrics.loop_lag.observe(0.001)
    return registry


def _families() -> Iterator[tuple[str, str, list[str], str]]:
    for family in _example_registry().collect():
        if not family.name.startswith("consistency_"):
            continue
        labels = sorted({k for s in family.samples for k in s.labels} - _SKIP_LABELS)
        name = family.name + ("_total" if family.type == "counter" else "")
        yield name, family.type, labels, family.documentation


def metrics_reference() -> str:
    """A markdown table of every `consistency_` metric: type, labels, what it is for."""
    rows = ["| metric | type | labels | what it tells you |", "|---|---|---|---|"]
    for name, kind, labels, doc in sorted(_families()):
        rows.append(f"| `{name}` | {kind} | {', '.join(labels) or '-'} | {doc} |")
    rows.append("")
    rows.append("Also exported: the standard `process_*` and `python_info` collectors.")
    return "\n".join(rows)


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    for key in ("anyOf", "oneOf"):
        objects = [n for n in node.get(key, []) if "$ref" in n or n.get("type") == "object"]
        if len(objects) == 1 and "properties" not in node:
            return _resolve(schema, objects[0])
    return node


def _type_of(node: dict[str, Any]) -> str:
    if "type" in node:
        return str(node["type"])
    options = [str(n.get("type", "object")) for n in node.get("anyOf", node.get("oneOf", []))]
    return " or ".join(dict.fromkeys(o for o in options if o != "null")) or "object"


def _row(schema: dict[str, Any], here: str, child: dict[str, Any]) -> str:
    described = _resolve(schema, child) if "$ref" in child else child
    about = (child.get("description") or described.get("description") or "").split("\n")[0]
    default = child.get("default")
    shown = f"`{default}`" if isinstance(default, str | int | float) and default != "" else ""
    return f"| `{here}` | {_type_of(child)} | {shown} | {about} |"


def _children(schema: dict[str, Any], child: dict[str, Any], here: str) -> Iterator[str]:
    """Rows below a key: object members, array items, mapping values, union variants."""
    items = child.get("items") if child.get("type") == "array" else None
    inner = items if items else child
    if "properties" in _resolve(schema, inner) and here.count(".") < 4:
        yield from _walk(schema, inner, here + ("[]" if items else ""))
    values = child.get("additionalProperties")
    if isinstance(values, dict) and "properties" in _resolve(schema, values):
        yield from _walk(schema, values, here + ".<call>")
    for variant in _variants(schema, child):
        kind = variant["properties"]["kind"].get("const", "?")
        yield from _walk(schema, variant, f"{here} (kind: {kind})")


def _walk(schema: dict[str, Any], node: dict[str, Any], path: str) -> Iterator[str]:
    for key, child in _resolve(schema, node).get("properties", {}).items():
        here = f"{path}.{key}" if path else key
        yield _row(schema, here, child)
        yield from _children(schema, child, here)


def _variants(schema: dict[str, Any], node: dict[str, Any]) -> list[dict[str, Any]]:
    """The alternatives of a `kind`-discriminated union (the sides of a real target)."""
    options = []
    for option in node.get("anyOf", [node]):
        options += [_resolve(schema, n) for n in option.get("oneOf", [])]
    return [o for o in options if "kind" in o.get("properties", {})]


def config_reference() -> str:
    """A markdown table of the config file's keys, from the JSON Schema."""
    schema = Config.model_json_schema()
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    rows += list(_walk(schema, schema, ""))
    return "\n".join(rows)


def probes_reference() -> str:
    """What each probe needs of a target, and its worst case at the default deadlines."""
    deadlines = Deadlines()
    rows = ["| probe | needs (side.call) | worst case at default deadlines |", "|---|---|---|"]
    for name, probe in REGISTRY.items():
        needs = ", ".join(f"`{n}`" for n in probe.NEEDS)
        alone = " (runs alone on its target)" if probe.EXCLUSIVE else ""
        rows.append(f"| `{name}` | {needs}{alone} | {probe.worst_case(deadlines):g} s |")
    return "\n".join(rows)


SECTIONS = {
    "metrics": metrics_reference,
    "config": config_reference,
    "probes": probes_reference,
}


def render(text: str) -> str:
    """README text with every generated section brought up to date."""
    for name, make in SECTIONS.items():
        pattern = re.compile(
            rf"(<!-- generated:{name} -->\n)(?:.*?\n)?(<!-- /generated:{name} -->)", re.DOTALL
        )
        text = pattern.sub(lambda m, make=make: f"{m.group(1)}{make()}\n{m.group(2)}", text)  # type: ignore[misc]
    return text


def main() -> int:
    README.write_text(render(README.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"updated {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
