"""The probe argv against the machine's real curl: a hostile .curlrc and HTTP(S)_PROXY in the source
container cannot reroute the probe (-q, --noproxy '*'), and an oversized response is refused
(--max-filesize). Loopback only."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.probe.argv import MAX_FILESIZE, WRITE_OUT_MARKER, build_curl_argv, build_curl_pair_argv
from agent.probe.curl_output import parse_curl
from agent.probe.transfers import split_transfers
from tests.support.http_server import QuietHandler, serving

CURL = shutil.which("curl")
pytestmark = pytest.mark.skipif(CURL is None, reason="curl is not installed")


class _Handler(QuietHandler):
    def do_GET(self) -> None:
        if self.path == "/big":
            self.send_response(200)
            self.send_header("Content-Length", str(MAX_FILESIZE + 1))
            self.end_headers()
            return  # curl must give up on the announced size alone
        self.reply(200, b"hello from the real server")


@pytest.fixture
def server() -> Iterator[int]:
    with serving(_Handler) as port:
        yield port


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


class _PairHandler(QuietHandler):
    """200 for the first request id it sees, 503 for any other: each transfer must get its own."""

    first: str | None = None

    def do_GET(self) -> None:
        rid = self.headers.get("x-request-id")
        if _PairHandler.first is None:
            _PairHandler.first = rid
        status = 200 if rid == _PairHandler.first else 503
        self.reply(status, f"{rid}".encode())


def test_pair_two_transfers_each_with_its_own_request_id(tmp_path: Path) -> None:
    _PairHandler.first = None
    with serving(_PairHandler) as port:
        url = f"http://127.0.0.1:{port}/x"
        run = _run(build_curl_pair_argv(url, request_ids=("rid-a", "rid-b"), timeout_s=5), tmp_path)
    transfers = split_transfers(run.stdout, run.stderr, run.returncode)
    parsed = [parse_curl(t.stdout, t.stderr, t.exit_code) for t in transfers]
    assert [(c.http_status, c.body, c.exit_code) for c in parsed] == [(200, "rid-a", 0), (503, "rid-b", 0)]
    assert all(not c.notes for c in parsed)  # each share looks like a single run to the parser


def test_pair_both_refused_each_names_its_error(tmp_path: Path) -> None:
    """The hostile container's .curlrc and proxies must not reach the second transfer either."""
    with serving(_PairHandler) as port:
        pass  # closed again: nothing listens on it now
    run = _run(
        build_curl_pair_argv(f"http://127.0.0.1:{port}/", request_ids=("a", "b"), timeout_s=5), tmp_path
    )
    transfers = split_transfers(run.stdout, run.stderr, run.returncode)
    parsed = [parse_curl(t.stdout, t.stderr, t.exit_code) for t in transfers]
    assert [c.exit_code for c in parsed] == [7, 7]
    assert all(f"port {port}" in (c.error or "") for c in parsed)
