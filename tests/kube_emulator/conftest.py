"""Fixtures: one HTTPS emulator per module with a few pods, and a runner for the pinned kubectl."""

from __future__ import annotations

import os
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import websocket
from kubernetes import client
from kubernetes.stream import stream
from kubernetes.stream.ws_client import WSClient

from meshlab.apiserver import Emulator
from meshlab.kubectl import KubectlNotFound, kubectl_path
from tests.support.istio_builders import dr, mesh, pa, svc

NS = "bookinfo"
PRODUCTPAGE = "productpage-v1-6b746f74dc-9stvs"
RESTRICTED = "system:serviceaccount:probe:restricted"
NO_LOGS = "no-logs"

PROXY_LOG_OLD = (
    '[2020-01-01T00:00:00.000Z] "GET /old HTTP/1.1" 200 - via_upstream - "-" 0 5 1 1 "-" "curl" "r-0"\n'
)


def _pod(name: str, app: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": {"app": app, "security.istio.io/tlsMode": "istio"},
            "annotations": {"kubectl.kubernetes.io/default-container": app},
        },
        "spec": {
            "containers": [
                {
                    "name": app,
                    "image": f"{app}:1",
                    "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
                },
                {"name": "istio-proxy", "image": "proxyv2:1.28"},
            ]
        },
    }


OBJECTS: list[dict[str, Any]] = [
    _pod(PRODUCTPAGE, "productpage", {"GREETING": "hello-from-productpage"}),
    _pod("reviews-v1-545db77b95-abcde", "reviews"),
    svc(NS, "reviews", 9080),
    dr(NS, "reviews", "reviews.bookinfo.svc.cluster.local", tls="DISABLE"),
    pa("istio-system", "default", "STRICT"),
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "reviews-v1", "namespace": NS},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "reviews"}},
            "template": {
                "metadata": {"labels": {"app": "reviews"}},
                "spec": {"containers": [{"name": "reviews"}]},
            },
        },
    },
    mesh(accessLogFile="/dev/stdout"),
]

RBAC = {
    "admin": [{"verbs": ["*"]}],
    RESTRICTED: [
        {"verbs": ["get", "list"], "resources": ["pods", "pods/log", "destinationrules"], "namespaces": [NS]}
    ],
}


@pytest.fixture(scope="session")
def kubectl_bin() -> Path:
    try:
        return kubectl_path()
    except KubectlNotFound as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module", autouse=True)
def no_stray_children() -> Iterator[None]:
    """After each module (and its emulator) is torn down, nothing it started may still run."""
    before = child_pids()
    yield
    deadline = time.monotonic() + 10
    while child_pids() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not (child_pids() - before), f"stray child processes: {child_pids() - before}"


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory, no_stray_children: None) -> Iterator[Emulator]:
    state = tmp_path_factory.mktemp("emu")
    log = state / "istio-proxy.log"
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    (state / "app.log").write_text('{"level":"info","msg":"one json line"}\n')
    log.write_text(PROXY_LOG_OLD + f'[{now}] "GET /reviews/0 HTTP/1.1" 503 UF upstream_reset - "r-1"\n')

    def log_path(ns: str, pod: str, container: str) -> Path | None:
        return log if container == "istio-proxy" else state / "app.log"

    with Emulator(OBJECTS, state_dir=state, rbac=RBAC, log_path=log_path) as e:
        yield e


@dataclass(frozen=True)
class Result:
    rc: int
    out: str
    err: str


KubectlRunner = Callable[..., Result]


@pytest.fixture
def kubectl(emu: Emulator, kubectl_bin: Path, tmp_path: Path) -> KubectlRunner:
    """Run the pinned kubectl with its own KUBECONFIG and KUBECACHEDIR, bounded by a timeout."""

    def run(
        *args: str,
        user: str = "admin",
        stdin: str | None = None,
        timeout: float = 30,
        extra_env: dict[str, str] | None = None,
    ) -> Result:
        kubeconfig = emu.write_kubeconfig(tmp_path / f"kubeconfig-{user.replace(':', '_')}", user=user)
        env = {
            "KUBECONFIG": str(kubeconfig),
            "KUBECACHEDIR": str(tmp_path / "kubecache"),
            "HOME": str(tmp_path),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "NO_PROXY": "127.0.0.1,localhost",
            **(extra_env or {}),
        }
        proc = subprocess.run(
            [str(kubectl_bin), *args], env=env, capture_output=True, text=True, timeout=timeout, input=stdin
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run


def child_pids() -> set[int]:
    """Live (non-zombie) children of this test process, from /proc."""
    me, kids = os.getpid(), set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me and fields[0] != "Z":
            kids.add(int(stat.parent.name))
    return kids


def open_exec(core: client.CoreV1Api, argv: list[str], container: str | None = "productpage") -> WSClient:
    """Start `argv` in PRODUCTPAGE through the official client's exec stream, left unread for the caller.

    `container=None` omits the container parameter (the server must then pick or refuse one).
    """
    kwargs = {"container": container} if container else {}
    ws: WSClient = stream(
        core.connect_get_namespaced_pod_exec,
        PRODUCTPAGE,
        NS,
        command=argv,
        stdout=True,
        stderr=True,
        stdin=False,
        tty=False,
        _preload_content=False,
        **kwargs,
    )
    return ws


def raw_exec_ws(emu: Emulator, command_query: str, subprotocol: str) -> websocket.WebSocket:
    """A bare websocket-client exec connection to PRODUCTPAGE, for checking frames the client hides.

    `command_query` is the URL-encoded `command=...&command=...` part of the query.
    """
    url = (
        f"wss://127.0.0.1:{emu.port}/api/v1/namespaces/{NS}/pods/{PRODUCTPAGE}/exec?{command_query}"
        "&container=productpage&stdout=true&stderr=true"
    )
    return websocket.create_connection(
        url,
        header=[f"Authorization: Bearer {emu.token_for('admin')}"],
        subprotocols=[subprotocol],
        sslopt={"cert_reqs": ssl.CERT_REQUIRED, "ca_certs": str(emu.ca_path)},
        timeout=10,
    )
