"""Server-rendered HTML: the status page and one result's detail. No JavaScript needed."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from html import escape
from typing import Any

from monitor.recorder import Recorded
from monitor.report import found_cell, ms, syncs_cell
from monitor.results import result_to_dict

REFRESH_SECONDS = 10
STRIP = 30  # recent results a row's strip shows: 1000 jobs × 100 cells was a 100k-cell page

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1d1d1f;background:#fafafa}
h1{font-size:1.4rem;margin:0 0 .3rem} .meta{color:#555;margin-bottom:1rem;font-size:.9rem}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{padding:.35rem .6rem;border-bottom:1px solid #e3e3e3;text-align:left;vertical-align:top}
.when{white-space:nowrap}
th{background:#f0f0f0;font-weight:600;font-size:.85rem}
.outcome{font-weight:700;padding:.1rem .45rem;border-radius:.3rem;color:#fff;font-size:.8rem}
.pass{background:#1e8e3e}.fail{background:#d93025}.error{background:#7b5800}.none{background:#999}
.strip{display:flex;gap:2px;flex-wrap:wrap;max-width:34rem}
.strip a{display:block;width:9px;height:18px;border-radius:2px}
.found{font-size:.85rem;color:#333;max-width:34rem}
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}
"""


def _page(title: str, body: str, *, refresh: bool) -> str:
    meta = f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">' if refresh else ""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">{meta}'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def _until(ts: float | None, now: float) -> str:
    """The next run: `in 12 s`, or `due now` while it is starting or running."""
    if ts is None:
        return "not scheduled"
    return f"in {ts - now:.0f} s" if ts - now >= 0.5 else "due now"


def _ago(ts: float | None, now: float) -> str:
    if ts is None:
        return "never"
    delta = now - ts
    return f"{delta:.0f} s ago" if delta >= 0 else f"in {-delta:.0f} s"


def _badge(outcome: str | None) -> str:
    label = outcome or "pending"
    return f'<span class="outcome {escape(outcome or "none")}">{escape(label.upper())}</span>'


def _strip(history: Iterable[Mapping[str, Any]]) -> str:
    cells = [
        f'<a class="{escape(h["outcome"])}" href="/results/{h["seq"]}" '
        f'title="{escape(h["started_at"])}: {escape(h["outcome"])}" '
        f'aria-label="{escape(h["outcome"])}"></a>'
        for h in history
    ]
    return f'<div class="strip">{"".join(cells)}</div>'


def _row(job: Mapping[str, Any], now: float) -> str:
    last = job.get("last")
    latency = found = "-"
    if last:
        latency = escape(_syncs_text(last["syncs"]))
        found = escape(_found_text(last))
    detail = f'<a href="/results/{last["seq"]}">details</a>' if last else ""
    return (
        f'<tr data-target="{escape(job["target"])}" data-probe="{escape(job["probe"])}" '
        f'data-outcome="{escape(last["outcome"] if last else "pending")}">'
        f"<td>{escape(job['target'])}</td><td>{escape(job['probe'])}</td>"
        f"<td>{_badge(last['outcome'] if last else None)}</td><td>{latency}</td>"
        f'<td class="when">{_ago(job.get("last_run_timestamp"), now)}</td>'
        f'<td class="when">{_until(job.get("next_run_timestamp"), now)}</td>'
        f"<td>{_strip(job.get('history', []))}</td>"
        f'<td class="found">{found}</td><td>{detail}</td></tr>'
    )


def _syncs_text(syncs: list[dict[str, Any]]) -> str:
    from monitor.results import Sync

    return syncs_cell([Sync(s["operation"], s["seconds"], s["reads"]) for s in syncs])


def _found_text(result: Mapping[str, Any]) -> str:
    notes = [f"{i['kind']}: {i['detail']}" for i in result["inconsistencies"]]
    if result.get("error"):
        notes.append(f"error: {result['error']}")
    return "; ".join(notes) or "-"


def status_page(
    head: Mapping[str, Any], jobs: Iterable[Mapping[str, Any]], count: int, now: float | None = None
) -> Iterator[str]:
    """The status page in pieces, a row per job as `jobs` yields it (made while sent)."""
    now = time.time() if now is None else now
    ready = "ready" if head.get("ready") else "not ready"
    header = (
        "<tr><th>Target</th><th>Probe</th><th>Outcome</th><th>Sync latency</th>"
        "<th>Last run</th><th>Next run</th><th>History (oldest → newest)</th>"
        "<th>Found</th><th></th></tr>"
    )
    body = (
        f'<h1>consistency-monitor</h1><div class="meta">version {escape(head.get("version", ""))}'
        f" · {ready} · {count} probes · refreshes every {REFRESH_SECONDS} s · "
        f'<a href="/metrics">metrics</a> · <a href="/api/status">status JSON</a></div>'
        f"<table><thead>{header}</thead><tbody>{_ROWS}</tbody></table>"
    )
    before, after = _page("consistency-monitor", body, refresh=True).split(_ROWS)
    yield before
    empty = True
    for job in jobs:
        empty = False
        yield _row(job, now)
    if empty:
        yield '<tr><td colspan="9">no probes configured</td></tr>'
    yield after


_ROWS = "\0rows\0"  # where the rows go in the page around them


def render_detail(recorded: Recorded) -> str:
    """One result: outcome, what was found, every sync and every timed step."""
    r = recorded.result
    data = result_to_dict(r)
    syncs = "".join(
        f"<tr><td>{escape(s['operation'])}</td><td>{_secs(s['seconds'])}</td><td>{s['reads']}</td></tr>"
        for s in data["syncs"]
    )
    steps = "".join(
        f"<tr><td>{escape(s['name'])}</td><td>{ms(s['seconds'])}</td></tr>" for s in data["steps"]
    )
    body = (
        f"<h1>{escape(r.target)} · {escape(r.probe)} {_badge(r.outcome)}</h1>"
        f'<div class="meta"><a href="/">← status</a> · '
        f'<a href="/api/results/{recorded.seq}">JSON</a></div>'
        f"<dl><dt>Started</dt><dd>{escape(data['started_at'])}</dd>"
        f"<dt>Duration</dt><dd>{ms(r.duration_seconds)}</dd>"
        f"<dt>Found</dt><dd>{escape(found_cell(r))}</dd></dl>"
        f"<h2>Syncs</h2><table><thead><tr><th>Operation</th><th>Latency</th><th>Reads</th>"
        f"</tr></thead><tbody>{syncs}</tbody></table>"
        f"<h2>Steps</h2><table><thead><tr><th>Call or wait</th><th>Time</th></tr></thead>"
        f"<tbody>{steps}</tbody></table>"
    )
    return _page(f"{r.target} {r.probe}", body, refresh=False)


def _secs(value: float | None) -> str:
    return "never arrived" if value is None else ms(value)
