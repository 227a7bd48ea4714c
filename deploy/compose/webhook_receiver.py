"""A stand-in for your paging and chat receivers: logs each Alertmanager notification.

The compose stack's Alertmanager (config/alertmanager/alertmanager.yml) posts to
http://webhook-receiver:5001/<receiver>; `docker compose logs -f webhook-receiver` shows
one line per alert. Standard library only, so it runs in the monitor's own image.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LISTEN = ("0.0.0.0", 5001)


def alert_lines(receiver: str, body: dict[str, Any]) -> list[str]:
    """One line per alert: receiver, status, name and the labels that say what failed."""
    lines = []
    for alert in body.get("alerts") or []:
        if not isinstance(alert, dict):
            continue
        labels = alert.get("labels") or {}
        shown = " ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "alertname")
        name = labels.get("alertname", "?")
        lines.append(f"{receiver}: {alert.get('status', '?')} {name} {shown}")
    return lines


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            self.send_error(400, "expected a JSON object")
            return
        for line in alert_lines(self.path.strip("/") or "default", body):
            print(line, flush=True)
        self.send_response(200)
        self.end_headers()

    def do_GET(self) -> None:
        """Health check: the container image's HEALTHCHECK GETs a URL."""
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the alert lines are the log."""


def main() -> int:
    print(f"webhook receiver listening on {LISTEN[0]}:{LISTEN[1]}", flush=True)
    ThreadingHTTPServer(LISTEN, Handler).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
