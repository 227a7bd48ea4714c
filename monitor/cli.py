"""The `consistency-monitor` command: check, validate, schema (run and simulate in their own
modules)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from monitor import __version__
from monitor.clock import SYSTEM_CLOCK
from monitor.config import Config, ConfigError, load_config
from monitor.probes import GROUPS, PROBE_NAMES, expand
from monitor.report import results_table, summarise, summary_table, summary_to_dict, tally
from monitor.results import ProbeResult, report_to_dict
from monitor.run_command import add_run_parser, cmd_run
from monitor.runner import run_probe
from monitor.simulate_command import add_simulate_parser, cmd_simulate
from monitor.targets.build import build_target

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
PROG = "consistency-monitor"
Plan = dict[str, list[str]]  # target name → the probes to run on it, in order

_EXIT_STATUS = """\
exit status:
  0  every probe passed
  1  a probe found an inconsistency (fail) or could not finish (error)
  2  bad usage or an invalid config file (every problem on stderr, with its key path)"""


class UsageError(Exception):
    """Bad usage: exit 2 with a one-line message."""


def config_path(arg: str | None) -> Path | None:
    """`--config`, else `$MONITOR_CONFIG`, else None (the embedded default)."""
    chosen = arg or os.environ.get("MONITOR_CONFIG")
    return Path(chosen) if chosen else None


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="config file (default: $MONITOR_CONFIG, else the embedded simulator config)",
    )


def _sub(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str, text: str
) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        help=summary,
        description=text,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Prove continuously that an Auth service and a Backend service agree on "
        "their users, with synthetic probes exported as Prometheus metrics.",
        epilog=f"Run '{PROG} COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _check_parser(sub)
    add_run_parser(sub)
    _validate_parser(sub)
    add_simulate_parser(sub)
    _sub(sub, "schema", "print the config file's JSON Schema", _SCHEMA_TEXT)
    return parser


_SCHEMA_TEXT = """\
Print the JSON Schema of the config file on stdout, for editors and CI linting, e.g.
  # yaml-language-server: $schema=consistency-monitor.schema.json"""


_VALIDATE_TEXT = """\
Load and validate config files without running anything, like `promtool check config`:
prints `ok` for each good file and every problem of a bad one, one per line with its key
path, on stderr. Exit status 0 when every file is valid, 2 otherwise. ${VAR} references and
*_file secrets are resolved, so run it where the monitor runs."""


def _validate_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    validate = _sub(sub, "validate", "check config files: prints ok or every error", _VALIDATE_TEXT)
    validate.add_argument(
        "paths", nargs="*", metavar="PATH", help="config files (default: as for --config)"
    )
    _add_config(validate)


def _wrapped(text: str, indent: str, first: str | None = None) -> str:
    start = indent if first is None else first
    return textwrap.fill(text, width=88, initial_indent=start, subsequent_indent=indent)


def _probe_help() -> str:
    """The probes and groups `--probe` accepts, wrapped for the terminal."""
    groups = [_wrapped(", ".join(n), " " * 13, f"  {g:<10} ") for g, n in GROUPS.items()]
    probes = _wrapped(", ".join(PROBE_NAMES), "  ")
    return f"probes:\n{probes}\n\ngroups:\n" + "\n".join(groups)


_CHECK_TEXT = """\
Run the configured probes once against the configured targets, print the results and exit.
Targets run concurrently; the probes of one target run one after another. Use it in CI, as a
smoke test after a deploy, or to try a config before `run`."""

_CHECK_EXAMPLES = f"""\
examples:
  {PROG} check --config monitor.yaml
  {PROG} check --probe core --target staging
  {PROG} check --probe create_sync,delete_cascade --repeat 20 --format json"""


def _check_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = _sub(sub, "check", "run the probes once and print the results", _CHECK_TEXT)
    check.epilog = f"{_probe_help()}\n\n{_EXIT_STATUS}\n\n{_CHECK_EXAMPLES}"
    _add_config(check)
    check.add_argument(
        "--probe",
        action="append",
        metavar="NAME",
        help="run only this probe or group; repeatable, or comma-separated (default: every "
        "probe the target lists; either way they run in config order)",
    )
    check.add_argument(
        "--target", action="append", metavar="NAME", help="run only this target; repeatable"
    )
    check.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="table for people, json for scripts: {ok, results[, summary]} (default: table)",
    )
    check.add_argument(
        "--repeat",
        default="1",
        metavar="N",
        help="run everything N times, then print success rates and sync latency p50/p99 per "
        "target and probe (default: 1)",
    )


def _names(requested: list[str] | None) -> list[str]:
    """`--probe a,b --probe c` → [a, b, c]."""
    return [n.strip() for arg in requested or [] for n in arg.split(",") if n.strip()]


def chosen_probes(requested: list[str] | None) -> list[str] | None:
    """The probes named by `--probe`, groups expanded; None when not given."""
    names = _names(requested)
    if not names:
        return None
    valid = [*PROBE_NAMES, *GROUPS]
    for name in names:
        if name not in valid:
            raise UsageError(f"unknown probe {name!r} (valid: {', '.join(valid)})")
    return expand(names)


def chosen_targets(config: Config, requested: list[str] | None) -> list[str]:
    """The targets named by `--target`, in config order; every target when not given."""
    names = [t.name for t in config.targets]
    wanted = _names(requested)
    for name in wanted:
        if name not in names:
            raise UsageError(f"unknown target {name!r} (valid: {', '.join(names)})")
    return [n for n in names if not wanted or n in wanted]


def repeat_count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise UsageError("--repeat must be a whole number, at least 1")
    return count


def check_plan(config: Config, targets: list[str], probes: list[str] | None) -> Plan:
    """Which probes run on which target; an empty plan is a usage error, not a pass."""
    plan = {}
    for name in targets:
        configured = config.probe_names(config.target(name))
        plan[name] = [p for p in configured if probes is None or p in probes]
    if not any(plan.values()):
        raise UsageError(
            f"none of {', '.join(probes or [])} is configured on {', '.join(targets)} "
            "(see `probes:` in the config)"
        )
    return plan


async def run_target(
    config: Config, name: str, probes: list[str], repeat: int
) -> list[ProbeResult]:
    """The given probes of one target, in order, `repeat` times."""
    target_config = config.target(name)
    target = build_target(target_config, clock=SYSTEM_CLOCK)
    results = []
    try:
        for _ in range(repeat):
            for probe in probes:
                settings = config.probe_settings(target_config, probe)
                results.append(await run_probe(target, probe, settings))
    finally:
        await target.close()
    return results


async def run_check(config: Config, plan: Plan, repeat: int) -> list[ProbeResult]:
    """Every target concurrently; results grouped by target, in plan order."""
    runs = (run_target(config, name, probes, repeat) for name, probes in plan.items() if probes)
    per_target = await asyncio.gather(*runs)
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
    repeat = repeat_count(args.repeat)
    probes = chosen_probes(args.probe)
    config = load_config(config_path(args.config))
    plan = check_plan(config, chosen_targets(config, args.target), probes)
    results = asyncio.run(run_check(config, plan, repeat))
    print_check(results, args.format, repeat)
    return EXIT_OK if all(r.outcome == "pass" for r in results) else EXIT_FAILED


def cmd_validate(args: argparse.Namespace) -> int:
    paths: list[Path | None] = [Path(p) for p in args.paths] or [config_path(args.config)]
    return max(_validate_one(path) for path in paths)


def _validate_one(path: Path | None) -> int:
    """`ok: ...` on stdout, or every problem on stderr; the exit status for this file."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        _print_config_error(exc)
        return EXIT_USAGE
    runs = sum(len(config.probe_names(t)) for t in config.targets)
    where = f"{path}: " if path else ""
    for warning in overlap_warnings(config):
        print(f"{where}warning: {warning}", file=sys.stderr)
    print(f"{where}ok: {len(config.targets)} target(s), {runs} probe(s) scheduled")
    return EXIT_OK


def overlap_warnings(config: Config) -> list[str]:
    """A timeout longer than the interval is allowed (overlapping runs are skipped and
    counted), but worth a warning."""
    warnings = []
    for i, target in enumerate(config.targets):
        for probe in config.probe_names(target):
            s = config.probe_settings(target, probe)
            if s.timeout > s.interval:
                warnings.append(
                    f"targets[{i}] {target.name}:{probe}: timeout {s.timeout:g}s is longer than "
                    f"the interval {s.interval:g}s; runs that would overlap are skipped"
                )
    return warnings


def _print_config_error(exc: ConfigError) -> None:
    for line in exc.errors:
        print(f"{exc.source}: {line}", file=sys.stderr)


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(Config.model_json_schema(), indent=2))
    return EXIT_OK


def cmd_run_daemon(args: argparse.Namespace) -> int:
    return cmd_run(args, config_path(args.config))


COMMANDS = {
    "check": cmd_check,
    "run": cmd_run_daemon,
    "validate": cmd_validate,
    "schema": cmd_schema,
    "simulate": cmd_simulate,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
    except ConfigError as exc:
        _print_config_error(exc)
    except KeyboardInterrupt:
        return 130
    return EXIT_USAGE
