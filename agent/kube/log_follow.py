"""A container log followed as Envoy writes it (`follow=true`): the probe's access-log line is read
as soon as it is flushed, instead of sleeping a whole flush interval and reading the log again.

The stream is opened before the probe (its `sinceSeconds` covers the probe's window, as a plain read
would), read by a daemon thread into a buffer, and bounded three ways: bytes (`limitBytes`, also sent
to the server), life (MAX_FOLLOW_S, the read timeout of a silent stream), and close(), which every
caller runs. `wait_for` blocks until every needle is in the text, the stream ended, or a deadline.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import urllib3

from agent.errors import ClusterError, MeshproberError

MAX_FOLLOW_S = 60.0  # a follow the caller forgot would end here; callers close within seconds
CHUNK = 16 * 1024


class LogFollow:
    """One followed container log (see module docstring). Thread-safe."""

    def __init__(
        self,
        open_stream: Callable[[], Any],
        what: str,
        limit_bytes: int,
        explain: Callable[[MeshproberError], MeshproberError] = lambda exc: exc,
    ) -> None:
        self.what = what
        self._open = open_stream
        self._limit = limit_bytes
        self._explain = explain
        self._buf = bytearray()
        self._cond = threading.Condition()
        self._ended = False
        self._closed = False
        self._error: MeshproberError | None = None
        self._resp: Any = None
        self._thread = threading.Thread(target=self._run, name=f"log-follow {what}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            resp = self._open()
            with self._cond:
                self._resp = resp
            try:
                if not self._closed:
                    for chunk in resp.stream(CHUNK, decode_content=True):
                        with self._cond:
                            self._buf += chunk[: max(0, self._limit - len(self._buf))]
                            self._cond.notify_all()
                            if self._closed or len(self._buf) >= self._limit:
                                break
            finally:
                # A follow cut short still has a body coming: its connection must not be reused.
                with contextlib.suppress(Exception):
                    resp.close()
                resp.release_conn()
        except MeshproberError as exc:
            with self._cond:
                self._error = self._explain(exc)
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            with self._cond:
                if not self._closed:  # a read cut by close() is the normal end
                    self._error = ClusterError(f"{self.what}: log stream broke: {exc}")
        finally:
            with self._cond:
                self._ended = True
                self._cond.notify_all()

    def wait_for(self, needles: Sequence[str], deadline: float) -> bool:
        """Block until every needle is in the log (True), or the stream ended or `deadline`
        (time.monotonic()) passed (False)."""
        wanted = [n.encode() for n in needles if n]
        with self._cond:
            while True:
                if wanted and all(n in self._buf for n in wanted):
                    return True
                left = deadline - time.monotonic()
                if self._ended or left <= 0:
                    return False
                self._cond.wait(left)

    def close(self) -> str:
        """End the stream and return what it read; raises the error that ended it before any text.
        Never waits for a stream still being opened (its thread closes it when the open returns)."""
        with self._cond:
            self._closed = True
            resp = self._resp
        if resp is not None:
            with contextlib.suppress(Exception):  # already closed: nothing to unblock
                resp.shutdown()  # unblock a read in progress (urllib3 >= 2.3)
            self._thread.join(1.0)
        with self._cond:
            if self._error is not None and not self._buf:
                raise self._error
            return self._buf.decode("utf-8", "replace")
