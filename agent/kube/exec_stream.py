"""Read an exec websocket (v4/v5 channel framing) to the end under a hard deadline.

Owns the frame loop instead of WSClient.update(): stdout/stderr stay bytes, large outputs are joined
once (no quadratic re-concatenation), and every socket read is bounded by the remaining time. The
socket is ALWAYS closed on the way out. Channel 3 carries the Status JSON parsed by exec_status.
Collection is capped (`max_output` bytes per stream): a command that writes more ends the stream with
OutputTruncated ("output truncated"), so a runaway container cannot grow the agent's memory.
"""

from __future__ import annotations

import contextlib
import ssl
import time
from typing import Any

from websocket import ABNF, WebSocketConnectionClosedException, WebSocketException, WebSocketTimeoutException

from agent.errors import ExecTimeout, OutputTruncated, StreamDropped

STDOUT, STDERR, STATUS = 1, 2, 3
CLOSE_SIGNAL = 255  # v5 half-close; the server never sends it, ignore if it does
# Per stream. Room for a full Envoy config dump of a big mesh (the bundle keeps dumps up to 64 MiB).
MAX_EXEC_OUTPUT = 64 * 1024 * 1024
MAX_STATUS = 64 * 1024  # the channel-3 Status JSON is a few hundred bytes


class ExecFrames:
    """Collected output of one exec stream."""

    def __init__(self, max_output: int = MAX_EXEC_OUTPUT) -> None:
        self.stdout: list[bytes] = []
        self.stderr: list[bytes] = []
        self.status: list[bytes] = []
        self.close_code: int | None = None
        self.max_output = max_output
        self._sizes = {STDOUT: 0, STDERR: 0, STATUS: 0}
        self.overflow: str | None = None  # "stdout"/"stderr"/"status" once a stream passed its cap

    def out(self) -> bytes:
        return b"".join(self.stdout)

    def err(self) -> bytes:
        return b"".join(self.stderr)

    def add(self, data: bytes) -> None:
        if not data:
            return
        channel, payload = data[0], data[1:]
        chunks = {STDOUT: self.stdout, STDERR: self.stderr, STATUS: self.status}.get(channel)
        if chunks is None:
            return
        cap = MAX_STATUS if channel == STATUS else self.max_output
        room = cap - self._sizes[channel]
        if len(payload) > room:
            payload = payload[: max(room, 0)]
            self.overflow = {STDOUT: "stdout", STDERR: "stderr", STATUS: "status"}[channel]
        self._sizes[channel] += len(payload)
        chunks.append(payload)


def read_exec_stream(ws_client: Any, deadline: float, what: str, max_output: int | None = None) -> ExecFrames:
    """Drain `ws_client` (a kubernetes WSClient) until the server closes; raise on deadline, drop or
    output beyond `max_output` bytes on a stream (OutputTruncated, capped output attached).

    `deadline` is a time.monotonic() value. Always closes the underlying socket.
    """
    sock = ws_client.sock  # websocket.WebSocket
    frames = ExecFrames(MAX_EXEC_OUTPUT if max_output is None else max_output)
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _timeout(what, frames)
            sock.settimeout(remaining)
            try:
                opcode, frame = sock.recv_data_frame(True)
            except (WebSocketTimeoutException, TimeoutError) as exc:
                raise _timeout(what, frames) from exc
            except (WebSocketConnectionClosedException, WebSocketException, OSError, ssl.SSLError) as exc:
                raise _dropped(what, frames, f"connection lost: {exc or type(exc).__name__}") from exc
            if opcode == ABNF.OPCODE_CLOSE:
                data = bytes(frame.data or b"")
                frames.close_code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
                break
            if opcode in (ABNF.OPCODE_BINARY, ABNF.OPCODE_TEXT):
                payload = frame.data
                frames.add(payload.encode() if isinstance(payload, str) else bytes(payload))
                if frames.overflow is not None:
                    raise OutputTruncated(
                        f"output truncated: {what} wrote more than {frames.max_output} bytes on "
                        f"{frames.overflow}; the stream was closed",
                        stdout=frames.out(),
                        stderr=frames.err(),
                    )
    finally:
        _close(ws_client)
    if not frames.status:
        code = f"close code {frames.close_code}" if frames.close_code is not None else "no close code"
        raise _dropped(what, frames, f"stream closed ({code}) before the command's exit status arrived")
    return frames


def _timeout(what: str, frames: ExecFrames) -> ExecTimeout:
    return ExecTimeout(
        f"exec deadline passed for {what}; the stream was closed "
        f"({len(frames.out())} bytes of stdout received so far)",
        stdout=frames.out(),
        stderr=frames.err(),
    )


def _dropped(what: str, frames: ExecFrames, detail: str) -> StreamDropped:
    return StreamDropped(
        f"exec stream for {what} dropped: {detail}", stdout=frames.out(), stderr=frames.err()
    )


def _close(ws_client: Any) -> None:
    """Close without blocking: on a server close websocket-client already answered the close frame,
    and on abort (deadline, drop) there is no one to handshake with, so shutdown() is right for both."""
    ws_client._connected = False  # WSClient bookkeeping, so its is_open()/returncode stay coherent
    with contextlib.suppress(Exception):  # best effort: the socket is being discarded either way
        ws_client.sock.shutdown()
