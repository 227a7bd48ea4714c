"""`python -m bench <name> [options]`: run one benchmark by name."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from bench import (
    campaign,
    convergence,
    cpu_breakdown,
    daemon_load,
    detection,
    heartbeat,
    http,
    image_size,
    memory,
    soak,
    status_api,
    suite,
)

BENCHMARKS: dict[str, Callable[[Sequence[str]], int]] = {
    "campaign": campaign.main,
    "convergence": convergence.main,
    "detection": detection.main,
    "soak": soak.main,
    "daemon-load": daemon_load.main,
    "cpu": cpu_breakdown.main,
    "memory": memory.main,
    "image": image_size.main,
    "http": http.main,
    "heartbeat": heartbeat.main,
    "status": status_api.main,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "all":
        return suite.run_all(BENCHMARKS, args[1:])
    if not args or args[0] not in BENCHMARKS:
        names = " | ".join(["all", *BENCHMARKS])
        print(f"usage: python -m bench {{{names}}} [options]  (-h after a name for its options)")
        return 2
    return BENCHMARKS[args[0]](args[1:])


if __name__ == "__main__":
    sys.exit(main())
