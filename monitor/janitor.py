"""The janitor: removes synthetic users a crashed or failed run left behind.

Two sources: the ledger (every create is written there before it is made) and, where
the Auth side can list, every tagged user older than the TTL (the age is in the tag).
It never touches a user whose email is not synthetic: the guarded Auth side refuses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from monitor.clock import Clock
from monitor.config import Config, JanitorConfig
from monitor.ledger import Entry, Ledger
from monitor.metric_types import Counter
from monitor.targets.base import NotFound, Target, TargetError, synthetic_pattern

log = logging.getLogger("monitor.janitor")

TICK = 5.0  # how often due passes are looked for
Lookup = Callable[[str], Target | None]


@dataclass
class Swept:
    """What one janitor pass removed, per side, and what it could not."""

    auth: int = 0
    backend: int = 0
    failed: int = 0


def tag_age(email: str, domain: str, now: float) -> float | None:
    """Seconds since the tag's creation time, or None if the email is not a tag."""
    match = synthetic_pattern(domain).match(email)
    return None if match is None else now - int(match.group(1))


async def sweep(target: Target, ledger: Ledger, *, ttl: float, now: float, before: float) -> Swept:
    """Remove ledger entries made before `before`, then listed tags older than `ttl`."""
    swept = Swept()
    stale = [e for e in ledger.entries(target.name) if e.created_at < before]
    await _remove_entries(target, ledger, stale, swept)
    if "list" in target.auth.calls:
        old = [uid for uid, email in await _listed(target) if _older(email, target, now, ttl)]
        for user_id in old:
            await _remove(target, user_id, swept)
    if swept.auth or swept.backend or swept.failed:
        log.info(
            "janitor on %s removed %d auth and %d backend users (%d failed)",
            target.name,
            swept.auth,
            swept.backend,
            swept.failed,
        )
    return swept


async def _listed(target: Target) -> list[tuple[str, str]]:
    try:
        return await target.auth.list(f"@{target.domain}")
    except TargetError as exc:
        log.warning("janitor on %s cannot list auth users: %s", target.name, exc)
        return []


def _older(email: str, target: Target, now: float, ttl: float) -> bool:
    age = tag_age(email, target.domain, now)
    return age is not None and age > ttl


async def _remove_entries(
    target: Target, ledger: Ledger, entries: Iterable[Entry], swept: Swept
) -> None:
    known = (
        {uid: email for uid, email in await _listed(target)} if "list" in target.auth.calls else {}
    )
    by_email = {email: uid for uid, email in known.items()}
    for entry in entries:
        user_id = entry.user_id or by_email.get(entry.email)
        if user_id is None:
            ledger.forget(entry.entry)  # the create never happened, or it was already removed
            continue
        if await _remove(target, user_id, swept):
            ledger.forget(entry.entry)


async def _remove(target: Target, user_id: str, swept: Swept) -> bool:
    """Delete in Auth (guarded) and, where Backend can, its mirror; True when done."""
    try:
        await target.auth.delete(user_id)
        swept.auth += 1
    except NotFound:
        pass
    except TargetError as exc:
        log.warning("janitor on %s cannot delete %s: %s", target.name, user_id, exc)
        swept.failed += 1
        return False
    if "delete_user" in target.backend.calls:
        await _remove_mirror(target, user_id, swept)
    return True


async def _remove_mirror(target: Target, user_id: str, swept: Swept) -> None:
    try:
        if await target.backend.get_user(user_id) is not None:
            await target.backend.delete_user(user_id)
            swept.backend += 1
    except TargetError as exc:
        log.warning(
            "janitor on %s cannot delete the backend mirror of %s: %s", target.name, user_id, exc
        )


class JanitorService:
    """Runs `sweep` on every real target at its janitor interval, first at start-up.

    Ledger entries made before this process started are stale at once (a crash left
    them); newer ones only once older than the TTL, so runs in flight are never touched.
    """

    def __init__(self, ledger: Ledger, *, lookup: Lookup, removed: Counter, clock: Clock) -> None:
        self._ledger = ledger
        self._lookup = lookup
        self._removed = removed
        self._clock = clock
        self._started = clock.wall()
        self._targets: dict[str, JanitorConfig] = {}
        self._due: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    def configure(self, config: Config) -> None:
        """Every target: real ones by ledger and tag age, simulator ones by tag age (their
        world lives as long as the process, and a long run can still leave users)."""
        gone = set(self._targets) - {t.name for t in config.targets}
        self._targets = {t.name: t.janitor for t in config.targets}
        for name in gone:
            self._due.pop(name, None)
            for side in ("auth", "backend"):
                with contextlib.suppress(KeyError):
                    self._removed.remove(name, side)
        for name in self._targets:
            self._due.setdefault(name, 0.0)
            for side in ("auth", "backend"):
                self._removed.labels(name, side)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            now = self._clock.wall()
            for name, settings in list(self._targets.items()):
                if now >= self._due.get(name, 0.0):
                    await self.sweep_target(name, settings, now)
                    self._due[name] = now + settings.interval
            await self._clock.sleep(TICK)

    async def sweep_target(self, name: str, settings: JanitorConfig, now: float) -> Swept:
        target = self._lookup(name)
        if target is None:
            return Swept()
        before = max(self._started, now - settings.ttl)
        try:
            swept = await sweep(target, self._ledger, ttl=settings.ttl, now=now, before=before)
        except Exception:  # the janitor must outlive a bad pass
            log.exception("janitor pass on %s failed", name)
            return Swept()
        self._removed.labels(name, "auth").inc(swept.auth)
        self._removed.labels(name, "backend").inc(swept.backend)
        return swept

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
