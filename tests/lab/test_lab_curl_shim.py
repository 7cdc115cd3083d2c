"""The lab's curl routing (meshlab.podenv): a `curl` shim that reads the pod's routing file even when
the probe passes -q, so the agent's `-q` (ignore the container's .curlrc) does not break the lab.
Runs the machine's real curl against a loopback server."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.probe.argv import build_curl_argv, build_curl_pair_argv
from agent.probe.transfers import split_transfers
from meshlab.podenv import Route, write_app_env
from tests.support.http_server import QuietHandler, serving

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


class _Handler(QuietHandler):
    def do_GET(self) -> None:
        self.reply(200, self.headers.get("Host", "").encode())


@pytest.fixture
def server() -> Iterator[int]:
    with serving(_Handler) as port:
        yield port


@pytest.mark.parametrize("with_q", [True, False], ids=["probe-argv-with-q", "plain-kubectl-exec-curl"])
def test_shim_routes_service_names_with_and_without_q(server: int, tmp_path: Path, with_q: bool) -> None:
    app = tmp_path / "app"
    bin_dir = write_app_env(app, [Route(("productpage.bookinfo",), 9080, "127.0.0.1", server)], "127.0.0.1")
    (app / ".curlrc").write_text('connect-to = "::127.0.0.1:9"\n')  # the container's own: must not matter
    argv = build_curl_argv("http://productpage.bookinfo:9080/", request_id="r", timeout_s=5)
    if not with_q:
        argv = ["curl", "-sS", "http://productpage.bookinfo:9080/"]
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(app), "CURL_HOME": str(app)}
    run = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=20, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("productpage.bookinfo:9080")


def test_shim_routes_every_transfer_of_a_pair(server: int, tmp_path: Path) -> None:
    """`--next` resets connect-to: the shim re-reads the routing file for the second transfer."""
    app = tmp_path / "app"
    bin_dir = write_app_env(app, [Route(("productpage.bookinfo",), 9080, "127.0.0.1", server)], "127.0.0.1")
    argv = build_curl_pair_argv("http://productpage.bookinfo:9080/", request_ids=("r1", "r2"), timeout_s=5)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(app), "CURL_HOME": str(app)}
    run = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=20, check=False)
    assert run.returncode == 0, run.stderr
    transfers = split_transfers(run.stdout, run.stderr, run.returncode)
    assert [t.exit_code for t in transfers] == [0, 0]
    assert all(t.stdout.startswith("productpage.bookinfo:9080") for t in transfers)
