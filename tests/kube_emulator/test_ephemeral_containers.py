"""The emulator's pods/{name}/ephemeralcontainers subresource, through the pinned kubectl, the official
Python client and the agent's own ProbeContainers (LiveCluster): add, status, reuse, 403, 404, 422, and a
pod deleted while its probe container starts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from agent.config.probe_via import PROBE_CONTAINER_NAME, ProbeContainerConfig
from agent.kube.ephemeral import ProbeContainerError, ProbeContainers
from agent.kube.live import LiveCluster
from meshlab.apiserver import Emulator
from tests.kube_emulator.conftest import KubectlRunner, Result

NS = "apps"
NO_EPHEMERAL = "system:serviceaccount:meshprober:no-ephemeral"
IMAGE = "curlimages/curl:8.11.1"


def _pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": name}},
        "spec": {"containers": [{"name": "app", "image": "python:3.12-slim"}]},
    }


PODS = [f"pod-{i}" for i in range(10)]
RBAC = {
    "admin": [{"verbs": ["*"]}],
    # the exec Role without the ephemeral-probes component
    NO_EPHEMERAL: [
        {"verbs": ["get", "list", "watch"], "resources": ["pods"], "namespaces": [NS]},
        {"verbs": ["get", "create"], "resources": ["pods/exec"], "namespaces": [NS]},
    ],
}


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory, no_stray_children: None) -> Iterator[Emulator]:
    with Emulator([_pod(p) for p in PODS], state_dir=tmp_path_factory.mktemp("eph"), rbac=RBAC) as e:
        yield e


def _api(emu: Emulator, tmp: Path, user: str = "admin") -> client.CoreV1Api:
    kubeconfig = emu.write_kubeconfig(tmp / f"kc-{user.replace(':', '_')}", user=user)
    cfg = client.Configuration()
    from kubernetes import config as kconfig

    kconfig.load_kube_config(str(kubeconfig), client_configuration=cfg)
    return client.CoreV1Api(client.ApiClient(cfg))


def _live(emu: Emulator, tmp: Path, user: str = "admin") -> LiveCluster:
    return LiveCluster.from_kubeconfig(
        str(emu.write_kubeconfig(tmp / f"live-{user.replace(':', '_')}", user=user))
    )


def _container(name: str = "dbg") -> dict[str, Any]:
    return {"name": name, "image": IMAGE, "command": ["sleep", "3600"]}


def _state(emu: Emulator, pod: str, name: str) -> dict[str, Any] | None:
    obj = emu.store.get("pods", NS, pod) or {}
    for cs in (obj.get("status") or {}).get("ephemeralContainerStatuses") or []:
        if cs["name"] == name:
            return dict(cs["state"])
    return None


def _wait_running(emu: Emulator, pod: str, name: str) -> None:
    deadline = time.monotonic() + 5
    while "running" not in (_state(emu, pod, name) or {}):
        assert time.monotonic() < deadline, _state(emu, pod, name)
        time.sleep(0.05)


# --- the official client ----------------------------------------------------------------------
def test_client_strategic_patch_adds_and_status_reports_running(emu: Emulator, tmp_path: Path) -> None:
    api = _api(emu, tmp_path)
    pod = api.patch_namespaced_pod_ephemeralcontainers(
        PODS[0],
        NS,
        {"spec": {"ephemeralContainers": [_container()]}},  # a dict: strategic merge
    )
    assert [c.name for c in pod.spec.ephemeral_containers] == ["dbg"]
    assert "waiting" in (_state(emu, PODS[0], "dbg") or {}) or "running" in (
        _state(emu, PODS[0], "dbg") or {}
    )
    _wait_running(emu, PODS[0], "dbg")
    got = api.read_namespaced_pod_ephemeralcontainers(PODS[0], NS)
    assert got.status.ephemeral_container_statuses[0].state.running is not None


def test_client_json_patch_and_put(emu: Emulator, tmp_path: Path) -> None:
    api = _api(emu, tmp_path)
    ops = [{"op": "add", "path": "/spec/ephemeralContainers", "value": [_container("one")]}]
    api.patch_namespaced_pod_ephemeralcontainers(PODS[1], NS, ops)  # a list: JSON patch
    ops = [{"op": "add", "path": "/spec/ephemeralContainers/-", "value": _container("two")}]
    api.patch_namespaced_pod_ephemeralcontainers(PODS[1], NS, ops)
    pod = api.read_namespaced_pod(PODS[1], NS)
    pod.spec.ephemeral_containers.append(client.V1EphemeralContainer(name="three", image=IMAGE))
    api.replace_namespaced_pod_ephemeralcontainers(PODS[1], NS, pod)
    names = [c["name"] for c in emu.store.get("pods", NS, PODS[1])["spec"]["ephemeralContainers"]]
    assert names == ["one", "two", "three"]
    for name in names:
        _wait_running(emu, PODS[1], name)


@pytest.mark.parametrize(
    ("ops", "why"),
    [
        pytest.param(
            [{"op": "remove", "path": "/spec/ephemeralContainers/0"}], "may not be removed", id="remove"
        ),
        pytest.param(
            [{"op": "replace", "path": "/spec/ephemeralContainers/0/image", "value": "busybox:1"}],
            "may not be changed",
            id="change",
        ),
        pytest.param(
            [{"op": "add", "path": "/spec/ephemeralContainers/-", "value": {"name": "app", "image": IMAGE}}],
            "Duplicate value",
            id="duplicate-name",
        ),
        pytest.param(
            [
                {
                    "op": "add",
                    "path": "/spec/ephemeralContainers/-",
                    "value": {"name": "x", "image": IMAGE, "ports": [{"containerPort": 80}]},
                }
            ],
            "cannot be set for an Ephemeral Container",
            id="ports",
        ),
    ],
)
def test_invalid_updates_are_422(emu: Emulator, tmp_path: Path, ops: list[Any], why: str) -> None:
    api = _api(emu, tmp_path)
    if not (emu.store.get("pods", NS, PODS[2])["spec"].get("ephemeralContainers")):
        api.patch_namespaced_pod_ephemeralcontainers(
            PODS[2], NS, {"spec": {"ephemeralContainers": [_container()]}}
        )
    with pytest.raises(ApiException) as err:
        api.patch_namespaced_pod_ephemeralcontainers(PODS[2], NS, ops)
    assert err.value.status == 422
    assert why in str(err.value.body)


def test_changes_beyond_ephemeral_containers_are_dropped(emu: Emulator, tmp_path: Path) -> None:
    """As the real strategy does (dropNonEphemeralContainerUpdates): silently, not as an error."""
    api = _api(emu, tmp_path)
    ops = [
        {"op": "replace", "path": "/spec/containers/0/image", "value": "other:1"},
        {"op": "add", "path": "/spec/ephemeralContainers", "value": [_container("extra")]},
    ]
    api.patch_namespaced_pod_ephemeralcontainers(PODS[3], NS, ops)
    spec = emu.store.get("pods", NS, PODS[3])["spec"]
    assert spec["containers"][0]["image"] == "python:3.12-slim"
    assert [c["name"] for c in spec["ephemeralContainers"]] == ["extra"]


def test_client_403_without_the_permission_and_404_for_a_missing_pod(emu: Emulator, tmp_path: Path) -> None:
    body = {"spec": {"ephemeralContainers": [_container()]}}
    with pytest.raises(ApiException) as err:
        _api(emu, tmp_path, NO_EPHEMERAL).patch_namespaced_pod_ephemeralcontainers(PODS[5], NS, body)
    assert err.value.status == 403
    assert "pods/ephemeralcontainers" in str(err.value.body)
    with pytest.raises(ApiException) as err:
        _api(emu, tmp_path).patch_namespaced_pod_ephemeralcontainers("no-such-pod", NS, body)
    assert err.value.status == 404


# --- the pinned kubectl -------------------------------------------------------------------------
def test_kubectl_debug_then_exec_in_the_debug_container(kubectl: KubectlRunner) -> None:
    r: Result = kubectl(
        "debug", "-n", NS, PODS[4], f"--image={IMAGE}", "--container=dbg", "--", "sleep", "3600"
    )
    assert r.rc == 0, r.err
    deadline = time.monotonic() + 5
    state = ""
    while "running" not in state and time.monotonic() < deadline:
        state = kubectl("get", "pod", "-n", NS, PODS[4], "-o",
                        "jsonpath={.status.ephemeralContainerStatuses[0].state}").out  # fmt: skip
    assert "running" in state
    r = kubectl("exec", "-n", NS, PODS[4], "-c", "dbg", "--", "echo", "from-dbg")
    assert (r.rc, r.out.strip()) == (0, "from-dbg"), r.err
    again = kubectl("debug", "-n", NS, PODS[4], f"--image={IMAGE}", "--container=dbg", "--", "sleep", "1")
    assert again.rc != 0  # an ephemeral container cannot be changed or re-added
    assert "may not be changed" in again.err or "Invalid" in again.err or "invalid" in again.err


def test_kubectl_debug_forbidden(kubectl: KubectlRunner) -> None:
    r = kubectl("debug", "-n", NS, PODS[5], f"--image={IMAGE}", "--container=dbg", "--", "sleep", "3600",
                user=NO_EPHEMERAL)  # fmt: skip
    assert r.rc != 0
    assert "forbidden" in r.err.lower() and "ephemeralcontainers" in r.err


# --- the agent's ProbeContainers over LiveCluster -------------------------------------------------
def test_probe_container_added_once_and_reused(emu: Emulator, tmp_path: Path) -> None:
    created: list[str] = []
    with _live(emu, tmp_path) as live:
        probes = ProbeContainers(live, ProbeContainerConfig(), created.append)
        assert probes.permitted(NS)
        assert probes.ensure(NS, PODS[6], timeout=5) == PROBE_CONTAINER_NAME
        fresh = ProbeContainers(live, ProbeContainerConfig(), created.append)  # e.g. an agent restart
        assert fresh.ensure(NS, PODS[6], timeout=5) == PROBE_CONTAINER_NAME
    assert created == [NS]  # added once: the second agent found it in the pod
    spec = emu.store.get("pods", NS, PODS[6])["spec"]["ephemeralContainers"][0]
    sc = spec["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] not in (0, 1337)
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert spec["image"] == ProbeContainerConfig().image


def test_probe_container_403_is_clear_and_remembered(emu: Emulator, tmp_path: Path) -> None:
    with _live(emu, tmp_path, NO_EPHEMERAL) as live:
        calls: list[str] = []
        real = live.patch_ephemeral_containers

        def counting(namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
            calls.append(name)
            return real(namespace, name, patch)

        live.patch_ephemeral_containers = counting  # type: ignore[method-assign]
        probes = ProbeContainers(live, ProbeContainerConfig())
        assert not probes.permitted(NS)  # the access review: `auto` would not even try
        for pod in (PODS[7], PODS[8]):
            with pytest.raises(ProbeContainerError) as err:
                probes.ensure(NS, pod, timeout=5)
            assert err.value.stage == "ephemeral_forbidden"
            assert "patch on pods/ephemeralcontainers" in str(err.value)
            assert "deploy/components/ephemeral-probes" in str(err.value)
    assert calls == [PODS[7]]  # the 403 was remembered: the second pod cost no PATCH


def test_probe_container_of_a_missing_pod(emu: Emulator, tmp_path: Path) -> None:
    with _live(emu, tmp_path) as live, pytest.raises(ProbeContainerError, match="not found"):
        ProbeContainers(live, ProbeContainerConfig()).ensure(NS, "no-such-pod", timeout=5)


def test_pod_deleted_while_its_probe_container_starts(emu: Emulator, tmp_path: Path) -> None:
    emu.backend.ephemeral_start_delay = 30.0  # the "kubelet" is slow to start it
    try:
        with _live(emu, tmp_path) as live:
            probes = ProbeContainers(live, ProbeContainerConfig())
            deleter = threading.Timer(0.5, emu.store.delete, ("pods", NS, PODS[9]))
            deleter.start()
            with pytest.raises(ProbeContainerError, match="deleted while its probe container"):
                probes.ensure(NS, PODS[9], timeout=10)
            deleter.join()
    finally:
        emu.backend.ephemeral_start_delay = 0.0
