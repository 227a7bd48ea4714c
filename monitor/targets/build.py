"""Build a Target from its config: the simulator, or real sides over HTTP or SQL."""

from __future__ import annotations

import random

from monitor.clock import Clock
from monitor.config import TargetConfig
from monitor.config_sides import HttpSide, SqlSide, shared_fields
from monitor.ledger import Ledger
from monitor.targets.base import AuthSide, BackendSide, GuardedAuth, Target
from monitor.targets.http import HttpAuthSide, HttpBackendSide
from monitor.targets.simulator import simulator_target


def auth_side(side: HttpSide | SqlSide, fields: tuple[str, ...]) -> AuthSide:
    if isinstance(side, HttpSide):
        return HttpAuthSide(side, fields=fields)
    from monitor.targets.sql import SqlAuthSide  # SQLAlchemy costs ~30 MB: only when used

    return SqlAuthSide(side)


def backend_side(side: HttpSide | SqlSide, fields: tuple[str, ...], *, domain: str) -> BackendSide:
    if isinstance(side, HttpSide):
        return HttpBackendSide(side, fields=fields)
    from monitor.targets.sql import SqlBackendSide  # SQLAlchemy costs ~30 MB: only when used

    return SqlBackendSide(side, fields=fields, domain=domain)  # it checks the tag before writes


def build_target(config: TargetConfig, *, clock: Clock, ledger: Ledger | None = None) -> Target:
    """The adapters a target's config asks for; real targets ledger what they create."""
    if config.simulator is not None:
        return simulator_target(config, clock=clock, truth_limit=0)  # nothing here reads it
    assert config.auth is not None and config.backend is not None
    fields = shared_fields(config.auth, config.backend)
    return Target(
        name=config.name,
        auth=GuardedAuth(
            auth_side(config.auth, fields),
            target=config.name,
            domain=config.synthetic_domain,
            ledger=ledger or Ledger.disabled(),
        ),
        backend=backend_side(config.backend, fields, domain=config.synthetic_domain),
        clock=clock,
        rng=random.Random(),
        domain=config.synthetic_domain,
        max_concurrency=config.max_concurrency,
    )
