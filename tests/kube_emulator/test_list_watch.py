"""Pagination, resourceVersion semantics, watch (bookmarks, 410) and injected latency, through the
pinned kubectl and the official Python client against a 130-pod emulator."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from meshlab.apiserver import Emulator
from tests.kube_emulator.conftest import KubectlRunner

pytestmark = pytest.mark.timeout(90)

NAMESPACES = ("ns-a", "ns-b", "ns-c")
PER_NS = 43  # 129 pods: three pages of 50 with `--chunk-size=50`


def _pod(ns: str, name: str, app: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": app}},
        "spec": {"containers": [{"name": "app", "image": "app:1"}]},
    }


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory, no_stray_children: None) -> Iterator[Emulator]:
    objects = [_pod(ns, f"pod-{i:03d}") for ns in NAMESPACES for i in range(PER_NS)]
    with Emulator(objects, state_dir=tmp_path_factory.mktemp("lw"), bookmark_interval=0.3) as e:
        yield e


@pytest.fixture(scope="module")
def core(emu: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[client.CoreV1Api]:
    kc = emu.write_kubeconfig(tmp_path_factory.mktemp("lwpy") / "kubeconfig")
    with config.new_client_from_config(config_file=str(kc)) as api:
        yield client.CoreV1Api(api)


def _status(exc: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.body)
    return body


# --- pagination ------------------------------------------------------------------------------------
def test_pages_cover_everything_once_with_remaining_count(core: client.CoreV1Api) -> None:
    names: list[str] = []
    token, pages = None, 0
    while True:
        kw = {"_continue": token} if token else {}
        lst = core.list_pod_for_all_namespaces(limit=50, **kw)
        pages += 1
        names += [f"{p.metadata.namespace}/{p.metadata.name}" for p in lst.items]
        token = lst.metadata._continue
        if not token:
            assert lst.metadata.remaining_item_count is None
            break
        assert lst.metadata.remaining_item_count == PER_NS * len(NAMESPACES) - len(names)
    assert pages == 3 and len(names) == len(set(names)) == PER_NS * len(NAMESPACES)


def test_pages_are_consistent_as_of_the_first(core: client.CoreV1Api, emu: Emulator) -> None:
    first = core.list_namespaced_pod("ns-b", limit=10)
    emu.store.apply(_pod("ns-b", "pod-999-late"))  # sorts last: would show on a later page
    emu.store.delete("pods", "ns-b", "pod-042")  # the last one: must still be listed
    try:
        names = [p.metadata.name for p in first.items]
        token = first.metadata._continue
        while token:
            page = core.list_namespaced_pod("ns-b", limit=10, _continue=token)
            assert page.metadata.resource_version == first.metadata.resource_version
            names += [p.metadata.name for p in page.items]
            token = page.metadata._continue
        assert "pod-999-late" not in names and "pod-042" in names and len(names) == PER_NS
    finally:
        emu.store.delete("pods", "ns-b", "pod-999-late")
        emu.store.apply(_pod("ns-b", "pod-042"))


def test_expired_continue_is_410_with_a_fresh_token(core: client.CoreV1Api, emu: Emulator) -> None:
    first = core.list_namespaced_pod("ns-a", limit=20)
    emu.store.apply(_pod("ns-a", "pod-churn"))
    emu.compact()
    try:
        with pytest.raises(ApiException) as exc:
            core.list_namespaced_pod("ns-a", limit=20, _continue=first.metadata._continue)
        body = _status(exc.value)
        assert (exc.value.status, body["reason"]) == (410, "Expired")
        assert body["message"].startswith("The provided continue parameter is too old")
        rest = core.list_namespaced_pod("ns-a", limit=100, _continue=body["metadata"]["continue"])
        assert rest.items and rest.items[0].metadata.name == "pod-020"  # continues where it stopped
    finally:
        emu.store.delete("pods", "ns-a", "pod-churn")


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        pytest.param(
            {"resource_version_match": "Exact"}, 400, "forbidden unless resourceVersion", id="match-no-rv"
        ),
        pytest.param(
            {"resource_version": "1", "resource_version_match": "Exact"}, 410, "too old", id="exact-too-old"
        ),
        pytest.param({"resource_version": "99999999"}, 504, "Too large resource version", id="rv-in-future"),
        pytest.param(
            {"limit": 5, "_continue": "not-a-token"}, 400, "continue key is not valid", id="bad-token"
        ),
    ],
)
def test_list_rv_errors(
    core: client.CoreV1Api, emu: Emulator, query: dict[str, Any], code: int, message: str
) -> None:
    emu.compact()
    with pytest.raises(ApiException) as exc:
        core.list_namespaced_pod("ns-a", **query)
    assert exc.value.status == code and message in _status(exc.value)["message"]


def test_list_exact_rv_serves_the_past(core: client.CoreV1Api, emu: Emulator) -> None:
    """healthy: Exact at a kept rv lists as of then, NotOlderThan lists now."""
    rv = core.list_namespaced_pod("ns-c").metadata.resource_version
    emu.store.apply(_pod("ns-c", "pod-new"))
    try:
        past = core.list_namespaced_pod("ns-c", resource_version=rv, resource_version_match="Exact")
        now = core.list_namespaced_pod("ns-c", resource_version=rv, resource_version_match="NotOlderThan")
        assert len(past.items) == PER_NS and len(now.items) == PER_NS + 1
    finally:
        emu.store.delete("pods", "ns-c", "pod-new")


# --- watch ----------------------------------------------------------------------------------------
def _events(core: client.CoreV1Api, ns: str, timeout: int, **kw: Any) -> list[tuple[str, str, str]]:
    out = []
    for ev in watch.Watch().stream(core.list_namespaced_pod, ns, timeout_seconds=timeout, **kw):
        obj = ev["raw_object"]
        out.append((ev["type"], obj["metadata"].get("name", ""), obj["metadata"]["resourceVersion"]))
    return out


def test_watch_from_rv_sees_add_modify_delete_and_bookmarks(core: client.CoreV1Api, emu: Emulator) -> None:
    rv = core.list_namespaced_pod("ns-a").metadata.resource_version

    def change() -> None:
        emu.store.apply(_pod("ns-a", "w1"))
        emu.store.apply(
            {**_pod("ns-a", "w1"), "metadata": {"name": "w1", "namespace": "ns-a", "labels": {"x": "1"}}}
        )
        emu.store.delete("pods", "ns-a", "w1")

    timer = threading.Timer(0.2, change)
    timer.start()
    try:
        seen = _events(core, "ns-a", 2, resource_version=rv, allow_watch_bookmarks=True)
    finally:
        timer.join()
    changes = [(t, n) for t, n, _ in seen if t != "BOOKMARK"]
    assert changes == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]
    bookmarks = [int(r) for t, _, r in seen if t == "BOOKMARK"]
    assert bookmarks and bookmarks[-1] >= int(seen[2][2])  # the last bookmark is past the deletion


def test_watch_label_selector_turns_leaving_into_deleted(core: client.CoreV1Api, emu: Emulator) -> None:
    rv = core.list_namespaced_pod("ns-a").metadata.resource_version
    emu.store.apply(_pod("ns-a", "sel", app="db"))
    emu.store.apply(_pod("ns-a", "sel", app="web"))
    emu.store.delete("pods", "ns-a", "sel")
    seen = _events(core, "ns-a", 1, resource_version=rv, label_selector="app=db")
    assert [(t, n) for t, n, _ in seen] == [("ADDED", "sel"), ("DELETED", "sel")]


def test_watch_too_old_rv_is_an_error_event(core: client.CoreV1Api, emu: Emulator) -> None:
    emu.store.apply(_pod("ns-a", "old"))
    emu.store.delete("pods", "ns-a", "old")
    emu.compact()
    stream = watch.Watch().stream(core.list_namespaced_pod, "ns-a", resource_version="1", timeout_seconds=2)
    with pytest.raises(ApiException) as exc:  # the official client raises on an ERROR event
        list(stream)
    assert exc.value.status == 410 and "too old resource version" in str(exc.value.reason)


def test_watch_send_initial_events_ends_with_annotated_bookmark(core: client.CoreV1Api) -> None:
    seen = []
    for ev in watch.Watch().stream(
        core.list_namespaced_pod,
        "ns-c",
        timeout_seconds=1,
        allow_watch_bookmarks=True,
        send_initial_events=True,
        resource_version_match="NotOlderThan",
        resource_version="",
    ):
        seen.append(ev)
        if ev["type"] == "BOOKMARK":
            break
    assert [e["type"] for e in seen[:-1]] == ["ADDED"] * PER_NS
    assert seen[-1]["raw_object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


# --- kubectl ----------------------------------------------------------------------------------------
def test_kubectl_chunked_list_all_namespaces(kubectl: KubectlRunner) -> None:
    res = kubectl("get", "pods", "-A", "--chunk-size=50", "-v=6")
    assert res.rc == 0, res
    rows = [line for line in res.out.splitlines()[1:] if line.strip()]
    assert len(rows) == PER_NS * len(NAMESPACES) and res.out.count("NAMESPACE") == 1
    gets = [line for line in res.err.splitlines() if "GET" in line and "/api/v1/pods" in line]
    assert len(gets) == 3 and sum("continue=" in g for g in gets) == 2, res.err


def test_kubectl_watch_sees_an_apply(kubectl: KubectlRunner, emu: Emulator, tmp_path: Path) -> None:
    manifest = tmp_path / "pod.json"
    manifest.write_text(json.dumps(_pod("ns-c", "applied")))
    kubeconfig = emu.write_kubeconfig(tmp_path / "kubeconfig-apply")
    from meshlab.kubectl import kubectl_path

    def apply() -> None:
        env = {"KUBECONFIG": str(kubeconfig), "KUBECACHEDIR": str(tmp_path / "c2"), "HOME": str(tmp_path)}
        subprocess.run(
            [str(kubectl_path()), "apply", "-f", str(manifest)],
            env=env,
            capture_output=True,
            timeout=30,
            check=True,
        )

    timer = threading.Timer(1.0, apply)
    timer.start()
    try:
        res = kubectl("get", "pods", "-n", "ns-c", "-w", "--request-timeout=4s", timeout=40)
    finally:
        timer.join()
        emu.store.delete("pods", "ns-c", "applied")
    assert "applied" in res.out and res.out.count("NAME") == 1, res


# --- latency ----------------------------------------------------------------------------------------
def test_injected_api_latency(core: client.CoreV1Api, emu: Emulator) -> None:
    emu.set_latency(0.3, 0.0)
    try:
        t0 = time.monotonic()
        core.list_namespaced_pod("ns-a", limit=1)
        slow = time.monotonic() - t0
    finally:
        emu.set_latency(0.0, 0.0)
    t0 = time.monotonic()
    core.list_namespaced_pod("ns-a", limit=1)
    assert slow >= 0.3 > time.monotonic() - t0


def test_latency_knob_rejects_negative(emu: Emulator) -> None:
    with pytest.raises(ValueError, match="API latency must be between 0 and 10"):
        emu.set_latency(-1, 0)
