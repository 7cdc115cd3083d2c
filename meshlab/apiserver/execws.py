"""pods/exec over WebSocket (v5.channel.k8s.io / v4.channel.k8s.io) running a REAL local process.

Frames are binary `[channel] + payload`; stdout/stderr stream as the process writes them; the status goes
on channel 3 (ExitCode cause first) and the socket closes with 1000. A concurrent reader answers pings,
feeds stdin and notices when the client leaves, which kills the process group. Argv is passed as a list,
never through a shell. Must not be used for anything but loopback lab processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

V5, V4 = "v5.channel.k8s.io", "v4.channel.k8s.io"
# set once a handler has sent its headers (websocket, streamed log/watch): errors can no longer be a Status
STREAMING: web.RequestKey[bool] = web.RequestKey("streaming", bool)
CHUNK = 32 * 1024
_CLOSE_TIMEOUT = 5.0
DRAIN_GRACE = 2.0  # seconds a background child may keep stdout open after the command exits


@dataclass
class ContainerContext:
    """Where an exec'd command runs: working directory, environment (incl. PATH), optional argv prefix."""

    cwd: Path
    env: dict[str, str]
    argv_prefix: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExecFault:
    """Test knob: misbehave like a broken API server on the next matching exec.

    mode: "abort" (TCP reset), "drop_status" (close 1000 without status), "close_1011",
    "internal_error" (InternalError status instead of the exit code). after_bytes: trigger once this many
    output bytes were sent (0 = when the command ends). pod: only for this pod name (None = any).
    """

    mode: str
    after_bytes: int = 0
    pod: str | None = None
    message: str = "injected fault"


def exit_status(code: int) -> dict[str, Any]:
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: command terminated with exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def internal_status(cause: str) -> dict[str, Any]:
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: {cause}",
        "reason": "InternalError",
        "details": {"causes": [{"message": cause}]},
        "code": 500,
    }


def _not_found_cause(binary: str, why: str) -> str:
    # containerd/runc wording, so clients classify it as a real runtime's "command not found".
    return (
        "error executing command in container: failed to exec in container: failed to start exec: "
        "OCI runtime exec failed: exec failed: unable to start container process: "
        f'exec: "{binary}": {why}: unknown'
    )


def resolve_binary(argv: list[str], ctx: ContainerContext) -> str | None:
    """None if the command can start, else the runtime's error cause."""
    if ctx.argv_prefix:
        return None  # the prefix (e.g. a sandbox wrapper) reports a missing binary itself
    binary = argv[0]
    if "/" in binary:
        path = binary if os.path.isabs(binary) else str(ctx.cwd / binary)
        if not os.path.exists(path):
            return _not_found_cause(binary, "stat " + binary + ": no such file or directory")
        return None if os.access(path, os.X_OK) else _not_found_cause(binary, "permission denied")
    if shutil.which(binary, path=ctx.env.get("PATH", "")) is None:
        return _not_found_cause(binary, "executable file not found in $PATH")
    return None


@dataclass
class ExecSession:
    ws: web.WebSocketResponse
    stdin: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    gone: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    sent: int = 0

    async def send(self, channel: int, data: bytes) -> None:
        """Send on a channel in chunks; a client that went away marks the session gone (no exception)."""
        for i in range(0, len(data), CHUNK):
            try:
                async with self.lock:
                    await self.ws.send_bytes(bytes([channel]) + data[i : i + CHUNK])
            except (ConnectionError, RuntimeError):  # aiohttp: reset, or "closing transport"
                self.gone.set()
                return
            self.sent += len(data[i : i + CHUNK])


async def _reader(s: ExecSession) -> None:
    """Consume client frames: answers pings (inside receive), stdin, v5 close-stdin signal."""
    try:
        async for msg in s.ws:
            if msg.type is WSMsgType.BINARY and msg.data:
                ch, data = msg.data[0], msg.data[1:]
                if ch == 0:
                    s.stdin.put_nowait(bytes(data))
                elif ch == 255 and s.ws.ws_protocol == V5 and data[:1] == b"\x00":
                    s.stdin.put_nowait(None)
    finally:
        s.stdin.put_nowait(None)
        s.gone.set()


def kill_group(proc: asyncio.subprocess.Process, *, after_exit: bool = False) -> None:
    """SIGKILL the command's process group (its own session). `after_exit`: the leader is gone but
    members still hold its pipes open, which keeps the group id from being reused."""
    if proc.returncode is None or after_exit:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


async def _pump_out(
    s: ExecSession,
    stream: asyncio.StreamReader,
    channel: int,
    want: bool,
    fault: ExecFault | None,
    trip: asyncio.Event,
) -> None:
    while chunk := await stream.read(CHUNK):
        if want and not s.gone.is_set():
            await s.send(channel, chunk)
            if fault and fault.after_bytes and s.sent >= fault.after_bytes:
                trip.set()
                return


async def _exit_of(proc: asyncio.subprocess.Process) -> int:
    """The command's exit, as soon as it happens: proc.wait() would also wait for every pipe to close.

    Polled from 1 ms up to 20 ms: a short command's status goes out without a fixed 20 ms lag, a long
    one costs 50 wake-ups a second."""
    delay = 0.001
    while proc.returncode is None:
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.02)
    return proc.returncode


async def _pump_in(s: ExecSession, proc: asyncio.subprocess.Process) -> None:
    assert proc.stdin is not None
    while (data := await s.stdin.get()) is not None:
        proc.stdin.write(data)
        with contextlib.suppress(ConnectionError):
            await proc.stdin.drain()
    with contextlib.suppress(ConnectionError):
        proc.stdin.close()


async def _finish(
    s: ExecSession, status: dict[str, Any] | None, fault: ExecFault | None, request: web.Request
) -> None:
    if fault and fault.mode == "abort":
        if request.transport is not None:
            request.transport.abort()
        return
    if fault and fault.mode == "internal_error":
        status = internal_status(fault.message)
    if status is not None and not (fault and fault.mode in ("drop_status", "close_1011")):
        await s.send(3, json.dumps(status, separators=(",", ":")).encode())
    code = 1011 if fault and fault.mode == "close_1011" else 1000
    with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
        await asyncio.wait_for(
            s.ws.close(code=code, message=b"internal" if code == 1011 else b""), _CLOSE_TIMEOUT
        )


async def serve_exec(
    request: web.Request,
    argv: list[str],
    ctx: ContainerContext,
    flags: dict[str, bool],
    procs: set[asyncio.subprocess.Process],
    sockets: set[web.WebSocketResponse],
    fault: ExecFault | None,
) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(protocols=(V5, V4), autoping=True, compress=False, max_msg_size=0)
    await ws.prepare(request)
    request[STREAMING] = True
    sockets.add(ws)
    s = ExecSession(ws)
    reader = asyncio.create_task(_reader(s))
    proc: asyncio.subprocess.Process | None = None
    drained: asyncio.Future[Any] | None = None
    try:
        await asyncio.sleep(0.05)  # kubectl <=1.33 drops frames that beat its stream creation
        cause = resolve_binary(argv, ctx) if argv else "error executing command in container: empty command"
        if cause is not None:
            await _finish(s, internal_status(cause), None, request)
            return ws
        proc = await asyncio.create_subprocess_exec(
            *ctx.argv_prefix,
            *argv,
            cwd=str(ctx.cwd),
            env=ctx.env,
            start_new_session=True,
            stdin=asyncio.subprocess.PIPE if flags["stdin"] else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            # a TTY has one output stream: the real server merges stderr into stdout
            stderr=asyncio.subprocess.STDOUT if flags.get("tty") else asyncio.subprocess.PIPE,
        )
        procs.add(proc)
        trip = asyncio.Event()
        assert proc.stdout is not None
        pumps = [asyncio.create_task(_pump_out(s, proc.stdout, 1, flags["stdout"], fault, trip))]
        if proc.stderr is not None:
            pumps.append(asyncio.create_task(_pump_out(s, proc.stderr, 2, flags["stderr"], fault, trip)))
        feeder = asyncio.create_task(_pump_in(s, proc)) if flags["stdin"] else None
        exited: asyncio.Future[Any] = asyncio.ensure_future(_exit_of(proc))
        drained = asyncio.ensure_future(asyncio.gather(*pumps))
        # A pump fails when the client went away mid-write; that is expected, not worth a traceback.
        drained.add_done_callback(lambda f: f.cancelled() or f.exception())
        gone_task: asyncio.Future[Any] = asyncio.ensure_future(s.gone.wait())
        trip_task: asyncio.Future[Any] = asyncio.ensure_future(trip.wait())
        stop = {gone_task, trip_task}
        await asyncio.wait({exited, *stop}, return_when=asyncio.FIRST_COMPLETED)
        if exited.done() and not s.gone.is_set() and not trip.is_set():
            # The output pipes close at EOF; a background child still holding them gets a short grace,
            # then its process group is killed so the exec always ends.
            await asyncio.wait({drained, *stop}, timeout=DRAIN_GRACE, return_when=asyncio.FIRST_COMPLETED)
            if not drained.done() and not any(t.done() for t in stop):
                kill_group(proc, after_exit=True)
                await asyncio.wait({drained, *stop}, timeout=DRAIN_GRACE, return_when=asyncio.FIRST_COMPLETED)
        for t in (gone_task, trip_task, feeder, exited):
            if t is not None:
                t.cancel()
        if trip.is_set() and fault is not None:
            kill_group(proc)
            await _finish(s, None, fault, request)
        elif exited.done() and not s.gone.is_set():
            procs.discard(proc)  # reaped before its status is reported, as a container runtime does
            rc = proc.returncode or 0
            # like a container runtime: a signal-killed command reports 128+signal
            await _finish(s, exit_status(128 - rc if rc < 0 else rc), fault, request)
        if not drained.done():
            kill_group(proc, after_exit=True)
            drained.cancel()
        return ws
    finally:
        if proc is not None:
            # pipes still open after the leader exited means group members are alive: kill them too
            kill_group(proc, after_exit=drained is not None and not drained.done())
            with contextlib.suppress(asyncio.TimeoutError, ProcessLookupError):
                await asyncio.wait_for(proc.wait(), 5)
            procs.discard(proc)
        reader.cancel()
        sockets.discard(ws)
