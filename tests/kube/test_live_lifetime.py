"""LiveCluster's lifetime and public surface after the split into core_reads / logs_exec (no network).

`with LiveCluster(...) as live:` must close the client exactly once, also when the body raises, and a
second close() must be harmless; the names callers use must still be on LiveCluster.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import pytest
from kubernetes import client

from agent.kube.live import MESH_CONFIGMAP, LiveCluster


class CountingClient(client.ApiClient):
    """A real ApiClient (nothing is sent) that counts close() calls."""

    def __init__(self) -> None:
        cfg: client.Configuration = type.__call__(client.Configuration)
        cfg.host = "https://127.0.0.1:1"
        super().__init__(configuration=cfg)
        self.closed = 0

    def close(self) -> None:
        self.closed += 1
        super().close()


@pytest.mark.parametrize(
    ("body_raises", "extra_close", "closes"),
    [
        pytest.param(False, False, 1, id="healthy-with-block-closes-once"),
        pytest.param(True, False, 1, id="body-raises-still-closes-and-propagates"),
        pytest.param(False, True, 2, id="explicit-close-inside-then-exit-is-harmless"),
    ],
)
def test_context_manager_closes_the_client(body_raises: bool, extra_close: bool, closes: int) -> None:
    api = CountingClient()
    expect: AbstractContextManager[Any] = pytest.raises(RuntimeError) if body_raises else nullcontext()
    with expect, LiveCluster(api) as live:
        assert isinstance(live, LiveCluster) and live.server == "https://127.0.0.1:1"
        if extra_close:
            live.close()
        if body_raises:
            raise RuntimeError("body failed")
    assert api.closed == closes


@pytest.mark.parametrize(
    "name",
    [
        "from_kubeconfig",
        "in_cluster",
        "auto",
        "close",
        "set_scope",
        "set_error_counter",
        "list_pods",
        "get_pod",
        "workload_pods",
        "list_services",
        "service_endpoints",
        "mesh_configmap",
        "list_policy_objects",
        "logs",
        "exec",
        "ping",
    ],
)
def test_public_names_kept(name: str) -> None:
    assert callable(getattr(LiveCluster, name))


@pytest.mark.parametrize(
    ("namespaces", "scope"),
    [
        pytest.param(None, None, id="no-scope-is-cluster-wide"),
        pytest.param(["b", "a", "b"], ("b", "a"), id="scope-deduplicated-in-order"),
    ],
)
def test_attributes_kept(namespaces: list[str] | None, scope: tuple[str, ...] | None) -> None:
    with LiveCluster(CountingClient(), namespace="probe", namespaces=namespaces) as live:
        assert (live.namespace, live.root_namespace, live.scope) == ("probe", "istio-system", scope)
        live.set_scope(None)
        assert live.scope is None
    assert MESH_CONFIGMAP == "istio"
