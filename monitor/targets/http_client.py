"""The HTTP client under both HTTP sides: one session, auth, TLS, a rate limit, precise errors."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlsplit

import aiohttp

from monitor.config_sides import HttpSide, Operation
from monitor.targets.base import AlreadyExists, TargetError
from monitor.targets.templates import TemplateError, render_body, render_path

TOKEN_EARLY = 30.0  # refresh an OAuth2 token this many seconds before it expires


@dataclass(frozen=True)
class Answer:
    """A successful answer: status and the decoded JSON body (None when empty)."""

    status: int
    body: Any


def _ssl_context(side: HttpSide) -> ssl.SSLContext | bool:
    tls = side.tls
    if not (tls.ca_file or tls.cert_file or tls.insecure_skip_verify):
        return True
    context = ssl.create_default_context(cafile=tls.ca_file)
    if tls.cert_file:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    if tls.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class RateLimiter:
    """Spaces request starts at least 1/rate seconds apart."""

    def __init__(self, per_second: float | None) -> None:
        self._gap = 1.0 / per_second if per_second else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self._gap:
            return
        async with self._lock:
            now = time.monotonic()
            if self._next > now:
                await asyncio.sleep(self._next - now)
            self._next = max(now, self._next) + self._gap


class HttpClient:
    """Makes one configured operation's request and classifies the answer."""

    def __init__(self, side: HttpSide) -> None:
        self.side = side
        self._session: aiohttp.ClientSession | None = None
        self._limiter = RateLimiter(side.rate_limit)
        self._token: tuple[str, float] | None = None  # OAuth2 access token, expiry
        self._token_lock = asyncio.Lock()  # concurrent calls share one token request

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self.side.max_connections, ssl=_ssl_context(self.side)
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.side.timeout),
                headers=self.side.headers,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, op: Operation, values: Mapping[str, Any]) -> Answer | None:
        """Run `op`; None means not found; raises AlreadyExists, TargetError."""
        try:
            url = self.side.base_url.rstrip("/") + render_path(op.path, values)
            body = render_body(op.body, values) if op.body is not None else None
        except TemplateError as exc:
            raise TargetError(str(exc)) from None
        answer = await self._send(op, url, body, retry_auth=True)
        return answer

    async def _send(self, op: Operation, url: str, body: Any, *, retry_auth: bool) -> Answer | None:
        await self._limiter.wait()
        where = f"{op.method} {_safe(url)}"
        try:
            headers = {**op.headers, **await self._auth_headers()}
            async with self._open().request(op.method, url, json=body, headers=headers) as resp:
                if not (resp.status == 401 and retry_auth and self.side.auth.oauth2 is not None):
                    return await _classify(op, where, resp)
        except TimeoutError:
            raise TargetError(f"no answer within {self.side.timeout:g} s ({where})") from None
        except aiohttp.ClientConnectorError as exc:
            raise TargetError(f"{_connect_problem(exc)} ({exc.host}:{exc.port})") from None
        except aiohttp.ClientError as exc:
            raise TargetError(f"{where}: {type(exc).__name__}: {exc}") from None
        # Retried only once the 401's connection is released: with a small pool, the
        # token request and the retry would otherwise wait for it until the timeout.
        self._drop_token(headers.get("Authorization", ""))
        return await self._send(op, url, body, retry_auth=False)

    async def _auth_headers(self) -> dict[str, str]:
        auth = self.side.auth
        if auth.bearer_token is not None:
            return {"Authorization": f"Bearer {auth.bearer_token.get_secret_value()}"}
        if auth.basic is not None:
            pair = f"{auth.basic.username}:{auth.basic.password.get_secret_value()}"
            return {"Authorization": f"Basic {base64.b64encode(pair.encode()).decode()}"}
        if auth.oauth2 is not None:
            return {"Authorization": f"Bearer {await self._oauth2_token()}"}
        return {}

    def _drop_token(self, sent: str) -> None:
        """Forget the token a 401 refused, unless a concurrent call has renewed it already."""
        if self._token is not None and sent == f"Bearer {self._token[0]}":
            self._token = None

    async def _oauth2_token(self) -> str:
        async with self._token_lock:
            if self._token is None or self._token[1] <= time.monotonic():
                self._token = await self._fetch_token()
            return self._token[0]

    async def _fetch_token(self) -> tuple[str, float]:
        """A new access token from the token endpoint, and when to renew it."""
        oauth = self.side.auth.oauth2
        assert oauth is not None
        secret = oauth.client_secret.get_secret_value()
        form = {"grant_type": "client_credentials"}
        headers = {}
        if oauth.client_auth == "basic":  # RFC 6749 2.3.1: each part form-encoded first
            pair = f"{quote_plus(oauth.client_id)}:{quote_plus(secret)}"
            headers["Authorization"] = f"Basic {base64.b64encode(pair.encode()).decode()}"
        else:
            form.update(client_id=oauth.client_id, client_secret=secret)
        if oauth.scopes:
            form["scope"] = " ".join(oauth.scopes)
        where = f"POST {_safe(oauth.token_url)}"
        try:
            async with self._open().post(oauth.token_url, data=form, headers=headers) as resp:
                if resp.status >= 300:
                    raise TargetError(f"OAuth2 token: {where} → {resp.status} {resp.reason}")
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, ValueError, TimeoutError) as exc:
            raise TargetError(f"OAuth2 token: {where}: {type(exc).__name__}") from None
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str):
            raise TargetError(f"OAuth2 token: {where}: the answer has no access_token")
        try:
            expires = float(data.get("expires_in", 300))
        except (TypeError, ValueError):
            raise TargetError(f"OAuth2 token: {where}: expires_in is not a number") from None
        return token, time.monotonic() + max(0.0, expires - TOKEN_EARLY)


async def _classify(op: Operation, where: str, resp: aiohttp.ClientResponse) -> Answer | None:
    status = resp.status
    if status in op.not_found:
        return None
    if status in op.conflict:
        raise AlreadyExists(f"{where} → {status} {resp.reason}")
    if status not in op.success:
        raise TargetError(f"{where} → {status} {resp.reason}")
    text = await resp.text()
    if not text.strip():
        return Answer(status, None)
    try:
        return Answer(status, json.loads(text))
    except ValueError:
        raise TargetError(f"malformed JSON in the answer to {where}") from None


def _connect_problem(exc: aiohttp.ClientConnectorError) -> str:
    error = exc.os_error
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return "TLS certificate not trusted"
    return f"cannot connect: {error.strerror or error}" if error else "cannot connect"


def _safe(url: str) -> str:
    """The URL without user info and with query values elided (`?api_key=…`), so
    credentials, wherever a config puts them, never reach a message."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    names = [name for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
    query = "?" + "&".join(f"{name}=…" for name in names) if parts.query else ""
    return f"{parts.scheme}://{host}{port}{parts.path}{query}"
