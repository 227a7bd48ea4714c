"""`python -m bench all [--quick] [--only a,b] [--skip a,b] [--no-write]`: every registered
benchmark in turn, each rewriting its own BENCHMARKS.md section; a failure is reported,
not fatal. With `--quick`, smoke figures replace the sections of benchmarks whose quick
mode has no section of its own: use `--no-write` to keep a full run's figures.

The 30-minute soak is too long for a suite run: here it runs in a short mode under its
own section (`soak-short`, `soak-quick`), so the long soak's section stays as measured.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping, Sequence

Benchmark = Callable[[Sequence[str]], int]

# Arguments per benchmark (full, --quick); one not listed gets ([], ["--quick"]).
PLAN: dict[str, tuple[list[str], list[str]]] = {
    "soak": (
        ["--minutes", "10", "--fit", "5", "--name", "soak-short"],
        ["--quick", "--name", "soak-quick"],
    ),
    "daemon-load": ([], ["--quick", "--name", "daemon-load-quick"]),
    "detection": ([], ["--injections", "5", "--prometheus-injections", "2"]),
    "image": ([], []),
}


def arguments(argv: Sequence[str], names: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench all", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="every benchmark's smoke mode")
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(names)}")
    parser.add_argument("--skip", default="", help="comma-separated benchmarks not to run")
    parser.add_argument(
        "--no-write", action="store_true", help="print the figures, leave BENCHMARKS.md alone"
    )
    args = parser.parse_args(list(argv))
    chosen = args.only.split(",") if args.only else list(names)
    unknown = set(chosen) - set(names) | set(filter(None, args.skip.split(","))) - set(names)
    if unknown:
        parser.error(f"no such benchmark: {', '.join(sorted(unknown))}")
    args.chosen = [n for n in chosen if n not in args.skip.split(",")]
    return args


def plan_for(name: str, *, quick: bool, write: bool) -> list[str]:
    full, short = PLAN.get(name, ([], ["--quick"]))
    return [*(short if quick else full), *(["--write"] if write else [])]


def run_all(benchmarks: Mapping[str, Benchmark], argv: Sequence[str]) -> int:
    """Run each chosen benchmark; print what each returned and how long it took."""
    args = arguments(argv, list(benchmarks))
    outcomes = []
    for name in args.chosen:
        argv_one = plan_for(name, quick=args.quick, write=not args.no_write)
        print(f"== python -m bench {name} {' '.join(argv_one)}", flush=True)
        started = time.monotonic()
        try:
            code = benchmarks[name](argv_one)
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            print(f"{name}: {type(exc).__name__}: {exc}")
            code = 1
        outcomes.append((name, code, time.monotonic() - started))
    for name, code, took in outcomes:
        print(f"{name:<14} {'ok' if code == 0 else f'exit {code}':<8} {took:7.1f} s")
    return 0 if all(code == 0 for _, code, _ in outcomes) else 1
