"""`consistency-monitor run`: the daemon's command line."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from monitor.config import load_config
from monitor.daemon import Daemon, parse_listen, serve, state_dir_from
from monitor.durations import parse_duration
from monitor.logs import setup_logging
from monitor.sharding import parse_shard


def add_run_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    run = sub.add_parser(
        "run",
        help="run the monitor: probes on schedule, /metrics, status page, alerts",
        description="Run every configured probe against every target on its schedule and "
        "serve /metrics, /healthz, /readyz, /api/status, the status page at / and "
        "POST /-/reload. SIGHUP reloads the config; SIGTERM/SIGINT stop gracefully.",
    )
    run.add_argument(
        "--config",
        metavar="PATH",
        help="config file (default: $MONITOR_CONFIG, else the embedded default)",
    )
    run.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="address to serve on (default: server.listen, 0.0.0.0:9465)",
    )
    run.add_argument(
        "--state-dir",
        metavar="DIR",
        help="state directory (default: $MONITOR_STATE_DIR, else "
        "$XDG_STATE_HOME/consistency-monitor); created if missing",
    )
    run.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="one line per event, human-readable or JSON (default: text)",
    )
    run.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info")
    run.add_argument(
        "--grace",
        default="5s",
        metavar="DURATION",
        help="on SIGTERM, how long running probes may finish (default 5s)",
    )
    run.add_argument(
        "--shard",
        metavar="I/N",
        help="run only the targets whose stable name hash maps to shard I of N (0-based; "
        "default: $MONITOR_SHARD, else every target)",
    )
    return run


def cmd_run(args: argparse.Namespace, path: Path | None) -> int:
    """Start the daemon; bad usage or config exits 2 before anything runs."""
    config = load_config(path)
    listen = args.listen or config.server.listen
    shard_text = args.shard or os.environ.get("MONITOR_SHARD")
    try:
        parse_listen(listen)
        grace = parse_duration(args.grace)
        shard = parse_shard(shard_text) if shard_text else None
    except ValueError as exc:
        print(f"consistency-monitor run: {exc}", file=sys.stderr)
        return 2
    setup_logging(args.log_format, args.log_level)
    state_dir = state_dir_from(args.state_dir)
    daemon = Daemon(config, config_path=path, state_dir=state_dir, listen=listen, shard=shard)
    try:
        asyncio.run(serve(daemon, grace=grace))
    except OSError as exc:
        print(f"consistency-monitor run: cannot serve on {listen}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0
