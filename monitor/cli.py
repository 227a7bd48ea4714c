"""The `consistency-monitor` command: check, validate, schema (and run, in the daemon)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from monitor import __version__
from monitor.clock import SYSTEM_CLOCK
from monitor.config import Config, ConfigError, load_config
from monitor.probes import GROUPS, PROBE_NAMES, expand
from monitor.report import results_table, summarise, summary_table, summary_to_dict, tally
from monitor.results import ProbeResult, report_to_dict
from monitor.runner import run_probe
from monitor.targets.build import build_target

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad usage: exit 2 with a one-line message."""


def config_path(arg: str | None) -> Path | None:
    """`--config`, else `$MONITOR_CONFIG`, else None (the embedded default)."""
    chosen = arg or os.environ.get("MONITOR_CONFIG")
    return Path(chosen) if chosen else None


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="PATH",
        help="config file (default: $MONITOR_CONFIG, else the embedded simulator default)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="consistency-monitor",
        description="Prove continuously that an Auth service and a Backend service agree on "
        "their users, with synthetic probes.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _check_parser(sub)
    validate = sub.add_parser("validate", help="check a config file: prints ok or every error")
    _add_config(validate)
    sub.add_parser("schema", help="print the config file's JSON Schema")
    return parser


def _check_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    groups = "; ".join(f"{g}: {', '.join(n)}" for g, n in GROUPS.items())
    check = sub.add_parser(
        "check",
        help="run every probe once against every target and print the results",
        description="Run every configured probe once against every configured target. "
        "Exit status: 0 all passed, 1 a probe failed or errored, 2 bad usage or config.",
        epilog=f"probes: {', '.join(PROBE_NAMES)}. groups: {groups}.",
    )
    _add_config(check)
    check.add_argument("--probe", action="append", metavar="NAME",
                       help="run only this probe or group (core, integrity); repeatable")
    check.add_argument("--target", action="append", metavar="NAME",
                       help="run only this target; repeatable")
    check.add_argument("--format", choices=("table", "json"), default="table")
    check.add_argument("--repeat", type=int, default=1, metavar="N",
                       help="run the set N times and print success rates and percentiles")


def chosen_probes(requested: list[str] | None) -> list[str] | None:
    if not requested:
        return None
    valid = [*PROBE_NAMES, *GROUPS]
    for name in requested:
        if name not in valid:
            raise UsageError(f"unknown probe {name!r} (valid: {', '.join(valid)})")
    return expand(requested)


def chosen_targets(config: Config, requested: list[str] | None) -> list[str]:
    names = [t.name for t in config.targets]
    for name in requested or []:
        if name not in names:
            raise UsageError(f"unknown target {name!r} (valid: {', '.join(names)})")
    return [n for n in names if not requested or n in requested]


async def run_target(config: Config, name: str, probes: list[str] | None, repeat: int) -> list[ProbeResult]:
    """Every chosen probe of one target, in order, `repeat` times."""
    target_config = config.target(name)
    target = build_target(target_config, clock=SYSTEM_CLOCK)
    names = [p for p in config.probe_names(target_config) if probes is None or p in probes]
    results = []
    try:
        for _ in range(repeat):
            for probe in names:
                settings = config.probe_settings(target_config, probe)
                results.append(await run_probe(target, probe, settings))
    finally:
        await target.close()
    return results


async def run_check(config: Config, targets: list[str], probes: list[str] | None, repeat: int) -> list[ProbeResult]:
    per_target = await asyncio.gather(*(run_target(config, t, probes, repeat) for t in targets))
    return [r for results in per_target for r in results]


def print_check(results: list[ProbeResult], fmt: str, repeat: int) -> None:
    if fmt == "json":
        report = report_to_dict(results)
        if repeat > 1:
            report["summary"] = [summary_to_dict(s) for s in summarise(results)]
        print(json.dumps(report, indent=2))
        return
    print(summary_table(summarise(results)) if repeat > 1 else results_table(results))
    print(tally(results))


def cmd_check(args: argparse.Namespace) -> int:
    if args.repeat < 1:
        raise UsageError("--repeat must be at least 1")
    probes = chosen_probes(args.probe)
    config = load_config(config_path(args.config))
    targets = chosen_targets(config, args.target)
    results = asyncio.run(run_check(config, targets, probes, args.repeat))
    print_check(results, args.format, args.repeat)
    return EXIT_OK if all(r.outcome == "pass" for r in results) else EXIT_FAILED


def cmd_validate(args: argparse.Namespace) -> int:
    load_config(config_path(args.config))
    print("ok")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(Config.model_json_schema(), indent=2))
    return EXIT_OK


COMMANDS = {"check": cmd_check, "validate": cmd_validate, "schema": cmd_schema}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"consistency-monitor: {exc}", file=sys.stderr)
    except ConfigError as exc:
        for line in exc.errors:
            print(f"{exc.source}: {line}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    return EXIT_USAGE
