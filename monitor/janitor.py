"""The janitor: removes synthetic users a crashed or failed run left behind.

Two sources: the ledger (every create is written there before it is made) and, where
the Auth side can list, every tagged user older than the TTL (the age is in the tag).
It never touches a user whose email is not synthetic: the guarded Auth side refuses.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from monitor.ledger import Entry, Ledger
from monitor.targets.base import NotFound, Target, TargetError, synthetic_pattern

log = logging.getLogger("monitor.janitor")


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
