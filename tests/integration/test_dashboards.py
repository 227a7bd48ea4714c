"""The Grafana dashboards: what Grafana needs to load them, colours that match the alert
rules, and every panel query answering against a real Prometheus that scraped a healthy
and a faulty simulator target.

Grafana itself is not installable here, so the JSON is checked for what Grafana requires
(uid, title, schemaVersion, panels with id, type, gridPos, datasource and targets) and
the queries are run with the template variables substituted as Grafana would.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.components import require_binary
from support.dashboards import (
    DASHBOARDS,
    GRID_COLUMNS,
    ROOT,
    Panel,
    Rows,
    Shows,
    all_panels,
    exprs,
    load_dashboards,
    other_targets,
    overlapping,
    override_thresholds,
    problems,
    query_panels,
    render,
    threshold_steps,
    variable,
    variable_query,
    variables_used,
)
from support.monitor_daemon import monitor_config, running_daemon, sim_target, write_config
from support.prometheus import Prometheus, running_prometheus, scrape_config
from support.waiting import eventually

pytestmark = pytest.mark.integration

OVERVIEW = "consistency-overview.json"
DETAIL = "consistency-probe-detail.json"
BOARDS = load_dashboards()
ALERTING_RULES = ROOT / "config" / "prometheus" / "alerting-rules.yml"
PROVISIONING = DASHBOARDS / "provisioning"
DOCS = ROOT / "docs" / "dashboards.md"

FAULTS = {
    "skip_cascade": 1,
    "drop_sync": {"update": 0.5},
    "auth_errors": 0.2,
    "duplicate_sync": 0.3,
}
# The detail dashboard is looked at for a probe whose fault fires on every run.
DETAIL_PROBE = "delete_cascade"
# What Grafana puts in for its own variables (at a 15 s scrape interval, $__rate_interval
# would be 60 s; the test scrapes every second).
BUILTINS = {"__rate_interval": "30s", "__range": "5m", "__interval": "5s"}
PADDING = re.compile(r"\bvector\s*\(")
FAILED_RUNS = {"outcome": "fail|error"}
EXPECTED: dict[tuple[str, str], Shows] = {
    (OVERVIEW, "Pass ratio"): Shows("ratio"),
    (OVERVIEW, "Consistency nines: writes visible within 1 s / 5 s / 60 s"): Shows("ratio"),
    (OVERVIEW, "Firing alerts"): Shows("faults"),
    (OVERVIEW, "Firing alerts: which, where, how severe"): Shows("faults"),
    (OVERVIEW, "Inconsistencies by kind"): Shows("faults"),
    (OVERVIEW, "Writes that never arrived (sync timeouts) by operation"): Shows("faults"),
    (OVERVIEW, "Sync latency p50 / p99 by operation"): Shows("data"),
    (OVERVIEW, "Pass ratio by probe (10m window, as alerted)"): Shows("ratio", per_probe=True),
    (OVERVIEW, "Probe errors (errored runs in 5m)"): Shows("faults", per_probe=True),
    (OVERVIEW, "Last run age"): Shows("data", per_probe=True),
    (DETAIL, "Last run"): Shows("ratio", per_probe=True),
    (DETAIL, "Pass ratio"): Shows("ratio", per_probe=True),
    (DETAIL, "Runs by outcome"): Shows("faults", per_probe=True, where=FAILED_RUNS),
    (DETAIL, "Last run age"): Shows("data", per_probe=True),
    (DETAIL, "Firing alerts"): Shows("faults", per_probe=True),
    (DETAIL, "Run outcomes"): Shows("faults", per_probe=True, where=FAILED_RUNS),
    (DETAIL, "Inconsistencies by kind"): Shows("faults", per_probe=True),
    (DETAIL, "Run duration"): Shows("data", per_probe=True),
    (DETAIL, "Skipped runs by reason"): Shows("data", per_probe=True),
    (DETAIL, "Call duration p99 by side and call"): Shows("data"),
    (DETAIL, "Mean call duration over the range"): Shows("data"),
    (DETAIL, "Sync latency p50 / p99 by operation"): Shows("data"),
    (DETAIL, "Writes that never arrived (sync timeouts) by operation"): Shows("faults"),
}
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# Grafana's built-in panel types these dashboards may use (no plugins to install).
CORE_PANELS = {"row", "stat", "timeseries", "table", "heatmap", "bargauge"}

boards = pytest.mark.parametrize("name", sorted(BOARDS))


def panel(name: str, title: str) -> Panel:
    found = [p for p in query_panels(BOARDS[name]) if p["title"] == title]
    assert len(found) == 1, f"{name}: {len(found)} panels titled {title!r}"
    return found[0]


# -- what Grafana requires ----------------------------------------------------------------


def test_both_dashboards_ship() -> None:
    assert sorted(BOARDS) == sorted([OVERVIEW, DETAIL])


@boards
def test_dashboard_has_uid_title_schema_and_variables(name: str) -> None:
    board = BOARDS[name]
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", board["uid"]), board.get("uid")
    assert board["title"].strip()
    assert board["schemaVersion"] >= 36
    names = [v["name"] for v in board["templating"]["list"]]
    assert names == ["datasource", "target", "probe"]


@boards
def test_datasource_variable_picks_a_prometheus(name: str) -> None:
    ds = variable(BOARDS[name], "datasource")
    assert (ds["type"], ds["query"]) == ("datasource", "prometheus")


@boards
def test_target_and_probe_variables_list_what_the_monitor_reports(name: str) -> None:
    board = BOARDS[name]
    target, probe = variable(board, "target"), variable(board, "probe")
    assert variable_query(target) == "label_values(consistency_probe_runs_total, target)"
    assert re.fullmatch(
        r'label_values\(consistency_probe_runs_total\{target=~?"\$target"\}, probe\)',
        variable_query(probe),
    )
    for var in (target, probe):
        assert var["type"] == "query" and var["datasource"] == DATASOURCE
        many = name == OVERVIEW  # the detail is one probe on one target
        assert (var["multi"], var["includeAll"]) == (many, many), var["name"]


@boards
def test_panels_have_unique_ids_a_type_and_the_datasource_variable(name: str) -> None:
    panels = list(all_panels(BOARDS[name]))
    ids = [p["id"] for p in panels]
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == len(ids), ids
    assert {p["type"] for p in panels} <= CORE_PANELS
    for p in query_panels(BOARDS[name]):
        assert p["datasource"] == DATASOURCE, p["title"]
        assert p["targets"], p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(set(refs)) == len(refs), p["title"]
        for t in p["targets"]:
            assert t["datasource"] == DATASOURCE and t["expr"].strip(), p["title"]


@boards
def test_panels_fit_24_columns_without_overlapping(name: str) -> None:
    panels = list(all_panels(BOARDS[name]))
    for p in panels:
        pos = p["gridPos"]
        assert all(isinstance(pos[k], int) for k in "xywh"), p["title"]
        assert pos["x"] >= 0 and pos["y"] >= 0 and pos["w"] >= 1 and pos["h"] >= 1, p["title"]
        assert pos["x"] + pos["w"] <= GRID_COLUMNS, p["title"]
    clashes = [
        (a["title"], b["title"])
        for i, a in enumerate(panels)
        for b in panels[i + 1 :]
        if overlapping(a, b)
    ]
    assert clashes == []


@boards
def test_queries_use_defined_variables_and_no_zero_padding(name: str) -> None:
    board = BOARDS[name]
    known = {v["name"] for v in board["templating"]["list"]} | set(BUILTINS)
    for p in query_panels(board):
        for expr in exprs(p):
            assert variables_used(expr) <= known, (p["title"], expr)
            assert "$target" in expr, f"{p['title']}: not filtered by target"
            assert not PADDING.search(expr), f"{p['title']}: padded with vector(): {expr}"


@boards
def test_only_per_probe_panels_use_the_probe_variable(name: str) -> None:
    board = BOARDS[name]
    titles = [p["title"] for p in query_panels(board)]
    assert len(set(titles)) == len(titles), "panel titles name panels in the tests and docs"
    assert sorted(titles) == sorted(t for (n, t) in EXPECTED if n == name)
    for p in query_panels(board):
        uses_probe = any("probe" in variables_used(e) for e in exprs(p))
        assert uses_probe == EXPECTED[name, p["title"]].per_probe, p["title"]


def test_links_point_at_shipped_dashboards() -> None:
    uids = {board["uid"] for board in BOARDS.values()}
    text = "".join(str(board) for board in BOARDS.values())
    linked = set(re.findall(r"/d/([\w-]+)", text))
    assert linked and linked <= uids


# -- colours and units match the alert rules ---------------------------------------------


def alert_expr(alertname: str) -> str:
    groups = yaml.safe_load(ALERTING_RULES.read_text(encoding="utf-8"))["groups"]
    found = [r["expr"] for g in groups for r in g["rules"] if r.get("alert") == alertname]
    assert len(found) == 1, alertname
    return str(found[0])


def alert_number(alertname: str, pattern: str) -> float:
    match = re.search(pattern, alert_expr(alertname))
    assert match, f"{alertname}: {pattern!r} not in its expr"
    return float(match.group(1))


def defaults(p: Panel) -> dict[str, Any]:
    return dict(p["fieldConfig"]["defaults"])


def test_pass_ratios_turn_red_below_the_success_ratio_alert() -> None:
    low = alert_number("ConsistencySuccessRatioLow", r"<\s*([\d.]+)")
    ratios = [(OVERVIEW, "Pass ratio"), (DETAIL, "Pass ratio")]
    by_probe = (OVERVIEW, "Pass ratio by probe (10m window, as alerted)")
    for name, title in [*ratios, by_probe]:
        p = panel(name, title)
        assert defaults(p)["unit"] == "percentunit", title
        assert threshold_steps(defaults(p)["thresholds"]) == [("red", None), ("green", low)]
    assert "ratio_rate10m" in alert_expr("ConsistencySuccessRatioLow")
    assert all("[10m]" in e for e in exprs(panel(*by_probe)))


def test_sync_latency_turns_red_above_the_latency_alert() -> None:
    high = alert_number("ConsistencySyncLatencyHigh", r">\s*([\d.]+)")
    for name in (OVERVIEW, DETAIL):
        p = panel(name, "Sync latency p50 / p99 by operation")
        assert defaults(p)["unit"] == "s"
        assert threshold_steps(defaults(p)["thresholds"]) == [("green", None), ("red", high)]


def test_probe_errors_turn_red_at_the_probe_errors_alert() -> None:
    errors = alert_number("ConsistencyProbeErrors", r">=\s*([\d.]+)")
    p = panel(OVERVIEW, "Probe errors (errored runs in 5m)")
    assert threshold_steps(defaults(p)["thresholds"]) == [("green", None), ("red", errors)]
    assert "[5m]" in alert_expr("ConsistencyProbeErrors") and "[5m]" in exprs(p)[0]


def test_last_run_age_turns_red_at_the_stale_probe_alert() -> None:
    stale = alert_number("ConsistencyProbeStale", r">\s*([\d.]+)\s*\*")
    red = [("green", None), ("red", stale)]
    assert override_thresholds(panel(OVERVIEW, "Last run age"), "Value #B") == red
    assert override_thresholds(panel(DETAIL, "Last run age"), "B") == red
    assert defaults(panel(OVERVIEW, "Last run age"))["unit"] == "s"


def test_nines_are_percentages_of_writes_including_timeouts() -> None:
    p = panel(OVERVIEW, "Consistency nines: writes visible within 1 s / 5 s / 60 s")
    assert defaults(p)["unit"] == "percentunit"
    numerators = ['le="1.0"', 'le="5.0"', "consistency_sync_latency_seconds_count"]
    for expr, numerator in zip(exprs(p), numerators, strict=True):
        head, denominator = expr.split("\n/\n")
        assert numerator in head
        assert "consistency_sync_timeouts_total" in denominator


# -- provisioning and docs --------------------------------------------------------------


def test_provisioning_points_grafana_at_prometheus_and_the_dashboards() -> None:
    sources = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())
    [source] = sources["datasources"]
    assert (source["type"], source["url"]) == ("prometheus", "http://prometheus:9090")
    for board in BOARDS.values():
        assert variable(board, "datasource")["current"]["value"] == source["uid"]
    [providers] = [
        yaml.safe_load(path.read_text())["providers"]
        for path in (PROVISIONING / "dashboards").glob("*.yml")
    ]
    assert [(p["type"], p["options"]["path"]) for p in providers] == [
        ("file", "/etc/grafana/dashboards")
    ]
    # compose mounts the dashboards where the provider reads them
    grafana = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["grafana"]
    assert ("./dashboards", "/etc/grafana/dashboards") in map(mount, grafana["volumes"])


def mount(volume: str | dict[str, str]) -> tuple[str, str]:
    """A compose volume, short (`src:dst[:ro]`) or long syntax, as (source, target)."""
    if isinstance(volume, dict):
        return volume["source"], volume["target"]
    source, target, *_ = volume.split(":")
    return source, target


def test_docs_say_what_each_panel_answers() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    for name, title in EXPECTED:
        assert f"| {title} |" in docs, f"{name}: {title!r} not in {DOCS.name}'s tables"


# -- every query against a real Prometheus -------------------------------------------------


def selection(name: str, target: str) -> dict[str, str]:
    """The variables as a user sets them: one target, all probes (overview) or the one
    with the always-firing fault (detail)."""
    probe = variable(BOARDS[name], "probe")
    chosen = probe["allValue"] if probe["includeAll"] else DETAIL_PROBE
    return {"datasource": "prometheus", "target": target, "probe": chosen, **BUILTINS}


async def answers(prom: Prometheus, name: str, expr: str, target: str) -> Rows:
    return await prom.query(render(expr, selection(name, target)))


async def every_problem(prom: Prometheus) -> list[str]:
    """Every panel query run for both targets: what does not hold yet."""
    found = []
    for (name, title), shows in EXPECTED.items():
        for t in panel(name, title)["targets"]:
            faulty = await answers(prom, name, t["expr"], "faulty")
            healthy = await answers(prom, name, t["expr"], "healthy")
            if leaks := other_targets(faulty, "faulty") | other_targets(healthy, "healthy"):
                found.append(f"{name} {title!r} {t['refId']}: series of {sorted(leaks)}")
            found += [
                f"{name} {title!r} {t['refId']}: {p}" for p in problems(shows, faulty, healthy)
            ]
    return found


async def test_every_panel_query_shows_the_faulty_target_and_not_the_healthy(
    tmp_path: Path,
) -> None:
    binary = require_binary("prometheus", package="prometheus")
    config = monitor_config(
        sim_target("healthy"),
        sim_target("faulty", faults=FAULTS),
        # sync at 1 s as in production: the nines' le="1.0" is the sync deadline
        defaults={"timeout": "10s", "deadlines": {"sync": "1s", "give_up": "2s", "load": "2s"}},
        alerts={"evaluation_interval": "1s"},
    )
    path = write_config(tmp_path / "monitor.yaml", config)
    async with running_daemon(path, tmp_path / "state") as daemon:
        scraping = scrape_config([daemon.address], scrape_interval="1s")
        async with running_prometheus(binary, scraping, tmp_path / "prometheus") as prom:
            left = await eventually(
                lambda: every_problem(prom),
                lambda found: not found,
                within=60,
                every=1,
                what="every panel query answering as its panel expects",
            )
    assert left == []
