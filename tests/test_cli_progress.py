"""Progress on a terminal, silence in a pipe: `tls-check --all` and `lab up` run as a user runs them,
once with stderr on a pseudo-terminal (progress drawn) and once piped (no progress at all); stdout
carries the same result either way."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEED = str(ROOT / "tests" / "testdata" / "policy" / "seed")
CLI = [sys.executable, "-m", "agent"]


def run(args: list[str], tty: bool, timeout: float = 120) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) with stderr on a pty when `tty`, else a pipe."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TERM="xterm", COLUMNS="120")
    if not tty:
        proc = subprocess.run(
            [*CLI, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
        return proc.returncode, proc.stdout, proc.stderr
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc = subprocess.run([*CLI, *args], stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL,
                              timeout=timeout, env=env, check=False)  # fmt: skip
    finally:
        os.close(slave)
        reader.join(10)
        os.close(master)
    return proc.returncode, proc.stdout.decode(), b"".join(chunks).decode(errors="replace")


def test_tls_check_all_shows_progress_on_a_terminal_only() -> None:
    code_tty, out_tty, err_tty = run(["tls-check", "--all", "--resources", SEED], tty=True)
    code_pipe, out_pipe, err_pipe = run(["tls-check", "--all", "--resources", SEED], tty=False)
    assert code_tty == code_pipe == 1  # the seed has a CONFLICT
    assert out_tty == out_pipe and "CONFLICT" in out_pipe  # the result is the same, on stdout
    assert "checking client namespaces" in err_tty
    assert "checking client namespaces" not in err_pipe and "\x1b[" not in err_pipe


def test_dumb_terminal_gets_no_progress() -> None:
    from agent.commands import progress

    saved = os.environ.get("TERM")
    os.environ["TERM"] = "dumb"
    try:
        assert not progress.enabled()
    finally:
        if saved is None:
            del os.environ["TERM"]
        else:
            os.environ["TERM"] = saved


PRODUCTPAGE = "http://productpage.bookinfo.svc.cluster.local:9080/productpage"


@pytest.mark.lab
def test_lab_up_and_probe_show_progress_on_a_terminal_only(tmp_path: Path) -> None:
    state = tmp_path / "state"
    down = [*CLI, "lab", "down", "--state-dir", str(state)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    try:
        code, out, err = run(["lab", "up", "--state-dir", str(state)], tty=True, timeout=150)
        assert code == 0, err[-2000:]
        assert "starting the lab 'seed'" in err and "export KUBECONFIG=" in out
        probe = ["probe", "--from", "load-test/traffic-generator", "--to", PRODUCTPAGE,
                 "--kubeconfig", str(state / "kubeconfig")]  # fmt: skip
        code_tty, out_tty, err_tty = run(probe, tty=True)
        code_pipe, out_pipe, err_pipe = run(probe, tty=False)
        assert code_tty == code_pipe == 1, err_pipe
        assert "mtls_plaintext_to_strict" in out_tty and "mtls_plaintext_to_strict" in out_pipe
        assert "gathering evidence (sidecar config dump, access logs, policy)" in err_tty
        assert "probing" not in err_pipe and "\x1b[" not in err_pipe
    finally:
        subprocess.run(down, capture_output=True, timeout=60, env=env, check=False)
    code, out, err = run(["lab", "up", "--state-dir", str(state)], tty=False, timeout=150)
    try:
        assert code == 0, err[-2000:]
        assert "starting the lab" not in err and "export KUBECONFIG=" in out
    finally:
        subprocess.run(down, capture_output=True, timeout=60, env=env, check=False)
