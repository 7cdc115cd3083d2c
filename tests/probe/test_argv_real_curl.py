"""The probe argv against the machine's real curl: a hostile .curlrc and HTTP(S)_PROXY in the source
container cannot reroute the probe (-q, --noproxy '*'), and an oversized response is refused
(--max-filesize). Loopback only."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agent.probe.argv import MAX_FILESIZE, WRITE_OUT_MARKER, build_curl_argv

CURL = shutil.which("curl")
pytestmark = pytest.mark.skipif(CURL is None, reason="curl is not installed")


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/big":
            self.send_response(200)
            self.send_header("Content-Length", str(MAX_FILESIZE + 1))
            self.end_headers()
            return  # curl must give up on the announced size alone
        body = b"hello from the real server"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


def _run(argv: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    # A hostile container: its .curlrc sends everything to a closed port, its proxy variables too.
    (home / ".curlrc").write_text('connect-to = "::127.0.0.1:9"\nproxy = "http://127.0.0.1:9"\n')
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "CURL_HOME": str(home)}
    env |= {k: "http://127.0.0.1:9" for k in ("http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY")}
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=20, check=False)


def test_curlrc_and_proxy_env_cannot_reroute_the_probe(server: int, tmp_path: Path) -> None:
    argv = build_curl_argv(f"http://127.0.0.1:{server}/?a=1&b=2", request_id="rid-1", timeout_s=5)
    run = _run(argv, tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("hello from the real server\n" + WRITE_OUT_MARKER)


def test_without_q_the_curlrc_would_win(server: int, tmp_path: Path) -> None:
    """The healthy control: the same hostile container breaks a probe that lacks -q."""
    argv = [
        a for a in build_curl_argv(f"http://127.0.0.1:{server}/", request_id="r", timeout_s=5) if a != "-q"
    ]
    assert _run(argv, tmp_path).returncode != 0


def test_oversized_response_is_refused(server: int, tmp_path: Path) -> None:
    run = _run(build_curl_argv(f"http://127.0.0.1:{server}/big", request_id="r", timeout_s=5), tmp_path)
    assert run.returncode == 63  # CURLE_FILESIZE_EXCEEDED
