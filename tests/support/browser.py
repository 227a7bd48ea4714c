"""Headless Chromium for tests: a page's DOM after load, and screenshots.

Each call runs its own `chromium --headless` with a fresh profile directory and every
background service off, so it neither phones home nor shares state between tests. No
pytest dependency: tests find the binary with
`support.components.require_binary("chromium", package="chromium")`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import struct
import tempfile
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",  # containers run as root, where the sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class BrowserError(Exception):
    """Chromium failed or timed out; the message carries the end of its output."""


async def _chromium(binary: str, *args: str, within: float) -> bytes:
    """Run Chromium with a throwaway profile; its stdout. Killed (with its helpers) on timeout."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        process = await asyncio.create_subprocess_exec(
            binary,
            *FLAGS,
            f"--user-data-dir={profile}",
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its zygote and renderers share our process group id
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), within)
        except TimeoutError:
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
            raise BrowserError(f"chromium {args[-1]} did not finish within {within} s") from None
    if process.returncode != 0:
        tail = err.decode(errors="replace")[-2000:]
        raise BrowserError(f"chromium exited with {process.returncode}:\n{tail}")
    return out


async def dump_dom(binary: str, url: str, *, within: float = 60.0) -> str:
    """The page's DOM serialised after load (what a user's browser would show)."""
    return (await _chromium(binary, "--dump-dom", url, within=within)).decode()


async def screenshot(
    binary: str, url: str, path: Path, *, width: int = 1400, height: int = 900, within: float = 60.0
) -> Path:
    """Save a PNG of the page at `width`×`height` to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    await _chromium(
        binary, f"--screenshot={path}", f"--window-size={width},{height}", url, within=within
    )
    return path


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; ValueError when it is not a PNG."""
    if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return width, height
