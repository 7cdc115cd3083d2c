"""Emulator lifecycle: start/stop (idempotent, restart on the same port), loopback only, exec processes
killed on stop, and the subprocess mode's ready line, SIGTERM and bad-argument handling."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from kubernetes import client, config

from meshlab.apiserver import ContainerContext, Emulator
from tests.kube_emulator.conftest import NS, OBJECTS, PRODUCTPAGE, child_pids, open_exec

pytestmark = pytest.mark.timeout(60)


def _pods(emu: Emulator, tmp_path: Path) -> list[str]:
    kc = emu.write_kubeconfig(tmp_path / "kc")
    with config.new_client_from_config(config_file=str(kc)) as api:
        return [p.metadata.name for p in client.CoreV1Api(api).list_namespaced_pod(NS).items]


def test_stop_is_idempotent_and_restart_keeps_port_state_and_ca(tmp_path: Path) -> None:
    emu = Emulator(OBJECTS, state_dir=tmp_path / "s")
    emu.stop()  # never started: no-op
    with emu:
        port, ca = emu.port, emu.ca_path.read_bytes()
        assert PRODUCTPAGE in _pods(emu, tmp_path)
    emu.stop()
    emu.start(port=port)
    try:
        assert (emu.port, emu.ca_path.read_bytes()) == (port, ca)
        assert PRODUCTPAGE in _pods(emu, tmp_path)
    finally:
        emu.stop()


@pytest.mark.parametrize("host", [pytest.param("0.0.0.0", id="any"), pytest.param("192.0.2.1", id="remote")])
def test_refuses_non_loopback(tmp_path: Path, host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        Emulator(state_dir=tmp_path).start(host=host)


def test_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with Emulator(state_dir=tmp_path / "a") as first:
        second = Emulator(state_dir=tmp_path / "b")
        with pytest.raises(RuntimeError, match=f"could not listen on 127.0.0.1:{first.port}"):
            second.start(port=first.port)


def test_exec_context_and_stop_kills_running_exec(tmp_path: Path) -> None:
    workdir = tmp_path / "container"
    workdir.mkdir()
    calls: list[tuple[str, str, str]] = []

    def ctx(ns: str, pod: str, container: str) -> ContainerContext:
        calls.append((ns, pod, container))
        return ContainerContext(cwd=workdir, env={"PATH": "/usr/bin:/bin", "MARK": "m1"})

    before = child_pids()
    emu = Emulator(OBJECTS, state_dir=tmp_path / "s", exec_context=ctx).start()
    kc = emu.write_kubeconfig(tmp_path / "kc")
    result: dict[str, object] = {}
    with config.new_client_from_config(config_file=str(kc)) as api:
        core = client.CoreV1Api(api)
        ws = open_exec(core, ["sh", "-c", "pwd; echo $MARK"])
        ws.run_forever(timeout=10)
        assert ws.read_channel(1) == f"{workdir}\nm1\n"
        assert calls == [(NS, PRODUCTPAGE, "productpage")]

        hung = open_exec(core, ["sleep", "60"])

        def wait() -> None:
            try:
                hung.run_forever(timeout=20)
            except Exception as exc:  # the server going away may surface as a closed socket
                result["exc"] = exc

        t = threading.Thread(target=wait)
        t.start()
        deadline = time.monotonic() + 5
        while not emu.backend.procs and time.monotonic() < deadline:
            time.sleep(0.05)
        assert emu.backend.procs
        started = time.monotonic()
        emu.stop()
        t.join(20)
        assert not t.is_alive() and time.monotonic() - started < 15
        hung.close()
    assert not (child_pids() - before)


def test_subprocess_mode_ready_line_and_sigterm(tmp_path: Path) -> None:
    objects = tmp_path / "objects"
    objects.mkdir()
    (objects / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p1, namespace: ns1}\nspec: {containers: [{name: app}]}\n"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "meshlab.apiserver",
            "--objects",
            str(objects),
            "--state-dir",
            str(tmp_path / "state"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert ready["pid"] == proc.pid and ready["url"].startswith("https://127.0.0.1:")
        with config.new_client_from_config(config_file=ready["kubeconfig"]) as api:
            assert [p.metadata.name for p in client.CoreV1Api(api).list_namespaced_pod("ns1").items] == ["p1"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--objects", "/nonexistent/dir"], "/nonexistent/dir", id="missing-objects"),
        pytest.param(["--host", "10.0.0.1"], "loopback", id="non-loopback-host"),
        pytest.param(["--objects", "BAD"], "not a Kubernetes object", id="bad-manifest"),
        pytest.param(
            ["--objects", "UNKNOWN"],
            "object 1 (Gadget 'g') cannot be loaded: no kind 'Gadget'",
            id="unknown-kind",
        ),
    ],
)
def test_subprocess_mode_bad_arguments_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("just: a mapping\n")
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\n")
    args = [{"BAD": str(bad), "UNKNOWN": str(unknown)}.get(a, a) for a in args]
    proc = subprocess.run(
        [sys.executable, "-m", "meshlab.apiserver", "--state-dir", str(tmp_path / "s"), *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_custom_users_table(tmp_path: Path) -> None:
    with Emulator(OBJECTS, state_dir=tmp_path / "s", users={"fixed-token": "alice"}) as emu:
        assert emu.token_for("alice") == "fixed-token"
        cfg = client.Configuration()
        cfg.host, cfg.ssl_ca_cert = emu.url, str(emu.ca_path)
        cfg.api_key = {"BearerToken": "Bearer fixed-token"}
        with client.ApiClient(cfg) as api:
            assert PRODUCTPAGE in [
                p.metadata.name for p in client.CoreV1Api(api).list_namespaced_pod(NS).items
            ]


def test_failing_exec_context_is_a_500_status_not_a_traceback(tmp_path: Path) -> None:
    def broken(ns: str, pod: str, container: str) -> ContainerContext:
        raise RuntimeError("lab callback exploded")

    with Emulator(OBJECTS, state_dir=tmp_path / "s", exec_context=broken) as emu:
        kc = emu.write_kubeconfig(tmp_path / "kc")
        with config.new_client_from_config(config_file=str(kc)) as api:
            core = client.CoreV1Api(api)
            with pytest.raises(Exception) as exc:
                open_exec(core, ["true"])
            assert "Handshake status 500" in str(exc.value)
            assert "Internal error occurred: lab callback exploded" in str(exc.value)
