"""`consistency-monitor simulate`: the simulator served as two real HTTP services."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from monitor.config import ConfigError, SimulatorConfig
from monitor.config_errors import validation_messages
from monitor.config_types import Strict
from monitor.daemon import parse_listen
from monitor.durations import format_duration
from monitor.logs import setup_logging
from monitor.sim.model import SimError
from monitor.sim.server import Address, SimulatorServer
from monitor.sim.world import BackendFactory, World
from monitor.yaml_strict import load_yaml

log = logging.getLogger("monitor.simulate")

TOKEN_ENV = "SIMULATE_ADMIN_TOKEN"
DSN_ENV = "SIMULATE_BACKEND_DSN"
TIMINGS = ("auth_latency", "backend_latency", "sync_delay", "latency_jitter", "reorder_hold")

_TEXT = """\
Serve the simulator as two HTTP services, Auth and Backend, sharing one simulated world:
the sync pipeline, faults and ground truth behave as in-process. Point an `http` target at
them (config/examples/http-sim.yaml) to try the HTTP path. With an admin token
($SIMULATE_ADMIN_TOKEN or --admin-token), faults can be changed live with PUT /admin/faults
and ground truth read at GET /admin/truth, on the Auth service. Flags override the --config
file. With --backend-dsn the Backend keeps its users and dependents in PostgreSQL tables
(config/examples/http-sql.yaml reads them). Once both listen, prints `auth URL` and
`backend URL` on stdout. SIGTERM/SIGINT stop it (exit 0); bad usage or config exits 2; an
address that cannot be bound or a database that cannot be used exits 1.
The API: docs/simulate.md"""

_EXAMPLES = """\
examples:
  consistency-monitor simulate
  consistency-monitor simulate --sync-delay 200ms --fault drop_sync.update=0.3 --seed 7
  SIMULATE_ADMIN_TOKEN=s3cret consistency-monitor simulate --config sim.yaml
  consistency-monitor simulate --backend-dsn postgresql://sim@127.0.0.1:5432/simulate"""


class SimulateFile(Strict):
    """A `simulate --config` file: one `simulator:` block, as under a target."""

    simulator: SimulatorConfig = SimulatorConfig()


def add_simulate_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    simulate = sub.add_parser(
        "simulate",
        help="serve the simulator as real HTTP services (Auth and Backend)",
        description=_TEXT,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _listen_options(simulate)
    _world_options(simulate)
    simulate.add_argument(
        "--admin-token",
        metavar="TOKEN",
        help=f"bearer token for /admin/faults and /admin/truth (default: ${TOKEN_ENV}, "
        "better: arguments show in ps; without a token those endpoints answer 404)",
    )
    simulate.add_argument(
        "--backend-dsn",
        metavar="DSN",
        help="keep the Backend's users and dependents in PostgreSQL tables `users` and "
        "`sessions` (created, and emptied at start: give it a database of its own; "
        f"default: ${DSN_ENV}, better when the DSN holds a password)",
    )
    simulate.add_argument("--log-format", choices=("text", "json"), default="text")
    simulate.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), default="info"
    )
    return simulate


def _listen_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--auth-listen",
        default="127.0.0.1:8081",
        metavar="HOST:PORT",
        help="address of the Auth service (default 127.0.0.1:8081; port 0: any free port)",
    )
    parser.add_argument(
        "--backend-listen",
        default="127.0.0.1:8082",
        metavar="HOST:PORT",
        help="address of the Backend service (default 127.0.0.1:8082)",
    )


def _world_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="PATH", help="YAML file with a `simulator:` block, as under a target"
    )
    for name in TIMINGS:
        default = format_duration(SimulatorConfig.model_fields[name].default)
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, metavar="DURATION", help=f"simulator.{name} (default {default})")
    parser.add_argument("--seed", type=int, metavar="N", help="seed for reproducible runs")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME=P",
        help="fault probability, repeatable: skip_cascade=1, drop_sync=0.1, "
        "drop_sync.update=0.3 (flags win over the file)",
    )


class UsageError(Exception):
    """Bad usage: exit 2 with a one-line message."""


def simulator_config(args: argparse.Namespace) -> SimulatorConfig:
    """The `--config` file's `simulator:` block with the flags laid over it."""
    path = Path(args.config) if args.config else None
    document = _read_file(path) if path else {}
    if isinstance(document, dict):
        if document.get("simulator") is None:
            document["simulator"] = {}
        if isinstance(document["simulator"], dict):
            _overlay(document["simulator"], args)
    try:
        return SimulateFile.model_validate(document).simulator
    except ValidationError as exc:
        source = f"{path} with flags" if path else "simulate flags"
        raise ConfigError(source, validation_messages(exc, document, SimulateFile)) from None


def _read_file(path: Path) -> Any:
    """The parsed file; ConfigError when it cannot be read or is not YAML."""
    try:
        return load_yaml(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read: {exc.strerror or exc}"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(str(path), [f"{where}not valid YAML"]) from None


def _overlay(raw: dict[str, Any], args: argparse.Namespace) -> None:
    for name in TIMINGS:
        if getattr(args, name) is not None:
            raw[name] = getattr(args, name)
    if args.seed is not None:
        raw["seed"] = args.seed
    if args.fault and not isinstance(raw.get("faults"), dict):
        raw["faults"] = {}
    for setting in args.fault:
        _set_fault(raw["faults"], *_fault_flag(setting))


def _fault_flag(setting: str) -> tuple[str, float]:
    """`drop_sync.update=0.3` → ("drop_sync.update", 0.3)."""
    name, _, value = setting.partition("=")
    with contextlib.suppress(ValueError):
        if name.strip():
            return name.strip(), float(value)
    raise UsageError(f"--fault {setting!r}: expected NAME=PROBABILITY, e.g. drop_sync.update=0.3")


def _set_fault(faults: dict[str, Any], name: str, probability: float) -> None:
    """`drop_sync.update` sets one operation; a number already there covers the others."""
    fault, dot, operation = name.partition(".")
    if not dot:
        faults[fault] = probability
        return
    current = faults.get(fault)
    if not isinstance(current, dict):
        ops = ("create", "update", "delete")
        current = dict.fromkeys(ops, current) if isinstance(current, int | float) else {}
    faults[fault] = {**current, operation: probability}


def admin_token(arg: str | None) -> str | None:
    """`--admin-token`, else `$SIMULATE_ADMIN_TOKEN`; empty means none."""
    return arg or os.environ.get(TOKEN_ENV) or None


def backend_dsn(arg: str | None) -> str | None:
    """`--backend-dsn`, else `$SIMULATE_BACKEND_DSN`; empty means in memory. UsageError
    when it is not a PostgreSQL URL."""
    dsn = arg or os.environ.get(DSN_ENV) or None
    if dsn is not None:
        from monitor.sim.pg_tables import postgres_url  # SQLAlchemy (~30 MB) only when asked

        try:
            postgres_url(dsn)
        except ValueError as exc:
            raise UsageError(f"--backend-dsn: {exc}") from None
    return dsn


def _storage(dsn: str | None) -> BackendFactory | None:
    if not dsn:
        return None
    from monitor.sim.postgres import PgBackend  # SQLAlchemy (~30 MB) only when asked

    return functools.partial(PgBackend, dsn)


async def serve_simulator(
    config: SimulatorConfig,
    *,
    auth: Address,
    backend: Address,
    token: str | None,
    dsn: str | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT, then close both services (and the database)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    world = World(config, backend=_storage(dsn))
    try:
        await world.open()
        where = getattr(world.backend, "where", None)  # PostgreSQL storage says where
        if where is not None:
            log.info("backend tables in PostgreSQL at %s", where)
        await _serve(world, stop, auth=auth, backend=backend, token=token)
    finally:
        await world.aclose()


async def _serve(
    world: World, stop: asyncio.Event, *, auth: Address, backend: Address, token: str | None
) -> None:
    server = SimulatorServer(world, admin_token=token)
    await server.start(auth=auth, backend=backend)
    try:
        print(f"auth {server.url('auth')}\nbackend {server.url('backend')}", flush=True)
        log.info("auth on %s, backend on %s", server.url("auth"), server.url("backend"))
        if token is None:
            log.info("no admin token: /admin/faults and /admin/truth are disabled")
        await stop.wait()
        log.info("stopping")
    finally:
        await server.stop()


def cmd_simulate(args: argparse.Namespace) -> int:
    """Start both services; bad usage or config exits 2 before anything listens."""
    try:
        dsn = backend_dsn(args.backend_dsn)
        auth, backend = parse_listen(args.auth_listen), parse_listen(args.backend_listen)
        config = simulator_config(args)
    except (UsageError, ValueError) as exc:
        print(f"consistency-monitor simulate: {exc}", file=sys.stderr)
        return 2
    setup_logging(args.log_format, args.log_level)
    token = admin_token(args.admin_token)
    try:
        asyncio.run(serve_simulator(config, auth=auth, backend=backend, token=token, dsn=dsn))
    except OSError as exc:
        print(f"consistency-monitor simulate: cannot listen: {exc.strerror}", file=sys.stderr)
        return 1
    except SimError as exc:
        print(f"consistency-monitor simulate: {exc}", file=sys.stderr)
        return 1
    return 0
