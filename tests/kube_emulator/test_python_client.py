"""The official Python client against the emulator: v5 and v4 exec framing, exit codes, JSON output
intact, trailing-slash discovery, 401, watch. (agent/kube's own tests cover its error mapping.)"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from meshlab.apiserver import Emulator
from tests.kube_emulator.conftest import NS, PRODUCTPAGE, open_exec, raw_exec_ws

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def api(emu: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[client.ApiClient]:
    kc = emu.write_kubeconfig(tmp_path_factory.mktemp("py") / "kubeconfig")
    with config.new_client_from_config(config_file=str(kc)) as api_client:
        yield api_client


def _exec(api: client.ApiClient, argv: list[str]) -> tuple[str, str, int]:
    ws = open_exec(client.CoreV1Api(api), argv)
    assert ws.sock.getheaders().get("sec-websocket-protocol") == "v5.channel.k8s.io"
    ws.run_forever(timeout=20)
    return ws.read_channel(1), ws.read_channel(2), ws.returncode


@pytest.mark.parametrize(
    ("argv", "out", "err", "code"),
    [
        pytest.param(["sh", "-c", "echo ok"], "ok\n", "", 0, id="healthy"),
        pytest.param(["sh", "-c", "echo oops >&2; exit 7"], "", "oops\n", 7, id="exit-7"),
        pytest.param(
            ["python3", "-c", "import json; print(json.dumps({'configs': [1, 2]}))"],
            '{"configs": [1, 2]}\n',
            "",
            0,
            id="json-only-stdout",
        ),
    ],
)
def test_exec_v5(api: client.ApiClient, argv: list[str], out: str, err: str, code: int) -> None:
    assert _exec(api, argv) == (out, err, code)


def test_exec_v4_framing(emu: Emulator) -> None:
    """A v4-only client (kubernetes <=35) gets v4 negotiated and the same frames."""
    import websocket

    ws = raw_exec_ws(emu, "command=sh&command=-c&command=echo+hi%3B+exit+4", "v4.channel.k8s.io")
    try:
        assert ws.subprotocol == "v4.channel.k8s.io"
        frames: list[bytes] = []
        while True:
            opcode, data = ws.recv_data(control_frame=False)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                break
            frames.append(data)
    finally:
        ws.close()
    assert all(isinstance(f, bytes) for f in frames)
    assert b"".join(f[1:] for f in frames if f[:1] == b"\x01") == b"hi\n"
    status = json.loads(next(f[1:] for f in frames if f[:1] == b"\x03"))
    assert status["details"]["causes"][0] == {"reason": "ExitCode", "message": "4"}


def test_trailing_slash_discovery_and_version(api: client.ApiClient) -> None:
    assert client.VersionApi(api).get_code().minor == "37"
    groups = {g.name for g in client.ApisApi(api).get_api_versions().groups}
    assert {"networking.istio.io", "security.istio.io"} <= groups


def test_custom_objects_every_version(api: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(api)
    for version in ("v1", "v1beta1", "v1alpha3"):
        items = custom.list_namespaced_custom_object("networking.istio.io", version, NS, "destinationrules")[
            "items"
        ]
        assert [i["apiVersion"] for i in items] == [f"networking.istio.io/{version}"]
    cluster_wide = custom.list_cluster_custom_object("security.istio.io", "v1beta1", "peerauthentications")
    assert [i["metadata"]["name"] for i in cluster_wide["items"]] == ["default"]


def test_bad_token_is_401(emu: Emulator, tmp_path: Path) -> None:
    cfg = client.Configuration()
    cfg.host, cfg.ssl_ca_cert = emu.url, str(emu.ca_path)
    cfg.api_key = {"BearerToken": "Bearer wrong"}
    with client.ApiClient(cfg) as bad, pytest.raises(ApiException) as exc:
        client.CoreV1Api(bad).list_namespaced_pod(NS)
    assert exc.value.status == 401
    assert json.loads(exc.value.body)["reason"] == "Unauthorized"


def test_watch_sees_changes(api: client.ApiClient, emu: Emulator) -> None:
    core = client.CoreV1Api(api)
    seen: list[tuple[str, str]] = []
    rv = core.list_namespaced_config_map(NS).metadata.resource_version

    def change() -> None:
        emu.store.apply(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "w", "namespace": NS},
                "data": {"a": "1"},
            }
        )
        emu.store.delete("configmaps", NS, "w")

    timer = threading.Timer(0.3, change)
    timer.start()
    try:
        for event in watch.Watch().stream(
            core.list_namespaced_config_map, NS, resource_version=rv, timeout_seconds=5
        ):
            seen.append((event["type"], event["object"].metadata.name))
            if event["type"] == "DELETED":
                break
    finally:
        timer.join()
    assert seen == [("ADDED", "w"), ("DELETED", "w")]


@pytest.mark.parametrize(
    ("container", "code", "message"),
    [
        pytest.param(
            "nosuch", 400, f"container nosuch is not valid for pod {PRODUCTPAGE}", id="bad-container"
        ),
        pytest.param(
            None,
            400,
            f"a container name must be specified for pod {PRODUCTPAGE}, choose one of: "
            "[productpage istio-proxy]",
            id="no-container-two-choices",
        ),
    ],
)
def test_exec_and_log_container_errors(
    api: client.ApiClient, container: str | None, code: int, message: str
) -> None:
    core = client.CoreV1Api(api)
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod_log(PRODUCTPAGE, NS, container=container)
    assert exc.value.status == code and json.loads(exc.value.body)["message"] == message
    with pytest.raises(ApiException) as exc:
        open_exec(core, ["true"], container=container)
    assert f"Handshake status {code}" in str(exc.value.reason) and message in str(exc.value.reason)


def test_namespace_delete_cascades_with_events(emu: Emulator) -> None:
    emu.store.apply(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "tmp-ns"}}
    )
    events: list[tuple[str, str]] = []
    unsubscribe = emu.store.subscribe(lambda kind, obj: events.append((kind, obj["kind"])))
    try:
        emu.store.delete("namespaces", None, "tmp-ns")
    finally:
        unsubscribe()
    assert events == [("DELETED", "ConfigMap"), ("DELETED", "Namespace")]
    assert emu.store.list("configmaps", "tmp-ns") == []


def test_exec_reader_answers_pings_and_frames_are_binary(emu: Emulator) -> None:
    """kubectl pings every 5 s and gives up without pongs: the server must answer while a command runs."""
    import websocket

    ws = raw_exec_ws(emu, "command=sh&command=-c&command=sleep+1%3B+echo+done", "v5.channel.k8s.io")
    opcodes: list[int] = []
    payloads: list[bytes] = []
    try:
        ws.ping(b"are-you-there")
        while True:
            opcode, data = ws.recv_data(control_frame=True)
            opcodes.append(opcode)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                close_code = int.from_bytes(data[:2], "big")
                break
            if opcode == websocket.ABNF.OPCODE_BINARY:
                payloads.append(data)
    finally:
        ws.close()
    assert opcodes.index(websocket.ABNF.OPCODE_PONG) < opcodes.index(websocket.ABNF.OPCODE_BINARY)
    assert websocket.ABNF.OPCODE_TEXT not in opcodes
    assert payloads[-1] == b'\x03{"metadata":{},"status":"Success"}' and close_code == 1000
    assert b"".join(p[1:] for p in payloads if p[:1] == b"\x01") == b"done\n"


def test_exec_without_command_is_400(api: client.ApiClient) -> None:
    with pytest.raises(ApiException) as exc:
        open_exec(client.CoreV1Api(api), [])
    assert "Handshake status 400" in str(exc.value.reason)
    assert "you must specify at least one command for the container" in str(exc.value.reason)
