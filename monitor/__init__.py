"""consistency-monitor: proves continuously that Auth and Backend agree on their users."""

from __future__ import annotations

__version__ = "0.1.0"
