"""Soak: the daemon with many simulator targets at short intervals for half an hour, faults
switched on and off and the config reloaded every minute, sampled every 10 s for leaks.

    python -m bench soak [--minutes 30] [--targets 100] [--quick] [--write]

A fifth of the targets (the steady group) keep one fault mix the whole time, so their
simulated Auth lives from start to stop and the "no tagged user left" check covers the
whole soak for them; the rest get a new random mix now and then, which rebuilds them.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import signal
import time
from collections.abc import Sequence
from typing import Any

from bench import soak_report
from bench.daemon_proc import (
    RESULTS,
    Daemon,
    MetricsText,
    bucket_quantile,
    cpu_seconds,
    get,
    loadavg,
    open_fds,
    post_reload,
    rss_bytes,
    running_daemon,
    sim_targets,
    status_runtime,
    target_names,
    write_config,
)
from monitor.sim.faults import FAULT_NAMES

LAG = "consistency_event_loop_lag_seconds"
RUNS = "consistency_probe_runs_total"
STEADY_FAULTS = {
    "drop_sync": 0.05,
    "duplicate_sync": 0.05,
    "skip_cascade": 0.05,
    "partial_update": 0.05,
    "reorder_sync": 0.05,
    "no_orphan_sweep": 0.05,
}
END_KEYS = (
    "exit_code",
    "stop_seconds",
    "users_before_stop",
    "steady_users_before_stop",
    "users_after_stop",
    "targets_checked_after_stop",
    "reload_errors",
    "reload_failed_in_log",
)
LEFT_LINE = re.compile(r"synthetic users left in (\d+) simulator targets: (\d+)")


def arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench soak", description=__doc__)
    parser.add_argument("--minutes", type=float, help="soak length (30; --quick: 3)")
    parser.add_argument("--targets", type=int, help="simulator targets (100; --quick: 20)")
    parser.add_argument("--interval", default="10s", help="every probe's interval (10s)")
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--reload", type=float, default=60.0, help="seconds between reloads")
    parser.add_argument("--fit", type=float, help="minutes fitted for flatness (20; --quick: 1)")
    parser.add_argument("--quick", action="store_true", help="3 minutes, 20 targets, 1 min fit")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--name", default="soak", help="file stem under bench/results/")
    parser.add_argument("--history", type=int, help="server.history (default: the monitor's)")
    parser.add_argument("--note", default="", help="what else ran meanwhile, for the report")
    parser.add_argument(
        "--from-json",
        action="store_true",
        help="no new run: summarize bench/results/NAME.json and its daemon log again",
    )
    parser.add_argument("--write", action="store_true", help="rewrite BENCHMARKS.md's section")
    args = parser.parse_args(list(argv))
    quick = {"minutes": 3.0, "targets": 20, "fit": 1.0}
    full = {"minutes": 30.0, "targets": 100, "fit": 20.0}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def defaults(interval: str) -> dict[str, Any]:
    return {
        "interval": interval,
        "timeout": "8s",
        "deadlines": {"sync": "250ms", "give_up": "1s", "load": "3s"},
    }


def random_mix(rng: random.Random) -> dict[str, float]:
    """All off (two times in five), else each fault on at 2-30 % with chance 0.3."""
    if rng.random() < 0.4:
        return {}
    return {f: rng.choice((0.02, 0.1, 0.3)) for f in FAULT_NAMES if rng.random() < 0.3}


class Soak:
    """The schedule (samples, fault switches, reloads) and what it recorded."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        names = target_names(args.targets)
        self.steady = names[: max(1, len(names) // 5)]
        self.faults: dict[str, dict[str, float]] = {n: dict(STEADY_FAULTS) for n in self.steady}
        self.faults.update({n: random_mix(self.rng) for n in names[len(self.steady) :]})
        self.config = RESULTS / f"{args.name}.yaml"
        self.samples: list[dict[str, Any]] = []
        self.reloads: list[dict[str, Any]] = []
        self._lag: dict[float, float] = {}
        self._write()

    def _write(self) -> None:
        targets = sim_targets(
            self.args.targets,
            faults=self.faults,
            auth_latency="5ms",
            sync_delay="10ms",
            latency_jitter="3ms",
        )
        server = {"history": self.args.history} if self.args.history else None
        write_config(self.config, targets, defaults(self.args.interval), server)

    def switch_faults(self) -> int:
        """A new random mix for about half the switching targets; how many changed."""
        changed = 0
        for name in self.faults:
            if name not in self.steady and self.rng.random() < 0.5:
                self.faults[name] = random_mix(self.rng)
                changed += 1
        self._write()
        return changed

    def reload(self, daemon: Daemon, started: float) -> None:
        """Alternately SIGHUP and POST /-/reload, so both paths are soaked."""
        changed = self.switch_faults()
        entry: dict[str, Any] = {"t": time.monotonic() - started, "switched": changed}
        if len(self.reloads) % 2:
            daemon.process.send_signal(signal.SIGHUP)
            entry["via"] = "SIGHUP"
        else:
            outcome = post_reload(daemon.url)
            entry |= {"via": "POST", "status": outcome["status"]}
        self.reloads.append(entry)

    def sample(self, daemon: Daemon, started: float) -> dict[str, Any]:
        scrape = MetricsText(get(f"{daemon.url}/metrics").decode())
        runtime = status_runtime(daemon.url)
        lag = scrape.buckets(LAG)
        row = {
            "t": time.monotonic() - started,
            "rss": rss_bytes(daemon.pid),
            "fds": open_fds(daemon.pid),
            "cpu": cpu_seconds(daemon.pid),
            "load1": loadavg(),
            "runs": scrape.total(RUNS),
            "lag_p99": bucket_quantile(self._lag, lag, 0.99),
            "lag_count": lag.get(float("inf"), 0.0),
            "lag_sum": scrape.total(f"{LAG}_sum"),
            "tasks": runtime["asyncio_tasks"],
            "tcp": runtime["tcp_connections"],
            "sockets": runtime["open_sockets"],
            "in_flight": runtime["runs_in_flight"],
            "users_left": sum(runtime["synthetic_users_left"].values()),
        }
        self._lag = lag
        self.samples.append(row)
        return row

    def run(self, daemon: Daemon) -> None:
        started = time.monotonic()
        end = started + self.args.minutes * 60
        next_sample, next_reload = started, started + self.args.reload
        log = (RESULTS / f"{self.args.name}.samples.jsonl").open("w")
        while time.monotonic() < end:
            if time.monotonic() >= next_reload:
                self.reload(daemon, started)
                next_reload += self.args.reload
            if time.monotonic() >= next_sample:
                log.write(json.dumps(self.sample(daemon, started)) + "\n")
                log.flush()
                next_sample += self.args.sample
            time.sleep(max(0.0, min(next_sample, next_reload, end) - time.monotonic()))
        log.close()


def finish(soak: Soak, daemon: Daemon) -> dict[str, Any]:
    """Tagged users just before SIGTERM (runs in flight hold some) and after the stop."""
    before = status_runtime(daemon.url)["synthetic_users_left"]
    code, took = daemon.stop()
    found = LEFT_LINE.findall(daemon.log())
    steady_before = sum(before.get(n, 0) for n in soak.steady)
    return {
        "exit_code": code,
        "stop_seconds": took,
        "users_before_stop": sum(before.values()),
        "steady_users_before_stop": steady_before,
        "users_after_stop": int(found[-1][1]) if found else None,
        "targets_checked_after_stop": int(found[-1][0]) if found else None,
        "reload_errors": sum(1 for r in soak.reloads if r.get("status", "ok") != "ok"),
        "reload_failed_in_log": daemon.log().count("reload failed"),
    }


def main(argv: Sequence[str]) -> int:
    args = arguments(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.from_json:
        return report(args, **json.loads((RESULTS / f"{args.name}.json").read_text()))
    soak = Soak(args)
    state = RESULTS / f"{args.name}.state"
    log_path = RESULTS / f"{args.name}.monitor.log"
    with running_daemon(soak.config, state, log_path) as daemon:
        soak.run(daemon)
        end = finish(soak, daemon)
    return report(args, {"end": end}, soak.samples, soak.reloads)


def report(
    args: argparse.Namespace,
    summary: dict[str, Any],
    samples: list[dict[str, Any]],
    reloads: list[dict[str, Any]],
) -> int:
    """Summarize (runs counted from the daemon's log), save, plot, print, maybe write."""
    end = summary.get("end") or {k: summary[k] for k in END_KEYS}  # older files: flat
    log = (RESULTS / f"{args.name}.monitor.log").read_text(errors="replace")
    result = soak_report.summarize(args, samples, reloads, end, log)
    result["end"] = end
    saved = {"summary": result, "samples": samples, "reloads": reloads}
    (RESULTS / f"{args.name}.json").write_text(json.dumps(saved, indent=1))
    soak_report.plot(samples, RESULTS / f"{args.name}.png")
    print(soak_report.render(result))
    if args.write:
        soak_report.write(result)
    return 0
