"""The REAL pinned kubectl 1.37 against the emulator: reads, writes, logs, exec and errors."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
import yaml

from meshlab.apiserver import Emulator
from tests.kube_emulator.conftest import NS, PRODUCTPAGE, RESTRICTED, KubectlRunner, child_pids
from tests.support.istio_builders import dr

pytestmark = pytest.mark.timeout(120)


def exec_argv(*command: str, container: str | None = None, pod: str = PRODUCTPAGE) -> list[str]:
    """`exec POD -n NS [-c CONTAINER] -- COMMAND...`: the exec rows differ only in pod, container and command."""
    return ["exec", pod, "-n", NS, *(["-c", container] if container else []), "--", *command]


# id, kubectl args, user, expected rc, substrings of stdout, substrings of stderr
READ_CASES = [
    (
        "get-pods-all-namespaces",
        ["get", "pods", "-A"],
        "admin",
        0,
        ["NAMESPACE", PRODUCTPAGE, "2/2", "Running"],
        [],
    ),
    (
        "get-pods-wide-shows-ip",
        ["get", "pods", "-n", NS, "-o", "wide"],
        "admin",
        0,
        ["10.1.", "lab-node-1"],
        [],
    ),
    (
        "get-pods-label-selector",
        ["get", "pods", "-n", NS, "-l", "app=reviews", "-o", "name"],
        "admin",
        0,
        ["pod/reviews-v1-545db77b95-abcde"],
        [],
    ),
    (
        "get-destinationrules-all",
        ["get", "destinationrules", "-A"],
        "admin",
        0,
        ["HOST", "reviews.bookinfo.svc.cluster.local"],
        [],
    ),
    (
        "get-dr-older-version",
        ["get", "destinationrules.v1alpha3.networking.istio.io", "-n", NS, "-o", "json"],
        "admin",
        0,
        ['"apiVersion": "networking.istio.io/v1alpha3"'],
        [],
    ),
    ("get-peerauthentication", ["get", "pa", "-n", "istio-system"], "admin", 0, ["MODE", "STRICT"], []),
    (
        "get-endpoints-derived",
        ["get", "endpoints", "reviews", "-n", NS, "-o", "jsonpath={.subsets[0].ports[0].port}"],
        "admin",
        0,
        ["9080"],
        [],
    ),
    (
        "get-configmap",
        ["get", "cm", "istio", "-n", "istio-system", "-o", "jsonpath={.data.mesh}"],
        "admin",
        0,
        ["accessLogFile"],
        [],
    ),
    (
        "describe-service-endpoints",
        ["describe", "svc", "reviews", "-n", NS],
        "admin",
        0,
        ["Endpoints:", ":9080", "Selector:          app=reviews"],
        [],
    ),
    (
        "describe-pod",
        ["describe", "pod", PRODUCTPAGE, "-n", NS],
        "admin",
        0,
        ["Status:           Running", "istio-proxy:"],
        [],
    ),
    (
        "get-endpointslices-by-service",
        [
            "get",
            "endpointslices",
            "-n",
            NS,
            "-l",
            "kubernetes.io/service-name=reviews",
            "-o",
            "jsonpath={.items[0].endpoints[0].conditions.ready}",
        ],
        "admin",
        0,
        ["true"],
        [],
    ),
    ("get-deployment-ready", ["get", "deploy", "-n", NS], "admin", 0, ["READY", "reviews-v1", "1/1"], []),
    (
        "pod-not-found",
        ["get", "pod", "nosuch", "-n", NS],
        "admin",
        1,
        [],
        ['Error from server (NotFound): pods "nosuch" not found'],
    ),
    (
        "namespace-not-found",
        ["get", "pod", "nosuch", "-n", "nons"],
        "admin",
        1,
        [],
        ['namespaces "nons" not found'],
    ),
    (
        "list-forbidden",
        ["get", "services", "-n", NS],
        RESTRICTED,
        1,
        [],
        [
            f'services is forbidden: User "{RESTRICTED}" cannot list resource "services" in API group "" '
            f'in the namespace "{NS}"'
        ],
    ),
    (
        "restricted-may-list-pods",
        ["get", "pods", "-n", NS, "-o", "name"],
        RESTRICTED,
        0,
        [f"pod/{PRODUCTPAGE}"],
        [],
    ),
    (
        "logs-since",
        ["logs", PRODUCTPAGE, "-n", NS, "-c", "istio-proxy", "--since=60s"],
        "admin",
        0,
        ['"GET /reviews/0 HTTP/1.1" 503 UF'],
        [],
    ),
    (
        "logs-tail-timestamps",
        ["logs", PRODUCTPAGE, "-n", NS, "-c", "istio-proxy", "--tail=1", "--timestamps"],
        "admin",
        0,
        ["Z [20", "503 UF"],
        [],
    ),
    (
        "logs-bad-container",
        ["logs", PRODUCTPAGE, "-n", NS, "-c", "nosuch"],
        "admin",
        1,
        [],
        [f"container nosuch is not valid for pod {PRODUCTPAGE}"],
    ),
    (
        "exec-curl-exit-code",
        exec_argv("curl", "-sS", "--max-time", "2", "http://127.0.0.1:1/", container="productpage"),
        "admin",
        7,
        [],
        ["command terminated with exit code 7"],
    ),
    (
        "exec-exit-3",
        exec_argv("sh", "-c", "exit 3"),
        "admin",
        3,
        [],
        ["command terminated with exit code 3"],
    ),
    (
        "exec-healthy-stdout-stderr-env",
        exec_argv("sh", "-c", 'echo "$GREETING"; echo to-stderr >&2', container="productpage"),
        "admin",
        0,
        ["hello-from-productpage"],
        ["to-stderr"],
    ),
    (
        "exec-missing-binary",
        exec_argv("no-such-binary"),
        "admin",
        1,
        [],
        ['exec: "no-such-binary": executable file not found in $PATH'],
    ),
    (
        "exec-pod-not-found",
        exec_argv("true", pod="nosuch"),
        "admin",
        1,
        [],
        ['pods "nosuch" not found'],
    ),
    (
        "exec-forbidden",
        exec_argv("true"),
        RESTRICTED,
        1,
        [],
        [
            f'pods "{PRODUCTPAGE}" is forbidden: User "{RESTRICTED}" cannot create resource "pods/exec" '
            f'in API group "" in the namespace "{NS}"'
        ],
    ),
]


@pytest.mark.parametrize(
    ("args", "user", "rc", "outs", "errs"), [c[1:] for c in READ_CASES], ids=[c[0] for c in READ_CASES]
)
def test_kubectl(
    kubectl: KubectlRunner, args: list[str], user: str, rc: int, outs: list[str], errs: list[str]
) -> None:
    res = kubectl(*args, user=user)
    assert res.rc == rc, res
    for s in outs:
        assert s in res.out, res
    for s in errs:
        assert s in res.err, res


def test_logs_since_filters_old_lines(kubectl: KubectlRunner) -> None:
    res = kubectl("logs", PRODUCTPAGE, "-n", NS, "-c", "istio-proxy", "--since=60s")
    assert "GET /old" not in res.out


def test_exec_stdin_roundtrip(kubectl: KubectlRunner) -> None:
    res = kubectl("exec", "-i", PRODUCTPAGE, "-n", NS, "-c", "productpage", "--", "cat", stdin="line one\n")
    assert (res.rc, res.out) == (0, "line one\n"), res


def test_exec_large_json_stdout_intact(kubectl: KubectlRunner) -> None:
    doc = {"configs": [{"name": f"c{i}", "v": "x" * 100} for i in range(20000)]}  # ~2.5 MB, many frames
    code = (
        "import json,sys; sys.stdout.write(json.dumps("
        "{'configs': [{'name': f'c{i}', 'v': 'x' * 100} for i in range(20000)]}))"
    )
    res = kubectl(*exec_argv("python3", "-c", code, container="istio-proxy"))
    assert res.rc == 0, res.err
    assert json.loads(res.out) == doc


def test_apply_get_change_edit_patch_delete(kubectl: KubectlRunner, emu: Emulator, tmp_path: Path) -> None:
    events: list[tuple[str, str]] = []
    unsubscribe = emu.store.subscribe(lambda kind, obj: events.append((kind, obj["metadata"]["name"])))
    try:
        manifest = dr(NS, "ratings", "ratings", tls="DISABLE")
        path = tmp_path / "dr.yaml"
        path.write_text(yaml.safe_dump(manifest))
        assert "created" in kubectl("apply", "-f", str(path)).out
        got = yaml.safe_load(kubectl("get", "dr", "ratings", "-n", NS, "-o", "yaml").out)
        assert got["spec"] == manifest["spec"]
        meta = got["metadata"]
        assert (
            meta["uid"] and meta["resourceVersion"] and meta["creationTimestamp"] and meta["generation"] == 1
        )

        manifest["spec"]["trafficPolicy"]["tls"]["mode"] = "ISTIO_MUTUAL"
        path.write_text(yaml.safe_dump(manifest))
        assert "configured" in kubectl("apply", "-f", str(path)).out
        assert "unchanged" in kubectl("apply", "-f", str(path)).out
        got = emu.store.get("destinationrules", NS, "ratings")
        assert got is not None and got["spec"]["trafficPolicy"]["tls"]["mode"] == "ISTIO_MUTUAL"
        assert got["metadata"]["generation"] == 2 and got["metadata"]["uid"] == meta["uid"]

        editor = tmp_path / "editor.sh"  # `kubectl edit` with a scripted editor
        editor.write_text("#!/bin/sh\nsed -i 's/ISTIO_MUTUAL/SIMPLE/' \"$1\"\n")
        editor.chmod(0o755)
        assert kubectl("edit", "dr", "ratings", "-n", NS, extra_env={"KUBE_EDITOR": str(editor)}).rc == 0
        patches = {
            "json": '[{"op":"replace","path":"/spec/host","value":"ratings.bookinfo"}]',
            "merge": '{"spec":{"subsets":[{"name":"v1"}]}}',
        }
        for patch_type, patch in patches.items():
            res = kubectl("patch", "dr", "ratings", "-n", NS, "--type", patch_type, "-p", patch)
            assert res.rc == 0, res
        got = emu.store.get("destinationrules", NS, "ratings")
        assert got is not None
        assert got["spec"] == {
            "host": "ratings.bookinfo",
            "trafficPolicy": {"tls": {"mode": "SIMPLE"}},
            "subsets": [{"name": "v1"}],
        }

        assert kubectl("delete", "dr", "ratings", "-n", NS).rc == 0
        assert emu.store.get("destinationrules", NS, "ratings") is None
        assert "ratings" not in kubectl("get", "dr", "-A").out
    finally:
        unsubscribe()
    kinds = [k for k, name in events if name == "ratings"]
    assert kinds[0] == "ADDED" and kinds[-1] == "DELETED" and kinds.count("MODIFIED") >= 4


def test_live_change_visible_to_kubectl(kubectl: KubectlRunner, emu: Emulator) -> None:
    emu.store.apply(
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "PeerAuthentication",
            "metadata": {"name": "live", "namespace": NS},
            "spec": {"mtls": {"mode": "PERMISSIVE"}},
        }
    )
    try:
        assert "PERMISSIVE" in kubectl("get", "pa", "-n", NS).out
    finally:
        emu.store.delete("peerauthentications", NS, "live")
    assert "live" not in kubectl("get", "pa", "-n", NS).out


def test_exec_killed_when_client_goes_away(kubectl: KubectlRunner, emu: Emulator) -> None:
    before = child_pids()
    with pytest.raises(Exception, match="timed out"):
        kubectl(*exec_argv("sleep", "30"), timeout=1.5)
    deadline = time.monotonic() + 10
    while child_pids() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not (child_pids() - before)
    assert not emu.backend.procs


def test_logs_follow_streams_appends_and_is_bounded(
    kubectl: KubectlRunner, emu: Emulator, tmp_path: Path
) -> None:
    log = tmp_path / "follow.log"
    log.write_text("before\n")
    old_limit, old_path = emu.backend.follow_limit, emu.backend.log_path
    emu.backend.follow_limit, emu.backend.log_path = 1.5, lambda ns, pod, c: log
    timer = threading.Timer(0.7, lambda: log.open("a").write("after\n"))
    timer.start()
    try:
        started = time.monotonic()
        res = kubectl("logs", "-f", PRODUCTPAGE, "-n", NS, "-c", "istio-proxy")
        assert time.monotonic() - started < 10
    finally:
        timer.join()
        emu.backend.follow_limit, emu.backend.log_path = old_limit, old_path
    assert (res.rc, res.out) == (0, "before\nafter\n"), res


def test_get_watch_prints_new_pods(kubectl: KubectlRunner, emu: Emulator) -> None:
    old = emu.backend.watch_limit
    emu.backend.watch_limit = 1.5
    new_pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "watched", "namespace": NS},
        "spec": {"containers": [{"name": "app"}]},
    }
    timer = threading.Timer(0.7, lambda: emu.store.apply(new_pod))
    timer.start()
    try:
        res = kubectl("get", "pods", "-n", NS, "-w")
    finally:
        timer.join()
        emu.backend.watch_limit = old
        emu.store.delete("pods", NS, "watched")
    assert res.rc == 0 and res.out.count("NAME") == 1 and "watched" in res.out, res


def test_apply_builtin_pod_then_label(kubectl: KubectlRunner, emu: Emulator, tmp_path: Path) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "applied", "namespace": NS, "labels": {"a": "1"}},
        "spec": {"containers": [{"name": "app", "image": "app:1"}]},
    }
    path = tmp_path / "pod.yaml"
    path.write_text(yaml.safe_dump(pod))
    try:
        assert kubectl("apply", "-f", str(path)).rc == 0
        pod["metadata"]["labels"]["b"] = "2"
        path.write_text(yaml.safe_dump(pod))
        assert "configured" in kubectl("apply", "-f", str(path)).out
        assert kubectl("label", "pod", "applied", "-n", NS, "c=3").rc == 0
        got = emu.store.get("pods", NS, "applied")
        assert got is not None and got["metadata"]["labels"] == {"a": "1", "b": "2", "c": "3"}
        assert got["status"]["phase"] == "Running"
    finally:
        emu.store.delete("pods", NS, "applied")


def test_typed_create_namespace_and_configmap_then_read_back(kubectl: KubectlRunner) -> None:
    # One test, not three rows: each step needs the one before on the same emulator, and xdist may hand
    # rows of one table to different workers (each with its own module emulator).
    steps = [
        (["create", "namespace", "typed-ns"], "namespace/typed-ns created"),
        (
            ["create", "configmap", "typed-cm", "-n", "typed-ns", "--from-literal=a=b"],
            "configmap/typed-cm created",
        ),
        (["get", "cm", "typed-cm", "-n", "typed-ns", "-o", "jsonpath={.data.a}"], "b"),
    ]
    for args, out in steps:
        res = kubectl(*args)
        assert (res.rc, res.out.strip()) == (0, out), res


@pytest.mark.parametrize(
    ("args", "user", "rc", "out"),
    [
        pytest.param(["auth", "can-i", "create", "pods/exec", "-n", NS], "admin", 0, "yes", id="can-i-admin"),
        pytest.param(
            ["auth", "can-i", "create", "pods/exec", "-n", NS],
            RESTRICTED,
            1,
            "no",
            id="can-i-restricted-exec",
        ),
        pytest.param(
            ["auth", "can-i", "list", "pods", "-n", NS], RESTRICTED, 0, "yes", id="can-i-restricted-list"
        ),
    ],
)
def test_typed_commands_send_protobuf(
    kubectl: KubectlRunner, args: list[str], user: str, rc: int, out: str
) -> None:
    res = kubectl(*args, user=user)
    assert (res.rc, res.out.strip()) == (rc, out), res


def test_spdy_fallback_is_a_clear_400(kubectl: KubectlRunner) -> None:
    res = kubectl(*exec_argv("true"), extra_env={"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"})
    assert res.rc == 1 and "SPDY is not supported by this emulator" in res.err, res


def test_exec_ends_when_background_child_holds_stdout(kubectl: KubectlRunner, emu: Emulator) -> None:
    before = child_pids()
    started = time.monotonic()
    # A duration unique to this test process: the /proc scan below sees every process on the host, and a
    # concurrent run of this suite (another checkout, another session) has its own orphan to kill.
    seconds = f"31.{os.getpid()}"
    res = kubectl(*exec_argv("sh", "-c", f"sleep {seconds} & echo started"))
    assert (res.rc, res.out) == (0, "started\n"), res
    assert time.monotonic() - started < 10
    assert not (child_pids() - before) and not emu.backend.procs
    # the orphaned background child was reparented away from us: find it by its command line
    assert not [
        p for p in Path("/proc").glob("[0-9]*/cmdline") if _cmdline(p) == f"sleep\0{seconds}\0".encode()
    ]


def _cmdline(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""
