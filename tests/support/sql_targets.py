"""SQL targets for tests: the queries of a users table on either side, and targets built
from config dicts the way the daemon builds them.

The same queries serve PostgreSQL and SQLite: ids are bound as text and cast
(`CAST(:id AS bigint)`), and `profile.city` is a column alias bound as `:profile_city`.
"""

from __future__ import annotations

from typing import Any

from monitor.clock import SYSTEM_CLOCK
from monitor.config import Config, parse_config
from monitor.settings import ProbeSettings
from monitor.targets.base import Target
from monitor.targets.build import build_target

FIELDS = ["email", "display_name", "profile.city"]
BY_ID = "WHERE id = CAST(:id AS bigint)"
RECORD = 'SELECT email, display_name, city AS "profile.city" FROM users'
INSERT = (
    "INSERT INTO users (email, display_name, city) "
    "VALUES (:email, :display_name, :profile_city) RETURNING id"
)
AUTH_QUERIES = {
    "create": INSERT,
    "get": f"{RECORD} {BY_ID}",
    "update": "UPDATE users SET display_name = COALESCE(:display_name, display_name), "
    f"city = COALESCE(:profile_city, city) {BY_ID}",
    "delete": f"DELETE FROM users {BY_ID}",
    "list": "SELECT id, email FROM users WHERE email LIKE '%' || :email_suffix",
    "transaction": INSERT,
}
BACKEND_QUERIES = {
    "get_user": f"{RECORD} {BY_ID}",
    "count_users": f"SELECT count(*) FROM users {BY_ID}",
    "get_dependents": "SELECT count(*) FROM sessions WHERE user_id = CAST(:id AS bigint)",
    "create_dependent": "INSERT INTO sessions (user_id, token) "
    "VALUES (CAST(:id AS bigint), :token)",
    "delete_user": f"DELETE FROM users {BY_ID}",
}
DEADLINES = {"sync": 1.0, "give_up": 3.0}


def sql_side(dsn: str, queries: dict[str, str], **options: Any) -> dict[str, Any]:
    """One side's config: `kind: sql` with the test fields."""
    return {"kind": "sql", "dsn": dsn, "queries": queries, "fields": FIELDS, **options}


def sql_config(
    auth: dict[str, Any], backend: dict[str, Any], *, deadlines: dict[str, float] | None = None
) -> Config:
    """A config with one target `sql` of the two sides, validated like a config file."""
    return parse_config(
        {
            "defaults": {"deadlines": deadlines or DEADLINES, "timeout": 20},
            "targets": [{"name": "sql", "auth": auth, "backend": backend}],
        }
    )


def sql_target(config: Config) -> Target:
    return build_target(config.targets[0], clock=SYSTEM_CLOCK)


def settings(config: Config, probe: str) -> ProbeSettings:
    return config.probe_settings(config.targets[0], probe)
