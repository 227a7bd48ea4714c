"""Finding real components (Prometheus, Alertmanager, PostgreSQL, Chromium) for tests.

A test may skip when a component is missing on a developer's laptop; under CI=true a
missing component is a failure, never a silent skip.
"""

from __future__ import annotations

import glob
import os
import shutil

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_binary(name: str, *, package: str) -> str:
    """The path of `name`, or skip (fail under CI) naming the Debian package to install."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} not found: install the Debian package {package} (./dev test does)"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def require_postgres_bin(tool: str) -> str:
    """`initdb`/`pg_ctl` live in /usr/lib/postgresql/*/bin, not on PATH."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))
    if found:
        return found[-1]
    message = f"{tool} not found: install the Debian package postgresql (./dev test does)"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)
