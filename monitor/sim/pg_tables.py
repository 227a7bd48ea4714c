"""simulate's PostgreSQL tables (`simulate --backend-dsn`) and the statements on them:
constants all, every value a bound parameter, so no SQL is ever built from data."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import text
from sqlalchemy.engine import URL

from monitor.sim.model import FIELDS
from monitor.targets.base import TargetError
from monitor.targets.sql_database import database_url

COLUMNS = {name: name.removeprefix("profile.") for name in FIELDS}  # field → column
TABLES = {
    "users": frozenset({"auth_id", "version", *COLUMNS.values()}),
    "sessions": frozenset({"user_auth_id", "token"}),
}
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS users (auth_id text NOT NULL, email text, display_name text, "
    "locale text, timezone text, plan text, city text, theme text, version int NOT NULL)",
    "CREATE INDEX IF NOT EXISTS users_auth_id ON users (auth_id)",
    "CREATE TABLE IF NOT EXISTS sessions (user_auth_id text NOT NULL, token text NOT NULL)",
    "CREATE INDEX IF NOT EXISTS sessions_user_auth_id ON sessions (user_auth_id)",
)
EXISTING = (
    "SELECT table_name, column_name FROM information_schema.columns "
    "WHERE table_schema = current_schema() AND table_name IN ('users', 'sessions')"
)
_COLS = ", ".join(COLUMNS.values())
SQL = {
    "get_user": f"SELECT {_COLS} FROM users WHERE auth_id = :id LIMIT 1",
    "count_users": "SELECT count(*) FROM users WHERE auth_id = :id",
    "count_dependents": "SELECT count(*) FROM sessions WHERE user_auth_id = :id",
    "held": "SELECT (SELECT count(*) FROM users WHERE auth_id = :id) AS user_rows, "
    "ARRAY(SELECT token FROM sessions WHERE user_auth_id = :id) AS tokens",
    "create_dependent": "INSERT INTO sessions (user_auth_id, token) SELECT :id, :token "
    "WHERE EXISTS (SELECT 1 FROM users WHERE auth_id = :id)",
    "delete_dependents": "DELETE FROM sessions WHERE user_auth_id = :id",
    "delete_user": "DELETE FROM users WHERE auth_id = :id",
    "ids": "SELECT DISTINCT auth_id FROM users",
    "insert": f"INSERT INTO users (auth_id, version, {_COLS}) "
    f"VALUES (:id, :version, {', '.join(f':{c}' for c in COLUMNS.values())})",
    # a field not in the update is bound as NULL and keeps its value
    "update": "UPDATE users SET version = :version, "
    + ", ".join(f"{c} = COALESCE(:{c}, {c})" for c in COLUMNS.values())
    + " WHERE auth_id = :id",
}
STATEMENTS = {name: text(sql) for name, sql in SQL.items()}


def postgres_url(dsn: str) -> URL:
    """The DSN as an asyncpg URL; ValueError (never repeating the DSN, which may hold a
    password) when it is not a PostgreSQL one."""
    try:
        url = database_url(dsn)
    except TargetError:
        url = None
    if url is None or url.get_backend_name() != "postgresql":
        raise ValueError("not a PostgreSQL URL (expected postgresql://user@host:port/database)")
    return url


def row_params(fields: Mapping[str, str]) -> dict[str, str | None]:
    """Every column as a parameter: the field's value, NULL for fields not given."""
    return {column: fields.get(name) for name, column in COLUMNS.items()}
