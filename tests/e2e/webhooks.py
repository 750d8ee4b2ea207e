"""Webhook receivers on loopback for the notification and check scenarios: a small HTTP
server in a thread that records every POST (path, headers, JSON body) and answers with a
status (and optionally a message, after a delay) a test may change at any time.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]  # names in lower case
    body: dict[str, Any]


class Webhook:
    """Answers every POST with `status` (200: accepted; 500: a receiver that is down)."""

    def __init__(self, name: str, *, status: int = 200, message: str | None = None) -> None:
        self.name = name
        self.status = status
        self.message = message  # the answer's body (default: ok or down)
        self.delay = 0.0  # seconds before answering
        self._deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"unparsable": raw.decode(errors="replace")}
                headers = {key.lower(): value for key, value in self.headers.items()}
                with webhook._lock:
                    webhook._deliveries.append(Delivery(self.path, headers, body))
                if webhook.delay:
                    time.sleep(webhook.delay)
                default = "ok" if webhook.status < 300 else "down"
                answer = (webhook.message or default).encode()
                self.send_response(webhook.status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the deliveries are the record

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"webhook {name}", daemon=True
        )
        self._thread.start()

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
