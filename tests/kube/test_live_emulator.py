"""LiveCluster against the lab API-server emulator over real HTTPS and exec websockets."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.errors import (
    ClusterError,
    ClusterUnreachable,
    CommandNotFound,
    ConfigError,
    ContainerNotFound,
    ExecError,
    ExecTimeout,
    Forbidden,
    NotFound,
    OutputTruncated,
    StreamDropped,
    Unauthorized,
)
from agent.kube.live import LiveCluster
from meshlab import apiserver
from meshlab.apiserver import ContainerContext, Emulator
from tests.support.istio_builders import dr, mesh, pa, svc

pytestmark = pytest.mark.timeout(60)

AGENT_USER = "system:serviceaccount:probe:probe-agent"
PP = "productpage-v1-6b746f74dc-9stvs"


def pod(
    name: str, app: str, owner: tuple[str, str] | None, ready: bool = True, ip: str = "10.1.0.7"
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "bookinfo",
        "labels": {"app": app, "security.istio.io/tlsMode": "istio"},
        "annotations": {"kubectl.kubernetes.io/default-container": app},
    }
    if owner:
        meta["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1], "controller": True}
        ]
        if owner[0] == "ReplicaSet":
            meta["labels"]["pod-template-hash"] = owner[1].rsplit("-", 1)[1]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"containers": [{"name": app, "image": "app"}, {"name": "istio-proxy", "image": "proxyv2"}]},
        "status": {
            "phase": "Running",
            "podIP": ip,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


OBJECTS: list[dict[str, Any]] = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bookinfo"}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}},
    pod(PP, "productpage", ("ReplicaSet", "productpage-v1-6b746f74dc")),
    pod("reviews-v1-0", "reviews", ("StatefulSet", "reviews-v1"), ip="10.1.0.8"),
    pod("reviews-v2-x", "reviews", None, ready=False, ip="10.1.0.9"),
    pod("nocurl-1", "nocurl", None, ip="10.1.0.10"),
    svc("bookinfo", "reviews", 9080),
    dr("bookinfo", "reviews", "reviews", tls="DISABLE"),
    pa("istio-system", "default", "STRICT"),
    mesh(enableAutoMtls=True, rootNamespace="istio-system"),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("kube")
    logs = root / "logs"
    logs.mkdir()
    empty_bin = root / "empty-bin"
    empty_bin.mkdir()
    (empty_bin / "sh").symlink_to("/bin/sh")  # a shell but no curl in this container
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    (logs / "istio-proxy.log").write_text(
        '[2020-01-01T00:00:00.000Z] "GET /old HTTP/1.1" 200 - old\n'
        f'[{now}] "GET /reviews/0 HTTP/1.1" 503 UC new\n'
    )
    big = root / "big.json"
    big.write_bytes(json.dumps({"configs": [{"n": i, "pad": "x" * 200} for i in range(140_000)]}).encode())

    def exec_context(ns: str, name: str, container: str) -> Any:
        if name == "nocurl-1":
            return ContainerContext(cwd=root, env={"PATH": str(empty_bin)})
        return None

    (logs / "app.log").write_text(json.dumps({"start_time": now, "response_code": 503}) + "\n")

    def log_path(ns: str, name: str, container: str) -> Path | None:
        return logs / ("istio-proxy.log" if container == "istio-proxy" else "app.log")

    emu = Emulator(
        OBJECTS,
        state_dir=root / "state",
        exec_context=exec_context,
        log_path=log_path,
        rbac={
            "admin": [{"verbs": ["*"]}],
            AGENT_USER: [{"verbs": ["get", "list"], "resources": ["pods", "services", "pods/log"]}],
        },
    )
    emu.start()
    try:
        admin_cfg = emu.write_kubeconfig(root / "admin.kubeconfig", user="admin", namespace="bookinfo")
        agent_cfg = emu.write_kubeconfig(root / "agent.kubeconfig", user=AGENT_USER)
        admin = LiveCluster.from_kubeconfig(str(admin_cfg))
        agent = LiveCluster.from_kubeconfig(str(agent_cfg))
        yield {"emu": emu, "admin": admin, "agent": agent, "big": big, "root": root}
        admin.close()
        agent.close()
    finally:
        emu.stop()


def test_kubeconfig_namespace_and_missing_file(world: dict[str, Any], tmp_path: Path) -> None:
    assert world["admin"].namespace == "bookinfo"
    assert world["agent"].namespace == "default"
    # each LiveCluster owns its Configuration: the client's process-wide default is untouched
    from kubernetes import client

    assert "127.0.0.1" not in str(client.Configuration.get_default_copy().host)
    with pytest.raises(ConfigError, match=r"nope\.yaml: file not found"):
        LiveCluster.from_kubeconfig(str(tmp_path / "nope.yaml"))


def test_in_cluster_config(world: dict[str, Any], tmp_path: Path) -> None:
    emu = world["emu"]
    (tmp_path / "token").write_text(emu.token_for("admin"))
    (tmp_path / "namespace").write_text("probe")
    live = LiveCluster.in_cluster(
        token_path=str(tmp_path / "token"),
        ca_path=str(emu.ca_path),
        namespace_path=str(tmp_path / "namespace"),
        environ={"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(emu.port)},
    )
    live.ping()
    assert live.namespace == "probe"
    assert live.exec("bookinfo", PP, "productpage", ["true"], 10).exit_code == 0
    live.close()


def test_list_and_get_pods(world: dict[str, Any]) -> None:
    admin = world["admin"]
    assert {p.name for p in admin.list_pods()} == {PP, "reviews-v1-0", "reviews-v2-x", "nocurl-1"}
    assert [p.name for p in admin.list_pods("bookinfo", "app=nocurl")] == ["nocurl-1"]
    got = admin.get_pod("bookinfo", PP)
    assert got.ready and got.app_container == "productpage" and got.has_sidecar and got.ip == "10.1.0.7"
    with pytest.raises(NotFound, match="pod bookinfo/nosuch not found"):
        admin.get_pod("bookinfo", "nosuch")


@pytest.mark.parametrize(
    ("workload", "expected"),
    [
        pytest.param("productpage-v1", [PP], id="deployment-owner-chain"),
        pytest.param("reviews-v1", ["reviews-v1-0"], id="statefulset-owner"),
        pytest.param("app=reviews", ["reviews-v1-0", "reviews-v2-x"], id="label-selector-ready-first"),
        pytest.param("reviews", ["reviews-v1-0", "reviews-v2-x"], id="fallback-app-label"),
    ],
)
def test_workload_pods(world: dict[str, Any], workload: str, expected: list[str]) -> None:
    assert [p.name for p in world["admin"].workload_pods("bookinfo", workload)] == expected


def test_workload_pods_none(world: dict[str, Any]) -> None:
    with pytest.raises(NotFound, match="no pods for workload bookinfo/ghost"):
        world["admin"].workload_pods("bookinfo", "ghost")


def test_services_and_endpoints(world: dict[str, Any]) -> None:
    admin = world["admin"]
    svc = next(s for s in admin.list_services("bookinfo") if s.name == "reviews")
    assert svc.ports[0].port == 9080 and svc.selector == {"app": "reviews"}
    eps = admin.service_endpoints("bookinfo", "reviews")
    assert {(e.ip, e.ready, e.pod) for e in eps} == {
        ("10.1.0.8", True, "reviews-v1-0"),
        ("10.1.0.9", False, "reviews-v2-x"),
    }


def test_policy_objects(world: dict[str, Any]) -> None:
    objs = world["admin"].list_policy_objects()
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objs}
    assert ("DestinationRule", "reviews") in kinds
    assert ("PeerAuthentication", "default") in kinds
    assert ("ConfigMap", "istio") in kinds
    assert ("Service", "reviews") in kinds and ("Pod", PP) in kinds
    # one served version per kind, no duplicates across v1/v1beta1/v1alpha3
    assert sum(1 for o in objs if o["kind"] == "DestinationRule") == 1
    dr = next(o for o in objs if o["kind"] == "DestinationRule")
    assert (
        dr["apiVersion"] == "networking.istio.io/v1"
        and dr["spec"]["trafficPolicy"]["tls"]["mode"] == "DISABLE"
    )


def test_policy_objects_forbidden_names_permission(world: dict[str, Any]) -> None:
    with pytest.raises(
        Forbidden, match=r'lacks permission to list "destinationrules\.networking\.istio\.io"'
    ):
        world["agent"].list_policy_objects()


def test_logs_since(world: dict[str, Any]) -> None:
    text = world["admin"].logs("bookinfo", PP, "istio-proxy", since_seconds=60)
    assert "GET /reviews/0" in text and "/old" not in text
    # No window given: the default window still applies (every log read is bounded in time).
    default = world["admin"].logs("bookinfo", PP, "istio-proxy")
    assert "GET /reviews/0" in default and "/old" not in default


def test_logs_are_bounded_in_bytes(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.kube import logs_exec

    assert len(world["admin"].logs("bookinfo", PP, "istio-proxy", limit_bytes=10)) == 10
    monkeypatch.setattr(logs_exec, "MAX_LOG_BYTES", 16)  # the default cap: sent on every read
    assert len(world["admin"].logs("bookinfo", PP, "istio-proxy")) == 16


def test_exec_output_beyond_the_cap_is_truncated(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.kube import exec_stream

    monkeypatch.setattr(exec_stream, "MAX_EXEC_OUTPUT", 1024 * 1024)
    with pytest.raises(OutputTruncated, match="output truncated") as exc:
        world["admin"].exec("bookinfo", PP, "istio-proxy", ["cat", str(world["big"])], 30)
    assert len(exc.value.stdout) == 1024 * 1024  # kept up to the cap, not grown with the output


def test_logs_single_json_line_not_mangled(world: dict[str, Any]) -> None:
    text = world["admin"].logs("bookinfo", PP, "productpage", since_seconds=60)
    assert json.loads(text)["response_code"] == 503


def test_logs_missing_container(world: dict[str, Any]) -> None:
    with pytest.raises(ContainerNotFound, match="containers: productpage, istio-proxy"):
        world["admin"].logs("bookinfo", PP, "nosuch")


def test_exec_separates_stdout_stderr_exit(world: dict[str, Any]) -> None:
    res = world["admin"].exec(
        "bookinfo", PP, "productpage", ["sh", "-c", "printf out; printf err >&2; exit 7"], 10
    )
    assert (res.stdout, res.stderr, res.exit_code) == (b"out", b"err", 7)


def test_exec_json_only_stdout_intact(world: dict[str, Any]) -> None:
    res = world["admin"].exec("bookinfo", PP, "istio-proxy", ["printf", '{"configs": []}'], 10)
    assert res.stdout == b'{"configs": []}' and res.exit_code == 0


def test_exec_30mb_body_intact(world: dict[str, Any]) -> None:
    big: Path = world["big"]
    assert big.stat().st_size > 30_000_000
    start = time.monotonic()
    res = world["admin"].exec("bookinfo", PP, "istio-proxy", ["cat", str(big)], 30)
    assert res.exit_code == 0 and res.stdout == big.read_bytes()
    assert time.monotonic() - start < 20


def test_exec_forbidden_by_rbac(world: dict[str, Any]) -> None:
    with pytest.raises(Forbidden) as err:
        world["agent"].exec("bookinfo", PP, "productpage", ["true"], 10)
    assert f'{AGENT_USER} lacks permission to get "pods/exec" in namespace "bookinfo"' in str(err.value)


def test_bad_token_is_unauthorized(world: dict[str, Any], tmp_path: Path) -> None:
    emu = world["emu"]
    kc = emu.write_kubeconfig(tmp_path / "kc", user="admin")
    kc.write_text(kc.read_text().replace(emu.token_for("admin"), "not-a-token"))
    live = LiveCluster.from_kubeconfig(str(kc))
    with pytest.raises(Unauthorized, match="rejected our credentials"):
        live.list_pods("bookinfo")
    with pytest.raises(Unauthorized, match="rejected our credentials"):
        live.exec("bookinfo", PP, "productpage", ["true"], 5)
    with pytest.raises(Unauthorized):
        live.ping()
    live.close()


def test_exec_internal_error_is_exec_error(world: dict[str, Any]) -> None:
    world["emu"].inject_exec_fault(
        apiserver.ExecFault(mode="internal_error", pod=PP, message="runtime exploded")
    )
    with pytest.raises(ExecError, match=r"failed before the command ran: .*runtime exploded") as err:
        world["admin"].exec("bookinfo", PP, "productpage", ["true"], 10)
    assert not isinstance(err.value, CommandNotFound)


def test_exec_missing_pod(world: dict[str, Any]) -> None:
    with pytest.raises(NotFound, match="pod bookinfo/ghost not found"):
        world["admin"].exec("bookinfo", "ghost", "app", ["true"], 10)


def test_exec_missing_container(world: dict[str, Any]) -> None:
    with pytest.raises(
        ContainerNotFound,
        match=f"container nosuch not in pod bookinfo/{PP}; containers: productpage, istio-proxy",
    ):
        world["admin"].exec("bookinfo", PP, "nosuch", ["true"], 10)


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["curl", "-sS", "http://reviews:9080/"], id="runtime-cannot-start-curl"),
        pytest.param(["sh", "-c", "curl http://reviews:9080/"], id="shell-exit-127"),
    ],
)
def test_exec_missing_curl(world: dict[str, Any], argv: list[str]) -> None:
    if argv[0] == "sh":
        # via a shell, 127 is the shell's answer: reported as an exit code, not CommandNotFound
        assert world["admin"].exec("bookinfo", "nocurl-1", "nocurl", argv, 10).exit_code == 127
        return
    with pytest.raises(
        CommandNotFound, match="curl is not installed in container nocurl of bookinfo/nocurl-1"
    ):
        world["admin"].exec("bookinfo", "nocurl-1", "nocurl", argv, 10)


def test_exec_deadline(world: dict[str, Any]) -> None:
    emu = world["emu"]
    start = time.monotonic()
    with pytest.raises(ExecTimeout) as err:
        world["admin"].exec("bookinfo", PP, "productpage", ["sh", "-c", "printf started; exec sleep 30"], 1)
    assert time.monotonic() - start < 3
    assert err.value.stdout == b"started"
    # the emulator notices the closed socket and kills the process: nothing left behind
    for _ in range(50):
        if not emu.backend.procs:
            break
        time.sleep(0.1)
    assert not emu.backend.procs


@pytest.mark.parametrize(
    ("mode", "after"),
    [
        pytest.param("abort", 64 * 1024, id="tcp-reset-mid-stream"),
        pytest.param("drop_status", 0, id="clean-close-without-status"),
        pytest.param("close_1011", 0, id="close-1011"),
    ],
)
def test_exec_stream_dropped(world: dict[str, Any], mode: str, after: int) -> None:
    world["emu"].inject_exec_fault(apiserver.ExecFault(mode=mode, after_bytes=after, pod=PP))
    with pytest.raises(StreamDropped, match="dropped"):
        world["admin"].exec("bookinfo", PP, "istio-proxy", ["cat", str(world["big"])], 20)


def test_api_server_goes_away_and_comes_back(tmp_path: Path) -> None:
    emu = Emulator(OBJECTS, state_dir=tmp_path / "state")
    emu.start()
    try:
        port = emu.port
        live = LiveCluster.from_kubeconfig(str(emu.write_kubeconfig(tmp_path / "kc", user="admin")))
        live.ping()
        emu.stop()
        start = time.monotonic()
        with pytest.raises(
            ClusterUnreachable, match=f"https://127.0.0.1:{port} is unreachable after 3 attempts"
        ):
            live.list_pods("bookinfo")
        with pytest.raises(ClusterUnreachable):
            live.exec("bookinfo", PP, "productpage", ["true"], 5)
        assert time.monotonic() - start < 12
        emu.start(port=port)
        live.ping()
        assert live.get_pod("bookinfo", PP).name == PP
        assert live.exec("bookinfo", PP, "productpage", ["true"], 5).exit_code == 0
        live.close()
    finally:
        emu.stop()


def test_wrong_ca_is_reported_without_retries(world: dict[str, Any], tmp_path: Path) -> None:
    import base64

    from meshlab.tls import ensure_server_tls

    emu = world["emu"]
    other_ca = ensure_server_tls(tmp_path / "other").ca_cert.read_bytes()
    kc = emu.write_kubeconfig(tmp_path / "kc", user="admin")
    good = base64.b64encode(emu.ca_path.read_bytes()).decode()
    kc.write_text(kc.read_text().replace(good, base64.b64encode(other_ca).decode()))
    live = LiveCluster.from_kubeconfig(str(kc))
    start = time.monotonic()
    with pytest.raises(ClusterError, match=r"TLS verification of the API server .* failed") as err:
        live.list_pods("bookinfo")
    assert not isinstance(err.value, ClusterUnreachable)
    with pytest.raises(ClusterError, match="TLS verification"):
        live.exec("bookinfo", PP, "productpage", ["true"], 5)
    assert time.monotonic() - start < 2  # no retry loop for a wrong CA
    live.close()
