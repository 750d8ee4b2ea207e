"""The simulator's HTTP surface, on the standard library's threading HTTP server.

GET  /metrics   Prometheus text format
GET  /healthz   "ok"
GET  /state     {"weight": .., "faults": {..}, "totals": [..]} as JSON
GET  /faults    current canary faults as JSON
POST /faults    replace them: {"errorRatio": 0.2, "addedLatencySeconds": 0.3,
                "journeys": ["checkout"], "fleetErrorRatio": 0.1, "canaryServedRatio": 0.1};
                {} clears (so does DELETE /faults)
"""

from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lab.simulator.faults import Faults, InvalidFaults
from lab.simulator.generating import Simulator

log = logging.getLogger("lab.simulator")

MAX_BODY = 64 * 1024


def make_server(simulator: Simulator, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        server_version = "canarygate-simulator"

        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._send(200, simulator.render(), "text/plain; version=0.0.4")
            elif self.path == "/healthz":
                self._send(200, "ok\n", "text/plain")
            elif self.path == "/faults":
                self._json(200, simulator.faults.to_json())
            elif self.path == "/state":
                totals = [
                    {"journey": j, "version": v, "code": c, "count": n}
                    for (j, v, c), n in sorted(simulator.totals().items())
                ]
                self._json(
                    200,
                    {
                        "weight": simulator.weight,
                        "faults": simulator.faults.to_json(),
                        "totals": totals,
                    },
                )
            else:
                self._json(404, {"error": f"no such path {self.path}"})

        def do_POST(self) -> None:
            if self.path != "/faults":
                self._json(404, {"error": f"no such path {self.path}"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._json(413, {"error": "body too large"})
                return
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                if not isinstance(body, dict):
                    raise InvalidFaults("the body must be a JSON object")
                faults = Faults.from_json(body)
            except (json.JSONDecodeError, InvalidFaults) as error:
                self._json(400, {"error": str(error)})
                return
            simulator.set_faults(faults)
            log.info("canary faults now %s", faults.to_json())
            self._json(200, faults.to_json())

        def do_DELETE(self) -> None:
            if self.path != "/faults":
                self._json(404, {"error": f"no such path {self.path}"})
                return
            simulator.set_faults(Faults())
            log.info("canary faults cleared")
            self._json(200, Faults().to_json())

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            self._send(status, json.dumps(payload) + "\n", "application/json")

        def _send(self, status: int, text: str, content_type: str) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", self.address_string(), format % args)

    return ThreadingHTTPServer((host, port), Handler)
