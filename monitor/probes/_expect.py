"""The expectations probes share: a create, an update, a deletion reaching Backend.

Each waits through the convergence helper, reports what it finds with the right
kind, and returns whether the probe may go on (False once `give_up` was met).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from monitor.probes._run import ProbeRun, SyntheticUser
from monitor.targets.base import Fields


def differing(record: Mapping[str, str] | None, expected: Mapping[str, str]) -> list[str]:
    """The expected fields the record does not show (all of them when there is no record)."""
    if record is None:
        return list(expected)
    return [k for k, v in expected.items() if record.get(k) != v]


def matches(expected: Mapping[str, str]) -> Callable[[Fields | None], bool]:
    """A predicate: the Backend record shows exactly the expected values."""
    wanted = dict(expected)
    return lambda record: record is not None and not differing(record, wanted)


def update_kinds(history: list[Fields], expected: Fields, seen: Fields | None) -> list[str]:
    """What an update that did not fully arrive looks like, judged against every version
    Auth held (`history`, oldest first, then `expected`): `missing` without a record;
    `stale` when Backend shows an older version, or none of the update's changes;
    `partial` when the record is no version Auth ever held (part of an update applied,
    or untouched fields clobbered). Both `stale` and `partial` can hold at once."""
    if seen is None:
        return ["missing"]
    older = any(matches(version)(seen) for version in history)
    before = history[-1] if history else {}
    arrived = any(seen.get(k) == v for k, v in expected.items() if before.get(k) != v)
    kinds = ["stale"] if older or not arrived else []
    return [*kinds, "partial"] if not older else kinds


def _after(run: ProbeRun) -> str:
    return f"after {run.deadlines.give_up:g} s"


async def reaches_backend(run: ProbeRun, user: SyntheticUser, acked: float) -> bool:
    """The new user is visible in Backend, with Auth's field values, exactly once."""
    expected = _compared(run, user.fields)
    obs = await run.wait(
        "create", lambda: run.reads.get_user(user.id), matches(expected), acked=acked
    )
    if not obs.converged:
        if obs.value is None:
            run.found("missing", f"user not in backend {_after(run)}")
        else:
            fields = ", ".join(differing(obs.value, expected))
            run.found("partial", f"backend record differs from auth in {fields} {_after(run)}")
        return False
    return await exactly_once(run, user)


async def created(probe: ProbeRun) -> SyntheticUser | None:
    """Create a tagged user and wait for it in Backend; None once give_up was met."""
    user, acked = await probe.create_user()
    return user if await reaches_backend(probe, user, acked) else None


async def exactly_once(run: ProbeRun, user: SyntheticUser) -> bool:
    count = await run.backend.count_users(user.id)
    if count > 1:
        run.found("duplicate", f"{count} backend records for one auth user")
    return True


async def update_reaches_backend(run: ProbeRun, user: SyntheticUser, acked: float) -> bool:
    """Backend shows the user's new values (`user.fields`) and kept every other field."""
    expected = _compared(run, user.fields)
    obs = await run.wait(
        "update", lambda: run.reads.get_user(user.id), matches(expected), acked=acked
    )
    if obs.converged:
        return True
    history = [_compared(run, version) for version in user.history]
    for kind in update_kinds(history, expected, obs.value):
        run.found(kind, f"backend {_shows(kind)} {_after(run)}: {_wrong(obs.value, expected)}")
    return False


def _wrong(seen: Fields | None, expected: Fields) -> str:
    return ", ".join(differing(seen, expected))


def _shows(kind: str) -> str:
    return {
        "missing": "lost the user",
        "stale": "still shows old values",
        "partial": "shows values of no version auth held",
    }[kind]


async def update_user(run: ProbeRun, user: SyntheticUser, changes: Fields) -> float:
    """Update the user in Auth; returns the ack instant."""
    await run.auth.update(user.id, changes)
    acked = run.clock.monotonic()
    user.history.append(dict(user.fields))
    user.fields.update(changes)
    return acked


async def delete_user(run: ProbeRun, user: SyntheticUser) -> float:
    """Delete the user in Auth; returns the ack instant."""
    await run.auth.delete(user.id)
    run.deleted(user.id)
    return run.clock.monotonic()


async def deletion_reaches_backend(
    run: ProbeRun, user: SyntheticUser, acked: float, *, dependents: int = 0
) -> bool:
    """Backend no longer has the user, nor (when it had any) its dependents."""
    obs = await run.wait("delete", lambda: run.reads.get_user(user.id), _absent, acked=acked)
    if not obs.converged:
        run.found("orphan", f"user still in backend {_after(run)} although deleted in auth")
        return False
    if not dependents:
        return True
    left = await run.wait(
        "dependents", lambda: run.reads.get_dependents(user.id), _zero, acked=acked, sync=False
    )
    if not left.converged:
        run.found("cascade", f"{left.value} of {dependents} dependents survived the deletion")
        return False
    return True


def _absent(record: Fields | None) -> bool:
    return record is None


def _zero(count: int) -> bool:
    return count == 0


def _compared(run: ProbeRun, fields: Mapping[str, str]) -> Fields:
    """Only the fields Backend mirrors are compared."""
    mirrored = run.target.backend.fields
    return {k: v for k, v in fields.items() if k in mirrored}
