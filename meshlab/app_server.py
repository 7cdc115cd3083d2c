"""A tiny bookinfo-like workload app (stdlib threaded HTTP/1.1) whose behaviour scenarios set.

Routes: /productpage, /reviews/<id>, /details/<id>, /ratings/<id>, /health. Knobs: status, delay,
close without answering, reset (RST), garbage (non-HTTP bytes). Binds only the loopback address it is given.
Run: `python -m meshlab.app_server --addr 127.0.1.2 --port 9080 [--status 503] [--delay-ms N] [--close]`.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from meshlab.loopback import is_loopback_ip

ROUTES = re.compile(r"^/(productpage|health|(reviews|details|ratings)/\d+)/?(\?.*)?$")


# A TLS alert record (handshake_failure) plus junk: what a TLS-only server writes to a plaintext client.
TLS_ALERT = b"\x15\x03\x03\x00\x02\x02\x46garbage\r\n\r\n"
# An HTTP/2-only (prior knowledge h2c) server's answer to an HTTP/1.1 request: its SETTINGS frame,
# then GOAWAY(PROTOCOL_ERROR).
H2_GOAWAY = (
    b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
    b"\x00\x00\x08\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
)


@dataclass(frozen=True)
class AppBehaviour:
    status: int = 200
    delay_ms: int = 0
    close: bool = False  # close the connection without a response
    reset: bool = False  # abort with TCP RST
    garbage: bool = False  # answer TLS_ALERT (as a TLS-only app answers plaintext), then close
    raw_reply: bytes = b""  # answer these bytes instead of HTTP/1.1 (e.g. H2_GOAWAY), then close


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY Nagle + delayed ACK add ~40 ms.
    disable_nagle_algorithm = True
    server_version = "meshprober-lab-app/1"
    behaviour = AppBehaviour()

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: the sidecar's access log is the record

    def do_GET(self) -> None:
        b = self.behaviour
        if b.delay_ms:
            time.sleep(b.delay_ms / 1000)
        if b.reset:
            # SO_LINGER 0 makes close() send RST instead of FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if b.close:
            self.close_connection = True
            return
        if b.garbage or b.raw_reply:
            # Not an HTTP/1 status line: the sidecar's HTTP/1 codec must reject it.
            self.wfile.write(b.raw_reply or TLS_ALERT)
            self.close_connection = True
            return
        if not ROUTES.match(self.path):
            self._send(404, {"error": f"no route {self.path}"})
            return
        status = 200 if self.path.startswith("/health") else b.status
        self._send(status, {"path": self.path, "status": status})

    def _send(self, status: int, payload: dict[str, object]) -> None:
        body = (json.dumps(payload) + "\n").encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A peer (the sidecar) hanging up mid-response is a scenario outcome, not an app bug.
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def make_server(addr: str, port: int, behaviour: AppBehaviour) -> ThreadingHTTPServer:
    """A ready-to-serve app bound to addr:port (loopback only)."""
    if not is_loopback_ip(addr):
        raise ValueError(f"--addr {addr!r}: the lab app binds loopback (127.0.0.0/8) only")
    handler = type("Handler", (_Handler,), {"behaviour": behaviour})
    return _QuietServer((addr, port), handler)


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    return thread


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m meshlab.app_server", description=__doc__)
    p.add_argument("--addr", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--status", type=int, default=200)
    p.add_argument("--delay-ms", type=int, default=0)
    p.add_argument("--close", action="store_true")
    p.add_argument("--reset", action="store_true")
    args = p.parse_args(argv)
    try:
        server = make_server(
            args.addr, args.port, AppBehaviour(args.status, args.delay_ms, args.close, args.reset)
        )
    except (ValueError, OSError) as exc:
        print(f"app_server: {exc}", file=sys.stderr)
        return 2
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
