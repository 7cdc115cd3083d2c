"""`meshprober lab up|status|down` as a user runs them: background daemon, state dirs, signals.

Every test checks that nothing is left behind: no process whose argv or working directory is
inside the test's state dir.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from meshlab.kubectl import kubectl_path
from meshlab.processes import pid_alive

pytestmark = [pytest.mark.envoy, pytest.mark.lab]
CLI = [sys.executable, "-m", "agent.cli", "lab"]
runner = CliRunner()
URL = "http://productpage.bookinfo.svc.cluster.local:9080/productpage"
# A user's own YAML on top of `healthy`: the seed's mistake (DR tls DISABLE into a STRICT namespace).
DISABLE_INTO_STRICT = """\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: productpage, namespace: bookinfo}
spec:
  host: productpage.bookinfo.svc.cluster.local
  trafficPolicy: {tls: {mode: DISABLE}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: bookinfo}
spec: {mtls: {mode: STRICT}}
"""


def lab_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def leftovers(state_dir: Path) -> list[str]:
    """Live processes whose argv or cwd is inside state_dir (zombies have neither)."""
    found = []
    marker = str(state_dir.resolve())
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if marker in argv or cwd.startswith(marker):
            found.append(f"{proc.name}: {argv[:160]}")
    return found


def wait_no_leftovers(state_dir: Path, timeout: float = 10.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while (found := leftovers(state_dir)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def status(state_dir: Path) -> dict[str, object]:
    r = lab_cli("status", "--json", "--state-dir", str(state_dir))
    assert r.returncode == 0, r.stderr
    data: dict[str, object] = json.loads(r.stdout)
    return data


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def kubectl(kubeconfig: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KUBECONFIG=kubeconfig, KUBECACHEDIR=str(Path(kubeconfig).parent / "kcache"))
    return subprocess.run([str(kubectl_path()), *args], env=env, capture_output=True, text=True, timeout=30)


def pod_name(kubeconfig: str, namespace: str) -> str:
    r = kubectl(kubeconfig, "get", "pods", "-n", namespace, "-o", "jsonpath={.items[0].metadata.name}")
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture
def state_dirs(tmp_path: Path) -> Iterator[list[Path]]:
    """State dirs for a test; whatever the test leaves running is brought down afterwards."""
    dirs = [tmp_path / f"lab{i}" for i in range(2)]
    yield dirs
    for d in dirs:
        state = json.loads((d / "state.json").read_text()) if (d / "state.json").exists() else {}
        if isinstance(state.get("pid"), int) and pid_alive(state["pid"]):
            lab_cli("down", "--state-dir", str(d))


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"broken.yaml": "kind: [unclosed\n"}, "broken.yaml"),
        ({"ok.yaml": DISABLE_INTO_STRICT, "nokind.yaml": "metadata: {name: x}\n"}, "nokind.yaml"),
        ({"noname.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n"}, "noname.yaml"),
        ({"notes.txt": "not yaml at all"}, "no Kubernetes objects"),
        ({"crd.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"}, "crd.yaml#1"),
    ],
    ids=["yaml-syntax-error", "missing-kind", "missing-name", "no-yaml-files", "kind-not-served"],
)
def test_bad_resources_exit_2_and_start_nothing(tmp_path: Path, files: dict[str, str], message: str) -> None:
    res = tmp_path / "res"
    res.mkdir()
    for name, text in files.items():
        (res / name).write_text(text)
    state_dir = tmp_path / "state"
    r = runner.invoke(
        app, ["lab", "up", "--scenario", "healthy", "--resources", str(res), "--state-dir", str(state_dir)]
    )
    assert r.exit_code == 2
    assert message in r.stderr and isinstance(r.exception, SystemExit)  # a clean exit, no traceback
    assert not (state_dir / "state.json").exists()
    assert leftovers(state_dir) == []


def test_resources_dir_must_be_a_directory(tmp_path: Path) -> None:
    r = runner.invoke(
        app, ["lab", "up", "--resources", str(tmp_path / "no"), "--state-dir", str(tmp_path / "s")]
    )
    assert r.exit_code == 2 and "not a directory" in r.stderr


def test_two_labs_side_by_side_then_down_and_sigkill(tmp_path: Path, state_dirs: list[Path]) -> None:
    """One lab with the user's YAML on top reproduces 503 UC; the plain one stays healthy."""
    res = tmp_path / "res"
    res.mkdir()
    (res / "mistake.yaml").write_text(DISABLE_INTO_STRICT)
    broken, healthy = state_dirs
    ups = [
        ["up", "--scenario", "healthy", "--resources", str(res), "--state-dir", str(broken)],
        ["up", "--scenario", "healthy", "--state-dir", str(healthy)],
    ]
    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda args: lab_cli(*args), ups))
    assert time.monotonic() - started < 30  # startup stays a few seconds (generous for slow CI)
    again = lab_cli("up", "--scenario", "healthy", "--state-dir", str(healthy))
    assert again.returncode == 2 and "already runs" in again.stderr
    for r, d in zip(results, state_dirs, strict=True):
        assert r.returncode == 0, r.stderr
        assert f"export KUBECONFIG={d.resolve() / 'kubeconfig'}" in r.stdout
        st = status(d)
        assert st["running"] is True and st["kubeconfig"] == str(d.resolve() / "kubeconfig")
        assert "load-test/" + pod_name(str(st["kubeconfig"]), "load-test") in (st["pods"] or [])  # type: ignore[operator]
    subnets = {json.loads((d / "state.json").read_text())["subnet"] for d in state_dirs}
    assert len(subnets) == 2

    codes = {}
    for d in state_dirs:
        kc = str(d.resolve() / "kubeconfig")
        pod = pod_name(kc, "load-test")
        r = kubectl(kc, "exec", "-n", "load-test", pod, "--", "curl", "-sS", "-o", "/dev/null",
                    "-w", "%{http_code}", "-H", "x-request-id: rid-cli", URL)  # fmt: skip
        codes[d] = r.stdout
    assert codes == {broken: "503", healthy: "200"}
    kc = str(broken.resolve() / "kubeconfig")
    logs = kubectl(
        kc, "logs", "-n", "load-test", pod_name(kc, "load-test"), "-c", "istio-proxy", "--since=1m"
    )
    assert any('" 503 UC ' in line for line in logs.stdout.splitlines() if "rid-cli" in line), logs.stdout

    # `lab down` stops one; SIGKILL of the other's daemon takes its children along (PDEATHSIG).
    state = json.loads((healthy / "state.json").read_text())
    assert len(leftovers(healthy)) >= 1 + len(state["processes"])  # daemon + envoys + apps
    os.kill(state["pid"], signal.SIGKILL)
    r = lab_cli("down", "--state-dir", str(broken))
    assert r.returncode == 0 and "lab stopped" in r.stdout
    for d in state_dirs:
        assert wait_no_leftovers(d) == []
    assert not pid_alive(state["pid"])
    assert [status(d)["running"] for d in state_dirs] == [False, False]


def test_ctrl_c_on_a_foreground_lab_cleans_up(state_dirs: list[Path]) -> None:
    d = state_dirs[0]
    proc = subprocess.Popen(
        [*CLI, "up", "--foreground", "--scenario", "no-sidecar-client", "--state-dir", str(d)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, like a shell job in a terminal
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and b'"ready"' not in _read(d / "state.json"):
            assert proc.poll() is None, proc.communicate()[1]
            time.sleep(0.1)
        assert status(d)["running"] is True
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0, err
    assert "export KUBECONFIG=" in out and "lab stopped" in out
    assert wait_no_leftovers(d) == []
    assert status(d)["running"] is False
