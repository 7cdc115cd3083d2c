"""Result store (latest, bounded history, counters, thread safety) and shard selection."""

from __future__ import annotations

import threading

import pytest
from serve_fakes import make_path, make_result

from agent.errors import InputError
from agent.model import Verdict
from agent.serve.sharding import ordinal_from_hostname, resolve_shard, select, shard_of
from agent.serve.store import ResultStore


def test_store_keeps_latest_and_bounded_history() -> None:
    store = ResultStore(history=3)
    store.set_paths(["p"])
    for verdict in [Verdict.OK, Verdict.NO_ROUTE, Verdict.OK, Verdict.RBAC_DENIED, Verdict.OK]:
        store.record(make_result("p", verdict))
    assert [r.diagnosis.verdict for r in store.history("p")] == [Verdict.OK, Verdict.RBAC_DENIED, Verdict.OK]
    snap = store.snapshot()[0]
    assert snap.verdict_counts[Verdict.OK] == 3 and snap.verdict_counts[Verdict.NO_ROUTE] == 1
    assert snap.duration_count == 5


def test_store_ignores_results_of_unknown_paths() -> None:
    store = ResultStore()
    store.set_paths(["p"])
    store.record(make_result("removed-meanwhile"))
    assert store.names() == ["p"] and store.latest("removed-meanwhile") is None


def test_store_is_thread_safe() -> None:
    store = ResultStore(history=5)
    names = [f"p{i}" for i in range(4)]
    store.set_paths(names)

    def writer(name: str) -> None:
        for _ in range(250):
            store.record(make_result(name))
            store.snapshot()

    threads = [threading.Thread(target=writer, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert all(
        s.verdict_counts[Verdict.OK] == 250 and len(store.history(s.name)) == 5 for s in store.snapshot()
    )


NAMES = [f"path-{i}" for i in range(300)]


@pytest.mark.parametrize("count", [1, 2, 3, 7], ids=lambda c: f"{c}-replicas")
def test_shards_partition_paths_stably(count: int) -> None:
    owned = [select(NAMES, i, count, lambda n: n) for i in range(count)]
    assert sorted(n for part in owned for n in part) == sorted(NAMES)  # every path exactly once
    assert all(len(part) > len(NAMES) / count * 0.6 for part in owned)  # roughly even
    assert owned == [select(NAMES, i, count, lambda n: n) for i in range(count)]  # stable


def test_shard_hash_is_fixed_across_processes() -> None:
    # sha256-based, not Python's salted hash(): these values must never change between releases.
    names = ("a", "productpage", "load-test-to-productpage", "bookinfo-to-productpage")
    assert [shard_of(n, 4) for n in names] == [2, 3, 1, 0]
    assert shard_of("a", 4) == int.from_bytes(bytes.fromhex("ca978112ca1bbdca"), "big") % 4


def test_select_uses_path_names() -> None:
    paths = [make_path(f"p{i}") for i in range(10)]
    assert {p.name for p in select(paths, 0, 1, lambda p: p.name)} == {p.name for p in paths}


@pytest.mark.parametrize(
    ("hostname", "ordinal"),
    [
        ("meshprober-0", 0),
        ("meshprober-12", 12),
        ("meshprober", None),
        ("my-agent-7d9f8-abcde", None),
        ("", None),
    ],
    ids=["ordinal-0", "ordinal-12", "no-ordinal", "deployment-pod", "empty"],
)
def test_ordinal_from_hostname(hostname: str, ordinal: int | None) -> None:
    assert ordinal_from_hostname(hostname) == ordinal


@pytest.mark.parametrize(
    ("cli", "config", "hostname", "expected"),
    [
        ((None, None), (0, 1), "meshprober-3", (0, 1)),
        ((None, 4), (0, 1), "meshprober-3", (3, 4)),
        ((1, 4), (0, 1), "meshprober-3", (1, 4)),
        ((None, None), (1, 2), "laptop", (1, 2)),
    ],
    ids=["single-replica", "statefulset-ordinal", "cli-wins", "config"],
)
def test_resolve_shard(
    cli: tuple[int | None, int | None], config: tuple[int, int], hostname: str, expected: tuple[int, int]
) -> None:
    assert resolve_shard(cli[0], cli[1], config[0], config[1], hostname) == expected


@pytest.mark.parametrize(
    ("cli", "hostname", "message"),
    [((5, 2), None, "--shard-index: 5 must be in 0..1"), ((None, 2), "meshprober-4", "--shard-index: 4"),
     ((0, 0), None, "--shard-count: must be >= 1")],
    ids=["index-too-big", "ordinal-beyond-count", "zero-count"],
)  # fmt: skip
def test_resolve_shard_errors(cli: tuple[int | None, int | None], hostname: str | None, message: str) -> None:
    with pytest.raises(InputError, match=message):
        resolve_shard(cli[0], cli[1], 0, 1, hostname)


def test_store_does_not_count_error_stage_of_results() -> None:
    # The pipeline counts its own agent-side errors via record_error; counting the result too would double it.
    store = ResultStore()
    store.set_paths(["p"])
    store.record(make_result("p", Verdict.PROBE_FAILED, error_stage="exec"))
    assert store.errors()["exec"] == 0
    store.record_error("exec")
    store.record_error("client_log")  # a stage that is not pre-declared still counts
    assert store.errors()["exec"] == 1 and store.errors()["client_log"] == 1
