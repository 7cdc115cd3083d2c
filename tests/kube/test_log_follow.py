"""LiveCluster.follow_logs against the lab API-server emulator over real HTTPS: a followed
istio-proxy log delivers a line appended after the stream opened, waits end at the needles or the
deadline, the window and byte bounds hold, close() unblocks a silent stream, and a bad container
is named when the stream is closed."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.errors import ContainerNotFound
from agent.kube.live import LiveCluster
from meshlab.apiserver import Emulator

pytestmark = pytest.mark.timeout(60)

POD = "productpage-v1-0"


def _pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": POD, "namespace": "bookinfo", "labels": {"app": "productpage"}},
        "spec": {"containers": [{"name": "productpage"}, {"name": "istio-proxy"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


@dataclass
class World:
    cluster: LiveCluster
    log: Path
    emulator: Emulator


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    log = tmp_path / "istio-proxy.log"
    log.write_text('[2020-01-01T00:00:00.000Z] "GET /old HTTP/1.1" 200 - old-request\n')
    emu = Emulator(
        [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bookinfo"}}, _pod()],
        state_dir=tmp_path / "state",
        log_path=lambda ns, name, container: log,
        rbac={"admin": [{"verbs": ["*"]}]},
    )
    emu.start()
    try:
        cluster = LiveCluster.from_kubeconfig(str(emu.write_kubeconfig(tmp_path / "kc", user="admin")))
        yield World(cluster, log, emu)
        cluster.close()
    finally:
        emu.stop()


def _append_later(log: Path, line: str, after_s: float) -> threading.Thread:
    def write() -> None:
        time.sleep(after_s)
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with log.open("a") as f:
            f.write(f'[{now}] "GET /productpage HTTP/1.1" 503 UC {line}\n')

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def test_line_written_after_open_arrives_before_the_deadline(world: World) -> None:
    cluster, log = world.cluster, world.log
    stream = cluster.follow_logs("bookinfo", POD, "istio-proxy", since_seconds=5, limit_bytes=65536)
    started = time.monotonic()
    _append_later(log, "rid-1 rid-2", 0.3).join()
    assert stream.wait_for(["rid-1", "rid-2"], started + 10)
    waited = time.monotonic() - started
    text = stream.close()
    assert "rid-1" in text and "old-request" not in text  # the window, not the file's history
    assert waited < 2  # the line came as it was written, not at the deadline


def test_missing_needle_ends_at_the_deadline(world: World) -> None:
    cluster, log = world.cluster, world.log
    stream = cluster.follow_logs("bookinfo", POD, "istio-proxy", since_seconds=5, limit_bytes=65536)
    _append_later(log, "someone-else", 0.0)
    started = time.monotonic()
    assert not stream.wait_for(["rid-never"], started + 0.5)
    assert 0.45 < time.monotonic() - started < 3
    assert "someone-else" in stream.close()


def test_close_unblocks_a_silent_stream_at_once(world: World) -> None:
    cluster = world.cluster
    stream = cluster.follow_logs("bookinfo", POD, "istio-proxy", since_seconds=1, limit_bytes=65536)
    time.sleep(0.3)  # opened and idle
    started = time.monotonic()
    assert stream.close() == ""
    assert time.monotonic() - started < 2


def test_bounded_in_bytes(world: World) -> None:
    cluster, log = world.cluster, world.log
    stream = cluster.follow_logs("bookinfo", POD, "istio-proxy", since_seconds=5, limit_bytes=40)
    _append_later(log, "x" * 200, 0.0).join()
    stream.wait_for(["never"], time.monotonic() + 1)
    assert len(stream.close()) == 40


def test_unknown_container_is_named_on_close(world: World) -> None:
    cluster = world.cluster
    stream = cluster.follow_logs("bookinfo", POD, "nosuch", since_seconds=5, limit_bytes=100)
    assert not stream.wait_for(["x"], time.monotonic() + 5)  # ends early: the stream failed
    with pytest.raises(ContainerNotFound, match="containers: productpage, istio-proxy"):
        stream.close()


def test_close_does_not_wait_for_a_stream_still_opening(world: World) -> None:
    """A healthy on-demand probe abandons its streams: a slow API server must not hold the answer."""
    cluster = world.cluster
    emulator = world.emulator
    emulator.set_latency(1.0, 0.0)  # every API call waits a second first
    try:
        stream = cluster.follow_logs("bookinfo", POD, "istio-proxy", since_seconds=5, limit_bytes=100)
        started = time.monotonic()
        assert stream.close() == ""
        assert time.monotonic() - started < 0.5
    finally:
        emulator.set_latency(0.0, 0.0)
