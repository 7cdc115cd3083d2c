"""Screenshots of the status pages for the README: the overview and the page of a failing path.

    python -m tools.screenshots [--url http://127.0.0.1:9090] [--out docs/screenshots]

The agent's JSON API needs its token: the demo's own (read from its output), or $MESHPROBER_TOKEN
with --url. Without --url it runs `meshprober demo` on a free loopback port (the seed scenario: real Envoy
sidecars), waits for the first round, shoots, and stops the demo with Ctrl-C (SIGINT). Drives
Debian's headless Chromium through tools/cdp.py. Every wait is bounded.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

from tools.cdp import Browser

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "docs" / "screenshots"
WIDTH = 1200
SCALE = 0.75  # smaller PNGs for the repository; text stays readable
DEMO_TIMEOUT_S = 180.0
TOKEN_LINE = re.compile(r"API token for this run \(printed once\): (\S+)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DemoUrl(str):
    """The demo's base URL, which also knows where the demo prints its per-run API token."""

    log: IO[str]

    def token(self, timeout: float = DEMO_TIMEOUT_S) -> str:
        """The API token the demo printed once (bounded wait for the line)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.log.seek(0)
            if m := TOKEN_LINE.search(self.log.read()):
                return m.group(1)
            time.sleep(0.2)
        raise RuntimeError(f"{self}: the demo printed no API token within {timeout:g}s")


def api_token(base: str) -> str | None:
    """The bearer token for the agent's JSON API: the demo's own, else $MESHPROBER_TOKEN."""
    return base.token() if isinstance(base, DemoUrl) else os.environ.get("MESHPROBER_TOKEN")


def wait_for_failing_path(base: str, timeout: float = DEMO_TIMEOUT_S) -> str:
    """The name of a path that failed and kept an evidence bundle, once the agent has one."""
    deadline = time.monotonic() + timeout
    token = api_token(base)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    while time.monotonic() < deadline:
        try:
            paths = httpx.get(f"{base}/api/v1/paths", timeout=5, headers=headers).json()
        except (httpx.HTTPError, ValueError):
            paths = []
        failing = sorted(
            p["path"] for p in paths if p.get("verdict") not in (None, "ok") and p.get("bundle_dir")
        )
        if failing and all(p.get("verdict") is not None for p in paths):
            return failing[0]
        time.sleep(0.5)
    raise RuntimeError(f"{base}: no failing path with an evidence bundle within {timeout:g}s")


@contextmanager
def demo() -> Iterator[str]:
    """`meshprober demo` serving on a free port; yields its base URL and stops it afterwards."""
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with tempfile.TemporaryFile("w+") as log:
        argv = [sys.executable, "-m", "agent", "demo", "--listen", f"127.0.0.1:{port}"]
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        try:
            url = DemoUrl(f"http://127.0.0.1:{port}")
            url.log = log
            yield url
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def shoot(base: str, out: Path) -> list[Path]:
    """overview.png and path.png (a failing path's page) from the agent at `base`, into `out`."""
    name = wait_for_failing_path(base)
    out.mkdir(parents=True, exist_ok=True)
    with Browser(width=WIDTH, height=800) as browser:
        browser.open(f"{base}/")
        overview = browser.screenshot(out / "overview.png", scale=SCALE)
        browser.open(f"{base}/paths/{name}")
        page = browser.screenshot(out / "path.png", scale=SCALE)
    return [overview, page]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", help="a running agent (default: start `meshprober demo`)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    args = parser.parse_args(argv)
    if args.url:
        files = shoot(args.url.rstrip("/"), args.out)
    else:
        with demo() as base:
            files = shoot(base, args.out)
    for f in files:
        print(f"{f} ({f.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
