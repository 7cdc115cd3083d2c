"""Child processes of the lab (apps, Envoys): started from argv lists, logged, always reaped.

Every child gets PR_SET_PDEATHSIG=SIGKILL, so a crashed or killed lab daemon never leaves
orphans behind, and `stop_all` terminates (then kills) whatever is still running.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    # Runs in the child between fork and exec: ask the kernel to SIGKILL us when the parent dies.
    # (The signal follows the forking *thread*; lab children are started from long-lived threads.)
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except OSError:
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect: never run orphaned
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Child:
    name: str
    argv: tuple[str, ...]
    proc: subprocess.Popen[bytes]
    log_path: Path
    cwd: Path | None = None  # kept so a restart (meshlab.kubelet) runs it the same way

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


class Supervisor:
    """Starts and stops named children; names are unique (starting a running name restarts it)."""

    def __init__(self) -> None:
        self._children: dict[str, Child] = {}
        self._lock = threading.Lock()

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Child:
        self.stop(name)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as out:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                preexec_fn=functools.partial(_die_with_parent, os.getpid()),
                # Own process group: a terminal's Ctrl-C reaches the lab, which stops children in
                # order, instead of killing Envoys and apps mid-flight.
                process_group=0,
            )
        child = Child(name, tuple(argv), proc, log_path, cwd)
        with self._lock:
            self._children[name] = child
        log.debug("started %s (pid %d)", name, proc.pid)
        return child

    def get(self, name: str) -> Child | None:
        with self._lock:
            return self._children.get(name)

    def pids(self) -> dict[str, int]:
        with self._lock:
            return {n: c.proc.pid for n, c in self._children.items() if c.alive}

    def stop(self, name: str, timeout: float = 3.0) -> None:
        with self._lock:
            child = self._children.pop(name, None)
        if child is not None:
            _terminate([child], timeout)

    def stop_all(self, timeout: float = 3.0) -> None:
        with self._lock:
            children = list(self._children.values())
            self._children.clear()
        _terminate(children, timeout)


def _terminate(children: list[Child], timeout: float) -> None:
    for child in children:
        if child.alive:
            child.proc.terminate()
    deadline = time.monotonic() + timeout
    for child in children:
        remaining = max(0.0, deadline - time.monotonic())
        try:
            child.proc.wait(remaining)
        except subprocess.TimeoutExpired:
            child.proc.kill()
            child.proc.wait(2)


def pid_alive(pid: int) -> bool:
    """True while pid runs; a zombie (killed, not yet reaped by whoever adopted it) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs: trust kill(0)
    # Field 3 (after the parenthesised command, which may itself hold spaces) is the state.
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]
