"""A small Chrome DevTools Protocol driver for headless Chromium (Debian's /usr/bin/chromium), used by
the status-page browser tests and tools/screenshots.py: open a page, evaluate script, click at a
point, capture a PNG, allow downloads into a directory.

Loopback only (the browser listens on 127.0.0.1, port chosen by Chromium); every wait is bounded.
Developer tooling: nothing in agent/ imports it.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websocket

STARTUP_TIMEOUT_S = 30.0
CALL_TIMEOUT_S = 30.0


def find_chromium() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


class CdpError(RuntimeError):
    """Chromium did not start, or a DevTools call failed or timed out."""


class _Conn:
    """One DevTools websocket: numbered calls, events kept until asked for."""

    def __init__(self, url: str) -> None:
        self.ws = websocket.create_connection(url, timeout=CALL_TIMEOUT_S, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        msg_id = self.next_id
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        deadline = time.monotonic() + CALL_TIMEOUT_S
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise CdpError(f"{method}: {msg['error']}")
                result: dict[str, Any] = msg.get("result", {})
                return result
            self.events.append(msg)
        raise CdpError(f"{method}: no answer within {CALL_TIMEOUT_S:g}s")

    def wait_event(self, method: str, timeout: float = CALL_TIMEOUT_S) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for i, msg in enumerate(self.events):
                if msg.get("method") == method:
                    return self.events.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                raise CdpError(f"no {method} event within {timeout:g}s")
            self.ws.settimeout(left)
            try:
                self.events.append(json.loads(self.ws.recv()))
            except websocket.WebSocketTimeoutException:
                continue
            finally:
                self.ws.settimeout(CALL_TIMEOUT_S)

    def close(self) -> None:
        self.ws.close()


class Browser:
    """Headless Chromium with one page, driven over DevTools. Use as a context manager."""

    def __init__(self, chromium: str | None = None, width: int = 1280, height: int = 900) -> None:
        binary = chromium or find_chromium()
        if binary is None:
            raise CdpError("Debian chromium is not installed (/usr/bin/chromium)")
        self._profile = Path(tempfile.mkdtemp(prefix="meshprober-cdp-"))
        argv = [
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--no-first-run", "--hide-scrollbars",
            "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
            f"--user-data-dir={self._profile}", f"--window-size={width},{height}", "about:blank",
        ]  # fmt: skip
        self._proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            port, browser_path = self._devtools_port()
            self.browser = _Conn(f"ws://127.0.0.1:{port}{browser_path}")
            pages = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
            page = next(p for p in pages if p.get("type") == "page")
            self.page = _Conn(page["webSocketDebuggerUrl"])
            self.page.call("Page.enable")
            self.page.call("Runtime.enable")
        except Exception:
            self.close()
            raise

    def _devtools_port(self) -> tuple[int, str]:
        marker = self._profile / "DevToolsActivePort"
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise CdpError(f"chromium exited with {self._proc.returncode} before DevTools came up")
            lines = marker.read_text().splitlines() if marker.exists() else []
            if len(lines) >= 2:
                return int(lines[0]), lines[1]
            time.sleep(0.1)
        raise CdpError(f"chromium's DevTools did not come up within {STARTUP_TIMEOUT_S:g}s")

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for conn in ("page", "browser"):
            if hasattr(self, conn):
                getattr(self, conn).close()
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        shutil.rmtree(self._profile, ignore_errors=True)

    def open(self, url: str) -> None:
        """Navigate and wait for the load event."""
        self.page.events.clear()
        self.page.call("Page.navigate", url=url)
        self.page.wait_event("Page.loadEventFired")

    def wait_load(self, timeout: float = CALL_TIMEOUT_S) -> None:
        """Wait for the next load event (a navigation or a reload the page started itself)."""
        self.page.wait_event("Page.loadEventFired", timeout)

    def click_and_wait(self, x: float, y: float) -> None:
        """Click at (x, y) and wait for the navigation it starts."""
        self.page.events.clear()
        self.click(x, y)
        self.wait_load()

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a script expression in the page (promises awaited)."""
        out = self.page.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in out:
            raise CdpError(f"script failed: {out['exceptionDetails'].get('text')}: {expression[:200]}")
        return out.get("result", {}).get("value")

    def click(self, x: float, y: float) -> None:
        """A real mouse click (press and release) at viewport coordinates."""
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.page.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def allow_downloads(self, into: Path) -> None:
        self.browser.call(
            "Browser.setDownloadBehavior", behavior="allow", downloadPath=str(into), eventsEnabled=True
        )

    def screenshot(self, out: Path, full_page: bool = True, scale: float = 1.0) -> Path:
        """A PNG of the page (its whole height when full_page), scaled by `scale`."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.evaluate(
                "({w: document.documentElement.scrollWidth, h: document.documentElement.scrollHeight})"
            )
            params.update(
                captureBeyondViewport=True,
                clip={"x": 0, "y": 0, "width": size["w"], "height": size["h"], "scale": scale},
            )
        out.write_bytes(base64.b64decode(self.page.call("Page.captureScreenshot", **params)["data"]))
        return out
