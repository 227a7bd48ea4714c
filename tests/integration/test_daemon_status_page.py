"""The status page in a real browser: a row per target × probe with its outcome, and
each row's link to the result's detail (steps, inconsistencies).

Screenshots are kept under test-artifacts/ (gitignored) for a human to look at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest
from support.browser import dump_dom, png_size, screenshot
from support.components import require_binary
from support.monitor_daemon import (
    ROOT,
    base_url,
    every_job_ran,
    monitor_config,
    running_daemon,
    sim_target,
    write_config,
)

from monitor.probes import PROBE_NAMES

pytestmark = pytest.mark.integration

ARTIFACTS = ROOT / "test-artifacts"
TARGETS = ("healthy", "faulty")
WINDOW = (1400, 900)


@dataclass
class Row:
    """One status row as the browser has it: outcome attribute, cell texts, detail link."""

    outcome: str
    cells: list[str] = field(default_factory=list)
    details: str = ""


class StatusRows(HTMLParser):
    """The status table's rows by (target, probe)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[tuple[str, str], Row] = {}
        self._row: Row | None = None
        self._href = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "tr" and "data-target" in found:
            self._row = Row(found["data-outcome"])
            self.rows[(found["data-target"], found["data-probe"])] = self._row
        elif tag == "td" and self._row is not None:
            self._row.cells.append("")
        elif tag == "a" and self._row is not None:
            self._href = found.get("href", "")

    def handle_data(self, data: str) -> None:
        if self._row is None or not self._row.cells:
            return
        self._row.cells[-1] += data.strip()
        if self._href and data.strip() == "details":
            self._row.details = self._href

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._href = ""
        elif tag == "tr":
            self._row = None


def status_rows(dom: str) -> dict[tuple[str, str], Row]:
    parser = StatusRows()
    parser.feed(dom)
    return parser.rows


def chromium() -> str:
    return require_binary("chromium", package="chromium")


def faulty_config(tmp_path: Path) -> Path:
    config = monitor_config(sim_target("healthy"), sim_target("faulty", faults={"skip_cascade": 1}))
    return write_config(tmp_path / "faulty.yaml", config)


async def test_status_page_shows_every_target_and_probe_with_its_outcome(tmp_path: Path) -> None:
    browser = chromium()
    async with (
        running_daemon(faulty_config(tmp_path), tmp_path / "state") as daemon,
        aiohttp.ClientSession() as http,
    ):
        url = base_url(daemon.address)
        await every_job_ran(http, url)
        rows = status_rows(await dump_dom(browser, f"{url}/"))
        shot = await screenshot(browser, f"{url}/", ARTIFACTS / "status-page.png")
    assert set(rows) == {(t, p) for t in TARGETS for p in PROBE_NAMES}
    outcomes = {job: row.outcome for job, row in rows.items()}
    assert outcomes.pop(("faulty", "delete_cascade")) == "fail"
    assert set(outcomes.values()) == {"pass"}
    for row in rows.values():
        _, _, badge, _, last_run, next_run, *_ = row.cells
        assert badge == row.outcome.upper()
        assert last_run.endswith(" s ago"), row.cells
        assert next_run.startswith("in ") or next_run == "due now", row.cells
        assert row.details.startswith("/results/")
    assert png_size(shot.read_bytes()) == WINDOW


async def test_result_detail_linked_from_a_row_shows_steps_and_inconsistencies(
    tmp_path: Path,
) -> None:
    browser = chromium()
    async with (
        running_daemon(faulty_config(tmp_path), tmp_path / "state") as daemon,
        aiohttp.ClientSession() as http,
    ):
        url = base_url(daemon.address)
        await every_job_ran(http, url)
        rows = status_rows(await dump_dom(browser, f"{url}/"))
        detail_url = url + rows[("faulty", "delete_cascade")].details
        dom = await dump_dom(browser, detail_url)
        shot = await screenshot(browser, detail_url, ARTIFACTS / "result-detail.png")
    assert "faulty · delete_cascade" in dom
    assert "<dt>Found</dt><dd>cascade: " in dom
    for step in ("auth.create", "backend.create_dependent", "auth.delete", "backend.wait_delete"):
        assert f"<td>{step}</td>" in dom, step
    assert png_size(shot.read_bytes()) == WINDOW
