"""A probe run: its timeout, errors that keep what was found, and cleanup in every case."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from monitor.settings import ProbeSettings
from monitor.targets.base import TargetError

RunOnce = Callable[..., Any]


class Wrapped:
    """Delegates to `inner`; subclasses override the calls they break."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class CrashingCount(Wrapped):
    async def count_users(self, user_id: str) -> int:
        raise RuntimeError("boom")


class FailingUpdate(Wrapped):
    async def update(self, user_id: str, changes: Mapping[str, str]) -> None:
        raise TargetError("503 unavailable")


class FailingDelete(Wrapped):
    """Deletes of the first user deleted fail with `error` (every one, or the first `times`)."""

    def __init__(self, inner: Any, error: Exception, *, times: int | None = None) -> None:
        super().__init__(inner)
        self.error = error
        self.victim: str | None = None
        self.left = times

    async def delete(self, user_id: str) -> None:
        self.victim = self.victim or user_id
        if user_id == self.victim and self.left != 0:
            self.left = None if self.left is None else self.left - 1
            raise self.error
        await self.inner.delete(user_id)


def step_names(ran: Any) -> list[str]:
    return [s.name for s in ran.result.steps]


def test_the_run_timeout_is_an_error_naming_the_wait_and_keeping_the_steps(
    run_once: RunOnce,
) -> None:
    ran = run_once("create_sync", {"sync_delay": 6.0}, ProbeSettings(timeout=1.0))

    assert ran.result.outcome == "error"
    assert ran.result.error == "timed out after 1 s (during backend.wait_create)"
    assert step_names(ran) == ["auth.create", "backend.wait_create", "auth.delete"]
    assert ran.world.auth.users == {}


def test_the_run_timeout_names_the_calls_under_way(run_once: RunOnce) -> None:
    ran = run_once("concurrent", {"auth_latency": 2.0}, ProbeSettings(timeout=1.0))

    assert ran.result.error == "timed out after 1 s (during auth.create)"
    assert ran.result.duration_seconds < 2.0


def test_an_exception_inside_the_probe_is_an_internal_error_and_cleanup_still_runs(
    run_once: RunOnce, sim_target: Callable[..., Any]
) -> None:
    target = sim_target()
    target.backend = CrashingCount(target.backend)

    ran = run_once("create_sync", target=target)

    assert ran.result.outcome == "error"
    assert ran.result.error == "internal error: RuntimeError: boom"
    assert step_names(ran)[-1] == "auth.delete"
    assert ran.world.auth.users == {}


def test_a_failed_call_keeps_what_was_found_before_it(
    run_once: RunOnce, sim_target: Callable[..., Any]
) -> None:
    target = sim_target({"faults": {"duplicate_sync": 1}})
    target.auth.inner = FailingUpdate(target.auth.inner)

    ran = run_once("update_propagation", target=target)

    assert ran.result.outcome == "error"
    assert ran.result.error == "auth.update: 503 unavailable"
    assert ran.result.kinds == {"duplicate"}


def test_users_are_deleted_concurrently_so_a_slow_auth_meets_the_cleanup_deadline(
    run_once: RunOnce,
) -> None:
    ran = run_once("concurrent", {"auth_latency": 1.5})

    assert ran.result.outcome == "pass", ran.result.error
    assert ran.world.auth.users == {}


def test_a_cleanup_that_keeps_failing_is_an_error(
    run_once: RunOnce, sim_target: Callable[..., Any]
) -> None:
    target = sim_target()
    target.auth.inner = FailingDelete(target.auth.inner, TargetError("500 nope"))

    ran = run_once("create_sync", target=target)

    assert ran.result.outcome == "error"
    assert ran.result.error == (
        "cleanup failed, the ledger keeps the rest for the janitor: timed out after 5 s; "
        "last error: auth.delete: 500 nope"
    )
    # retried with a doubling pause (capped at 1 s) until the 5 s cleanup deadline
    assert step_names(ran).count("auth.delete") >= 6


def test_a_cleanup_delete_that_fails_for_a_while_is_retried_until_it_succeeds(
    run_once: RunOnce, sim_target: Callable[..., Any]
) -> None:
    target = sim_target()
    target.auth.inner = FailingDelete(target.auth.inner, TargetError("500 nope"), times=4)

    ran = run_once("create_sync", target=target)

    assert ran.result.outcome == "pass", ran.result.error
    assert ran.world.auth.users == {}
    assert step_names(ran).count("auth.delete") == 5


def test_a_cleanup_delete_that_raises_does_not_keep_the_other_users(
    run_once: RunOnce, sim_target: Callable[..., Any]
) -> None:
    target = sim_target()
    target.auth.inner = failing = FailingDelete(target.auth.inner, RuntimeError("bug"))

    ran = run_once("concurrent", target=target)

    assert ran.result.outcome == "error"
    assert ran.result.error is not None and "RuntimeError: bug" in ran.result.error
    assert list(ran.world.auth.users) == [failing.victim]
