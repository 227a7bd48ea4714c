"""The detection benchmark's BENCHMARKS.md section, rendered from its measurements."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench.report import machine, percentile

if TYPE_CHECKING:
    from bench.detection import Detection

RUN_CALLS = 0.5  # seconds a delete_cascade run spends on its calls before the give_up wait
# The Prometheus path as shipped (config/prometheus/prometheus.yml): scrape 15 s, rule
# evaluation 30 s; ConsistencyInconsistency has no `for:`.
SHIPPED_SCRAPE, SHIPPED_EVALUATION, FOR = 15.0, 30.0, 0.0

Pick = Callable[["Detection"], float | None]


@dataclass(frozen=True)
class Setup:
    """What one measurement ran with."""

    path: str  # "built-in" | "prometheus"
    injections: int
    window: float
    interval: float
    give_up: float
    group_wait: float
    scrape: float | None  # Prometheus scrape = evaluation interval
    alertmanager: str
    seconds: float

    @property
    def bound(self) -> float:
        """The path's delays added up, plus the run's own calls and the network."""
        source = 2 * self.scrape + FOR if self.scrape is not None else 0.0
        return self.interval + self.give_up + source + self.group_wait + RUN_CALLS


@dataclass(frozen=True)
class Measured:
    setup: Setup
    found: list[Detection]


def render(results: Sequence[Measured], *, argv: Sequence[str]) -> str:
    builtin, *others = results
    lines = ["## Detection time (fault injection → alert at Alertmanager's receiver)", ""]
    lines += [*_figure(builtin.setup), "", *_table(builtin), "", *_verdict(builtin), ""]
    lines += [*_prometheus_bound(builtin.setup), ""]
    for other in others:
        lines += [*_prometheus_measured(other), "", *_table(other), "", *_verdict(other), ""]
    return "\n".join([*lines, *_machine(builtin.setup, argv)])


def _figure(setup: Setup) -> list[str]:
    return [
        "**Figure.** Seconds from a fault's injection (`skip_cascade` turned on in a running "
        "simulator) to the first firing notification for it at a real Alertmanager's webhook "
        "receiver, on the built-in alerting path at the default probe settings.",
        "",
        f"**Aim / bound.** Every detection within probe interval + `give_up` + `group_wait` + "
        f"network = {setup.interval:g} + {setup.give_up:g} + {setup.group_wait:g} s, plus ≈ "
        f"{RUN_CALLS:g} s for the run's own calls before its `give_up` wait: **{setup.bound:g} s"
        "**. A fault starts at a uniformly random moment of the interval, so the median should "
        f"be about half an interval less ({setup.bound - setup.interval / 2:g} s).",
        "",
        *_setup(setup),
    ]


def _setup(setup: Setup) -> list[str]:
    return [
        "**Setup.** Real clock. One in-process daemon on the embedded default config's "
        "simulator target (auth_latency 50 ms, sync_delay 40 ms, jitter 10 ms), cloned "
        f"{setup.injections} times, each clone running delete_cascade only (interval "
        f"{setup.interval:g} s, give_up {setup.give_up:g} s) with the built-in rules at their "
        f"defaults; a real Alertmanager {setup.alertmanager} (clustering off) loaded with the "
        "shipped `config/alertmanager/alertmanager.yml`, its webhook URLs pointed at a local "
        f"aiohttp receiver (critical route: group_wait {setup.group_wait:g} s). Each clone gets "
        f"one injection at a uniformly random moment within {setup.window:g} s; clones share "
        "nothing (own world, own schedule slot, own Alertmanager group), so they are "
        f"independent injections. Whole run: {setup.seconds:.0f} s.",
    ]


def _row(name: str, found: Sequence[Detection], pick: Pick, scale: float = 1.0) -> str:
    values = [v * scale for v in map(pick, found) if v is not None]
    unit = " ms" if scale != 1.0 else " s"

    def cell(v: float) -> str:
        return f"{v:.1f}{unit}"

    stats = (statistics.median(values), percentile(values, 90), min(values), max(values))
    return f"| {name} | {' | '.join(map(cell, stats))} |"


def _table(measured: Measured) -> list[str]:
    found = measured.found
    rows = [
        f"**Measured** over {len(found)} injections:",
        "",
        "| from injection to … | median | p90 | min | max |",
        "|---|---|---|---|---|",
        _row("**the notification at the receiver**", found, lambda d: d.notified),
        _row("the start of the run that found it", found, lambda d: d.run_started),
        _row("that run's finding (`cascade`)", found, lambda d: d.run_found),
    ]
    if measured.setup.scrape is None:
        rows += [
            _row("*finding → alert firing in the monitor*", found, _firing_delay, 1000.0),
            _row("*firing → notification (group_wait + network)*", found, _am_delay),
        ]
    else:
        rows.append(_row("*finding → notification*", found, lambda d: d.notified - d.run_found))
    return rows


def _firing_delay(d: Detection) -> float | None:
    return None if d.fired is None else d.fired - d.run_found


def _am_delay(d: Detection) -> float | None:
    return None if d.fired is None else d.notified - d.fired


def _verdict(measured: Measured) -> list[str]:
    setup, found = measured.setup, measured.found
    worst = max(d.notified for d in found)
    median = statistics.median(d.notified for d in found)
    return [
        f"**Verdict.** {'Met' if worst <= setup.bound else 'Not met'}: the slowest of "
        f"{len(found)} detections took {worst:.1f} s against the {setup.bound:g} s bound; the "
        f"median {median:.1f} s. Almost all of it is waiting by design: for the next run, for "
        "the run's `give_up` deadline, and for Alertmanager's `group_wait`"
        + (
            "; the monitor's own share after the finding is the evaluation on every result."
            if setup.scrape is None
            else "; plus Prometheus' scrape and evaluation."
        ),
    ]


def _prometheus_bound(setup: Setup) -> list[str]:
    total = (
        setup.interval
        + setup.give_up
        + SHIPPED_SCRAPE
        + SHIPPED_EVALUATION
        + FOR
        + setup.group_wait
    )
    return [
        "### The Prometheus-rule path",
        "",
        "**Bound.** probe interval + `give_up` + scrape interval + rule evaluation interval + "
        f"`for:` + `group_wait` = {setup.interval:g} + {setup.give_up:g} + {SHIPPED_SCRAPE:g} + "
        f"{SHIPPED_EVALUATION:g} + {FOR:g} + {setup.group_wait:g} = **{total:g} s** (+ network) "
        "with the shipped `config/prometheus/prometheus.yml` and alerting rules "
        "(ConsistencyInconsistency has no `for:`) and the same Alertmanager route.",
    ]


def _prometheus_measured(measured: Measured) -> list[str]:
    s = measured.setup
    return [
        f"**Measured once with short settings.** The same set-up with {s.injections} clones, "
        "the monitor's notifiers off, and a real Prometheus scraping it and evaluating the "
        f"shipped recording and alerting rules every {s.scrape:g} s, sending to the same "
        f"Alertmanager. Bound: {s.interval:g} + {s.give_up:g} + {s.scrape:g} + {s.scrape:g} + "
        f"{FOR:g} + {s.group_wait:g} + {RUN_CALLS:g} (the run's calls) = {s.bound:g} s. Whole "
        f"run: {s.seconds:.0f} s.",
    ]


def _machine(setup: Setup, argv: Sequence[str]) -> list[str]:
    m = machine()
    command = " ".join(["python -m bench detection", *argv])
    if "--write" not in argv:
        command += " --write"
    return [
        f"**Machine.** {m['cpu']}, {m['nproc']} CPUs, {m['python']}; Alertmanager "
        f"{setup.alertmanager}. **Date.** {m['date']}.",
        "",
        f"**Command.** `{command}`",
    ]
