"""The fault campaign's BENCHMARKS.md section: in-process and over HTTP side by side."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.fault_scoring import FAULT_CLASSES, Tally
from bench.report import BENCHMARKS_MD, machine, write_section
from monitor.results import KINDS

if TYPE_CHECKING:
    from bench.campaign import Plan

FLAVOURS = ("in-process", "http")
SHOWN_PROBLEMS = 5

INTRO = """\
## Fault campaign (faults switched at random, every run scored against ground truth)

**Figure.** Probe runs against the simulator with faults switched on and off at random
(seeded): no fault, one to four, or all at once, each at a random probability, changing
every 8 cycles on average; the probe of each cycle drawn at random. Every run is scored
against the simulator's ground truth (`bench/fault_scoring.py`, the same rules the test
suite's short campaign applies): each *observable* fault outside the run's cleanup must
be reported with its kind (fault table of issue 3; `drop_sync` → missing / stale /
orphan by operation), and each change the run waited for that arrived after
`deadlines.sync` but by `give_up` as `slow` (unless it landed damaged or was overwritten
by a reordered one: then the probe reports what Backend shows); a reported kind without
such a cause is a false positive (`slow` is justified by any change of the run later
than `deadlines.sync`, or for `load` by the run outlasting `deadlines.load`). A run in
which `auth_errors` fired must end in `error`; its kinds count for precision only.
Per kind, TP/FP/FN count runs; per fault class, every fault that had to be caught.
The in-process campaign changes the simulator's delays every 200 cycles, through four
profiles in turn; one has Backend reads that take 20 ms, as real ones do.

**Aim.** Recall 100 % for every fault class, zero false positives, every `error`
justified."""


@dataclass(frozen=True)
class Outcome:
    """One campaign's result, with what it ran on."""

    flavour: str  # "in-process" | "http"
    plan: Plan
    tally: Tally
    setup: str  # the simulator and clock it ran on, in words


def render(outcome: Outcome, *, seconds: float, argv: Sequence[str]) -> str:
    """The flavour's subsection: set-up, the tables, the verdict, machine and command."""
    t, plan = outcome.tally, outcome.plan
    d = plan.settings.deadlines
    title = "In-process" if outcome.flavour == "in-process" else "Over HTTP"
    lines = [
        f"### {title}: {t.runs} cycles, seed {plan.seed}",
        "",
        f"**Setup.** {outcome.setup}. Deadlines: sync {d.sync:g} s, give_up {d.give_up:g} s, "
        f"load {d.load:g} s. Whole run: {seconds:.1f} s of wall time.",
        "",
        *_kinds_table(t),
        "",
        *_classes_table(t),
        "",
        *_errors(t),
        "",
        *_verdict(outcome),
        "",
        *_machine(outcome, argv),
    ]
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _kinds_table(t: Tally) -> list[str]:
    rows = ["| kind | TP | FP | FN | recall | precision |", "|---|---|---|---|---|---|"]
    for kind in KINDS:
        c = t.kinds[kind]
        rows.append(
            f"| `{kind}` | {c.tp} | {c.fp} | {c.fn} | {_pct(c.recall)} | {_pct(c.precision)} |"
        )
    return rows


def _classes_table(t: Tally) -> list[str]:
    rows = ["| fault class | had to be caught | caught | recall |", "|---|---|---|---|"]
    for name in FAULT_CLASSES:
        c = t.classes[name]
        shown = name if " " in name else f"`{name}`"
        rows.append(f"| {shown} | {c.due} | {c.caught} | {_pct(c.recall)} |")
    return rows


def _errors(t: Tally) -> list[str]:
    share = t.justified_errors / t.errors if t.errors else None
    return [
        f"**Errors.** {t.errors} runs ended in `error`; {t.justified_errors} of them had "
        f"`auth_errors` fire ({_pct(share)} justified). {t.precision_only} runs met "
        f"`auth_errors` before their check was done (scored for precision only).",
        "",
        f"**Left open.** Not owing `slow`: {t.unmatched} waits with no change event behind "
        "them (a transaction writes Backend in the same instant) and "
        f"{t.undecided} late changes whose arrival the probe's reads bracket across "
        "`deadlines.sync` because a read or the event loop ran late (real clock only). "
        f"Faults whose observability the ground truth left open (their kind may be "
        f"reported, need not be): {t.unjudged}.",
    ]


def _verdict(outcome: Outcome) -> list[str]:
    t = outcome.tally
    fp = sum(c.fp for c in t.kinds.values())
    missed = sum(c.due - c.caught for c in t.classes.values())
    unjustified = t.errors - t.justified_errors
    if not t.problems:
        return [
            f"**Verdict.** Met: all {t.faults_due} faults that had to be caught were caught "
            f"with their kind, no false positive, every `error` justified."
        ]
    where = ""
    if outcome.flavour == "in-process":
        profiles = Counter(outcome.plan.profile_of(n) for n in t.failed)
        where = " Runs with problems by delay profile: " + ", ".join(
            f"{name} {n}" for name, n in profiles.most_common()
        )
    lines = [
        f"**Verdict.** Not met: {missed} missed faults, {fp} false positives, "
        f"{unjustified} unjustified errors, in {len(t.failed)} runs.{where}. The first:",
        "",
    ]
    return lines + [f"- {p}" for p in t.problems[:SHOWN_PROBLEMS]]


def _machine(outcome: Outcome, argv: Sequence[str]) -> list[str]:
    m = machine()
    command = " ".join(["python -m bench campaign", *argv])
    return [
        f"**Machine.** {m['cpu']}, {m['nproc']} CPUs, {m['python']}. **Date.** {m['date']}.",
        "",
        f"**Command.** `{command}`",
    ]


def _inner(text: str, flavour: str) -> str | None:
    """The current body of a flavour's subsection in the file, if any."""
    start, end = f"<!-- bench:campaign-{flavour} -->", f"<!-- /bench:campaign-{flavour} -->"
    found = re.search(re.escape(start) + r"\n(.*?)\n" + re.escape(end), text, re.DOTALL)
    return found.group(1) if found else None


def write_campaign(flavour: str, body: str, path: Path = BENCHMARKS_MD) -> None:
    """Rewrite the campaign section with this flavour's body, keeping the other's."""
    text = path.read_text() if path.exists() else ""
    bodies = {f: _inner(text, f) or f"### {f}: not run yet" for f in FLAVOURS}
    bodies[flavour] = body.strip()
    parts = [INTRO]
    for f in FLAVOURS:
        parts.append(f"<!-- bench:campaign-{f} -->\n{bodies[f]}\n<!-- /bench:campaign-{f} -->")
    write_section("campaign", "\n\n".join(parts), path)
