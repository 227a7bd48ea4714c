"""The shipped Grafana dashboards read back: panels, queries, variables, and queries with
the template variables substituted the way Grafana would.

No Grafana here: tests check the JSON themselves and run the rendered queries against a
real Prometheus (`support.prometheus`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "dashboards"
GRID_COLUMNS = 24

# `$name`, `${name}`, `${name:format}` and the deprecated `[[name]]`.
VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)\]\]|\$(\w+)")

Panel = dict[str, Any]
Dashboard = dict[str, Any]


def load_dashboards() -> dict[str, Dashboard]:
    """Every dashboards/*.json by file name."""
    boards: dict[str, Dashboard] = {}
    for path in sorted(DASHBOARDS.glob("*.json")):
        board: Dashboard = json.loads(path.read_text(encoding="utf-8"))
        boards[path.name] = board
    return boards


def all_panels(board: Dashboard) -> Iterator[Panel]:
    """Every panel, rows included, and the panels inside collapsed rows."""
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def query_panels(board: Dashboard) -> list[Panel]:
    """The panels that show data (everything but rows)."""
    return [p for p in all_panels(board) if p.get("type") != "row"]


def exprs(panel: Panel) -> list[str]:
    return [t["expr"] for t in panel.get("targets", [])]


def variable(board: Dashboard, name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [v for v in board["templating"]["list"] if v.get("name") == name]
    assert len(found) == 1, f"{board.get('uid')}: {len(found)} variables named {name!r}"
    return found[0]


def variable_query(var: Mapping[str, Any]) -> str:
    """A query variable's query, whether stored as a string or as the editor's object."""
    query = var.get("query")
    return str(query["query"] if isinstance(query, Mapping) else query)


def variables_used(text: str) -> set[str]:
    return {next(g for g in m.groups() if g) for m in VARIABLE.finditer(text)}


def render(expr: str, values: Mapping[str, str]) -> str:
    """`expr` with every template variable replaced; an unknown one is an error."""

    def value(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g)
        if name not in values:
            raise KeyError(f"unknown template variable ${name} in {expr!r}")
        return values[name]

    return VARIABLE.sub(value, expr)


def overlapping(a: Panel, b: Panel) -> bool:
    """Whether two panels' gridPos rectangles share any cell."""
    pa, pb = a["gridPos"], b["gridPos"]
    return bool(
        pa["x"] < pb["x"] + pb["w"]
        and pb["x"] < pa["x"] + pa["w"]
        and pa["y"] < pb["y"] + pb["h"]
        and pb["y"] < pa["y"] + pa["h"]
    )


def threshold_steps(thresholds: Mapping[str, Any]) -> list[tuple[str, float | None]]:
    """`[(colour, from value)]`; the first step's value is None (the base colour)."""
    return [(s["color"], s["value"]) for s in thresholds["steps"]]


def override_thresholds(panel: Panel, field: str) -> list[tuple[str, float | None]]:
    """The thresholds an override sets on one field (matched by name or query refId)."""
    for override in panel["fieldConfig"]["overrides"]:
        if override["matcher"]["options"] == field:
            for prop in override["properties"]:
                if prop["id"] == "thresholds":
                    return threshold_steps(prop["value"])
    raise AssertionError(f"{panel['title']}: no thresholds override for {field}")


# -- what a panel's query answers -------------------------------------------------------


@dataclass(frozen=True)
class Shows:
    """What a panel shows for the faulty target and for the healthy one.

    data: series for both. faults: a non-zero series for the faulty target, only zeros
    or nothing for the healthy one (among the series whose labels match `where`).
    ratio: a value below 1 for the faulty target, exactly 1 for the healthy one.
    """

    what: Literal["data", "faults", "ratio"]
    per_probe: bool = False
    where: Mapping[str, str] = field(default_factory=dict)


Rows = list[dict[str, Any]]


def values_of(rows: Rows, where: Mapping[str, str]) -> list[float]:
    """The values of the series whose labels fully match every regex in `where`."""
    return [
        float(r["value"][1])
        for r in rows
        if all(re.fullmatch(rx, r["metric"].get(k, "")) for k, rx in where.items())
    ]


def other_targets(rows: Rows, target: str) -> set[str]:
    """Targets other than `target` among the answer's series: the query did not filter."""
    return {r["metric"]["target"] for r in rows if r["metric"].get("target", target) != target}


def problems(shows: Shows, faulty: Rows, healthy: Rows) -> list[str]:
    """What is wrong with one query's answers for a faulty and a healthy target, given
    what its panel shows."""
    bad, good = values_of(faulty, shows.where), values_of(healthy, shows.where)
    finite = [v for v in bad if math.isfinite(v)]
    ok: dict[str, bool]
    match shows.what:
        case "data":
            ok = {"faulty: a value": bool(finite), "healthy: a series": bool(good)}
        case "faults":
            ok = {
                "faulty: a non-zero value": any(v > 0 for v in finite),
                "healthy: only zeros": all(v == 0 for v in good),
            }
        case "ratio":
            ok = {
                "faulty: a ratio below 1": any(0 <= v < 1 for v in finite),
                "healthy: 1": bool(good) and all(math.isclose(v, 1) for v in good),
            }
    return [what for what, holds in ok.items() if not holds]
