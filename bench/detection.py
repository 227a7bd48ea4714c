"""Detection time: from fault injection to the alert at a real Alertmanager's webhook receiver.

The built-in alerting path at the default settings, on the real clock: one daemon runs
the embedded default config's simulator target cloned N times (delete_cascade only,
interval 30 s, give_up 5 s), sending alerts to a real Alertmanager that routes them as
the shipped config/alertmanager/alertmanager.yml does (its webhook URLs pointed at a
local receiver). Each clone is one injection: at a uniformly random moment within
`--window` seconds, its running simulator gets `skip_cascade: 1`; the detection time is
from then to the first firing notification for that target at the receiver. Injections
on separate targets do not interact (own world, own schedule, own Alertmanager group),
so N of them take one window plus one detection instead of N.

Then, once, the same over the Prometheus-rule path with short scrape and evaluation
intervals: a real Prometheus scrapes the daemon, evaluates the shipped rules and sends
to the same Alertmanager; the daemon's own notifiers are off.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from bench.detection_report import Measured, Setup, render
from bench.report import write_section
from monitor.alerts.config import AlertmanagerTarget, AlertsConfig
from monitor.config import Config, load_config
from monitor.daemon import Daemon
from monitor.durations import parse_duration
from monitor.history import Entry
from monitor.sim.world import World

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the tests' Alertmanager, Prometheus, receiver helpers
from support.alertmanager import running_alertmanager  # noqa: E402
from support.prometheus import running_prometheus, scrape_config  # noqa: E402
from support.receiver import Receiver  # noqa: E402

SHIPPED_ALERTMANAGER = ROOT / "config" / "alertmanager" / "alertmanager.yml"
RULE_FILES = [
    ROOT / "config" / "prometheus" / f for f in ("recording-rules.yml", "alerting-rules.yml")
]
PROBE = "delete_cascade"
POLL = 0.02  # seconds between looks at the receiver; part of the measured time, at most


@dataclass(frozen=True)
class Plan:
    """One measurement: which path, how many injections over how long, which intervals."""

    path: str  # "built-in" | "prometheus"
    injections: int
    window: float
    interval: float | None  # probe interval; None: the config default
    scrape: float | None = None  # Prometheus scrape and evaluation interval
    seed: int = 1


@dataclass(frozen=True)
class Detection:
    """One injection: seconds from it to the detecting run's start and finding, the
    monitor's alert firing (built-in path), and the notification at the receiver."""

    target: str
    run_started: float
    run_found: float
    fired: float | None
    notified: float


# -- configs ----------------------------------------------------------------------------


def alertmanager_config(receiver_url: str) -> dict[str, Any]:
    """The shipped Alertmanager config with every webhook sent to our receiver."""
    config: dict[str, Any] = yaml.safe_load(SHIPPED_ALERTMANAGER.read_text())
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = receiver_url
    return config


def critical_group_wait(config: dict[str, Any]) -> float:
    """The `group_wait` a critical alert gets from the route tree (one level deep)."""
    route = config["route"]
    for sub in route.get("routes", []):
        if 'severity="critical"' in sub.get("matchers", []):
            return parse_duration(sub.get("group_wait", route["group_wait"]))
    return parse_duration(route.get("group_wait", "30s"))


def monitor_config(plan: Plan, alertmanager_url: str | None) -> Config:
    """The embedded default config, its target cloned once per injection, delete_cascade only."""
    default = load_config(None)
    template = default.targets[0]
    targets = [
        template.model_copy(update={"name": f"{template.name}-{i:03d}", "probes": {PROBE: None}})
        for i in range(plan.injections)
    ]
    managers = [AlertmanagerTarget(url=alertmanager_url)] if alertmanager_url else []
    defaults = default.defaults
    if plan.interval is not None:
        defaults = defaults.model_copy(update={"interval": plan.interval})
    return default.model_copy(
        update={
            "targets": targets,
            "alerts": AlertsConfig(alertmanagers=managers),
            "defaults": defaults,
        }
    )


def prometheus_config(daemon: Daemon, alertmanager_url: str, scrape: float) -> dict[str, Any]:
    """Scrape the daemon and evaluate the shipped rules every `scrape` s; alert to Alertmanager."""
    config = scrape_config([daemon.address], scrape_interval=f"{scrape:g}s", rule_files=RULE_FILES)
    host = alertmanager_url.removeprefix("http://")
    config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [host]}]}]}
    return config


# -- one injection ----------------------------------------------------------------------


def inject(daemon: Daemon, target: str) -> None:
    """Turn skip_cascade on in the running target's simulator: every deletion now leaks."""
    live = daemon.scheduler.target(target)
    assert live is not None
    world = live.state["world"]
    assert isinstance(world, World)
    world.dice.config = world.dice.config.model_copy(update={"skip_cascade": 1.0})


async def first_firing(receiver: Receiver, target: str, *, within: float) -> float:
    """Monotonic arrival of the first firing notification for `target`."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for delivery in receiver.accepted():
            for alert in delivery.json()["alerts"]:
                if alert["status"] == "firing" and alert["labels"].get("target") == target:
                    return delivery.monotonic
        await asyncio.sleep(POLL)
    raise TimeoutError(f"no alert for {target} within {within:g} s")


async def detect(daemon: Daemon, receiver: Receiver, target: str, delay: float) -> Detection:
    """Inject after `delay` s, wait for the notification, then read how it came about."""
    await asyncio.sleep(delay)
    inject(daemon, target)
    injected, injected_wall = time.monotonic(), time.time()
    notified = await first_firing(receiver, target, within=600)
    history = daemon.recorder.history(target, PROBE)
    run = next(r for r in map(Entry.result, history) if "cascade" in r.kinds)
    fired = [a.fired_at for a in daemon.alerts.alerts() if a.labels["target"] == target]
    return Detection(
        target,
        run.started_at - injected_wall,
        run.started_at + run.duration_seconds - injected_wall,
        fired[0] - injected_wall if fired and fired[0] is not None else None,
        notified - injected,
    )


# -- the whole measurement --------------------------------------------------------------


def binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found: install its Debian package")
    return found


@contextlib.asynccontextmanager
async def running(config: Config, state_dir: Path) -> AsyncIterator[Daemon]:
    daemon = Daemon(config, config_path=None, state_dir=state_dir, listen="127.0.0.1:0")
    await daemon.start()
    try:
        yield daemon
    finally:
        await daemon.stop(grace=1.0)


@contextlib.asynccontextmanager
async def source(plan: Plan, daemon: Daemon, alertmanager_url: str) -> AsyncIterator[None]:
    """On the Prometheus path, a Prometheus alerting from the daemon's metrics."""
    if plan.scrape is None:
        yield
        return
    config = prometheus_config(daemon, alertmanager_url, plan.scrape)
    async with running_prometheus(binary("prometheus"), config, daemon.state_dir.parent / "prom"):
        yield


async def injections(plan: Plan, daemon: Daemon, receiver: Receiver) -> list[Detection]:
    rng = random.Random(plan.seed)
    delays = [rng.uniform(0, plan.window) for _ in range(plan.injections)]
    names = [t.name for t in daemon.config.targets]
    return list(
        await asyncio.gather(
            *map(detect, [daemon] * len(names), [receiver] * len(names), names, delays)
        )
    )


async def measure(plan: Plan, workdir: Path) -> Measured:
    am_binary = binary("prometheus-alertmanager")
    receiver = Receiver()
    await receiver.start()
    am_config = alertmanager_config(receiver.url)
    builtin = plan.scrape is None
    try:
        async with running_alertmanager(am_binary, am_config, workdir / "am") as am:
            config = monitor_config(plan, am.url if builtin else None)
            async with running(config, workdir / "state") as daemon, source(plan, daemon, am.url):
                started = time.monotonic()
                found = await injections(plan, daemon, receiver)
    finally:
        await receiver.close()
    settings = config.probe_settings(config.targets[0], PROBE)
    setup = Setup(
        plan.path,
        plan.injections,
        plan.window,
        settings.interval,
        settings.deadlines.give_up,
        critical_group_wait(am_config),
        plan.scrape,
        version(am_binary),
        time.monotonic() - started,
    )
    return Measured(setup, found)


def version(path: str) -> str:
    """`0.25.0` from `alertmanager, version 0.25.0 (branch: ...)`."""
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    words = (out.stdout + out.stderr).split()
    return words[2] if len(words) > 2 and words[1] == "version" else "(version unknown)"


def arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench detection", description=__doc__)
    add = parser.add_argument
    add("--injections", type=int, default=20, help="faults injected, built-in path (20)")
    add("--window", type=float, help="injection moments spread over this many s (2 intervals)")
    add("--interval", type=float, help="probe interval in s (default: the config's, 30)")
    add(
        "--prometheus-injections",
        type=int,
        default=10,
        help="faults injected on the Prometheus path, over 2 intervals (10; 0 skips it)",
    )
    add(
        "--scrape",
        type=float,
        default=1.0,
        help="Prometheus scrape and evaluation interval in s (1)",
    )
    add("--seed", type=int, default=1, help="seed of the injection moments (1)")
    add("--write", action="store_true", help="rewrite BENCHMARKS.md's section")
    args = parser.parse_args(list(argv))
    if args.window is None:
        args.window = 2 * (args.interval or load_config(None).defaults.interval)
    return args


def plans(args: argparse.Namespace) -> list[Plan]:
    """The built-in path as asked; the Prometheus path over two intervals, if asked."""
    found = [Plan("built-in", args.injections, args.window, args.interval, seed=args.seed)]
    if args.prometheus_injections:
        window = 2 * (args.interval or load_config(None).defaults.interval)
        prometheus = Plan("prometheus", args.prometheus_injections, window, args.interval)
        found.append(replace(prometheus, scrape=args.scrape, seed=args.seed + 1))
    return found


def main(argv: Sequence[str]) -> int:
    args = arguments(argv)
    logging.basicConfig(level=logging.ERROR)
    results = []
    for plan in plans(args):
        with tempfile.TemporaryDirectory(prefix="bench-detection-") as tmp:
            results.append(asyncio.run(measure(plan, Path(tmp))))
        print(
            f"{plan.path}: {len(results[-1].found)} injections in "
            f"{results[-1].setup.seconds:.0f} s",
            file=sys.stderr,
        )
    text = render(results, argv=argv)
    print(text)
    if args.write:
        write_section("detection", text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
