"""Loopback ports for servers that cannot bind port 0 and report it back (Prometheus),
and waiting for such a server to be ready."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

import aiohttp


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago; the caller retries if it is taken in between."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_ready(process: asyncio.subprocess.Process, url: str, *, within: float) -> bool:
    """Poll `url` until it answers 200; False if the process exits or time runs out."""
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                return False
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return True
            await asyncio.sleep(0.1)
    return False
