"""One exec into a container: websocket handshake (retried), stream read under a deadline, outcome.

Uses `kubernetes.stream.stream(..., _preload_content=False, binary=True)` for the handshake only; the
frames are read by exec_stream. Maps handshake failures (401/403/404/400 Status bodies on the upgrade)
and the channel-3 status to agent.errors; never retries once the command may have started.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream

from agent.errors import ClusterError, CommandNotFound, ContainerNotFound, ExecError, NotFound, PodNotReady
from agent.kube.cluster import ExecResult
from agent.kube.errors_map import handshake_status, map_status, parse_status
from agent.kube.exec_status import parse_exec_status
from agent.kube.exec_stream import read_exec_stream
from agent.kube.raw_api import RawApi
from agent.kube.retry import BUDGET, with_retries
from agent.kube.transport_errors import is_transient, tls_error

SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "busybox"})
# Programs that run another program from their argv and exit 126/127 when it is missing.
WRAPPERS = frozenset({"env", "timeout", "nice", "nohup", "stdbuf", "setsid"})
VALUE_OPTIONS = frozenset(
    {"-s", "-k", "-n", "-i", "-o", "-e", "-u", "--signal", "--kill-after", "--adjustment"}
)

# Given the mapped 400 error, explain it with the pod's real containers/phase (costs one GET).
ContainerExplainer = Callable[[ClusterError], ClusterError]


def target_program(argv: Sequence[str]) -> str:
    """The program a 126/127 most likely refers to: argv[0], or what a wrapper like `env` runs."""
    names = [a.rsplit("/", 1)[-1] for a in argv]
    if names[0] not in WRAPPERS:
        return names[0]
    skip_next = False
    for name in names[1:]:
        if skip_next:
            skip_next = False
        elif name in VALUE_OPTIONS:
            skip_next = True
        elif name and not name.startswith("-") and "=" not in name and not name[0].isdigit():
            return name
    return names[0]


def exec_in_pod(
    core: RawApi,
    *,
    server: str,
    namespace: str,
    pod: str,
    container: str,
    argv: Sequence[str],
    timeout: float,
    explain_container: ContainerExplainer,
) -> ExecResult:
    """Run argv; stdout/stderr/exit code separately. Raises ExecTimeout/StreamDropped/CommandNotFound/..."""
    deadline = time.monotonic() + timeout
    what = f"{argv[0]!r} in {namespace}/{pod} container {container}"

    def connect() -> Any:
        return stream(
            core.connect_get_namespaced_pod_exec,
            pod,
            namespace,
            command=list(argv),
            container=container,
            stderr=True,
            stdin=False,
            stdout=True,
            tty=False,
            _preload_content=False,
            binary=True,
        )

    try:
        ws = with_retries(connect, transient=is_transient, server=server, budget=min(BUDGET, timeout))
    except ApiException as exc:
        raise _handshake_error(exc, namespace, pod, server, explain_container) from exc
    frames = read_exec_stream(ws, deadline, what)
    status = parse_exec_status(b"".join(frames.status))
    program = target_program(argv)
    where = f"container {container} of {namespace}/{pod}"
    if status.exit_code is None:
        if status.command_missing:
            raise CommandNotFound(f"{program} is not installed in {where}: {status.error}")
        raise ExecError(f"exec {what} failed before the command ran: {status.error}")
    # 126/127 from a non-shell program means it could not start its target (missing/not executable).
    if status.exit_code in (126, 127) and program not in SHELLS:
        raise CommandNotFound(
            f"{program} is not installed (or not executable) in {where} (exit {status.exit_code}); "
            f"use an image that ships {program} or probe from another workload"
        )
    return ExecResult(stdout=frames.out(), stderr=frames.err(), exit_code=status.exit_code)


def _handshake_error(
    exc: ApiException, namespace: str, pod: str, server: str, explain_container: ContainerExplainer
) -> ClusterError:
    # The websocket layer wraps everything as ApiException(status=0); the real answer is in __context__
    # (WebSocketBadStatusException.status_code/.resp_body) or, failing that, in the reason text.
    bad_tls = tls_error(exc, server)
    if bad_tls is not None:
        return bad_tls
    ctx = exc.__context__
    code = getattr(ctx, "status_code", None)
    body = getattr(ctx, "resp_body", None)
    if not isinstance(code, int):
        parsed = handshake_status(str(exc.reason))
        if parsed is None:
            return ExecError(f"exec into {namespace}/{pod} failed: {exc.reason}")
        code, body = parsed
    status = parse_status(code, body)
    if status.code == 404:
        return NotFound(f"pod {namespace}/{pod} not found")
    mapped = map_status(status, what=f"exec into pod {namespace}/{pod}", server=server)
    if isinstance(mapped, ContainerNotFound | PodNotReady):
        return explain_container(mapped)
    return mapped
