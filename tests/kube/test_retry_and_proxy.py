"""Bounded retries and the config_dump fallback (pure, with a fake Cluster).

cluster_name_regex, which agent.kube.proxy re-exports, is tested with its home in tests/envoy/test_config_dump.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from agent.errors import ClusterUnreachable, ExecError, InputError
from agent.kube.cluster import ExecResult
from agent.kube.policy_kinds import POLICY_KINDS, pick_version, served_from_group_list
from agent.kube.proxy import fetch_clusters_config_dump, fetch_stats
from agent.kube.retry import with_retries


def test_retry_gives_up_with_cluster_unreachable_naming_server() -> None:
    sleeps: list[float] = []
    calls = 0

    def boom() -> int:
        nonlocal calls
        calls += 1
        raise ConnectionRefusedError("refused")

    with pytest.raises(ClusterUnreachable, match=r"https://127\.0\.0\.1:6443 .*after 3 attempts"):
        with_retries(boom, transient=lambda e: True, server="https://127.0.0.1:6443", sleep=sleeps.append)
    assert calls == 3 and len(sleeps) == 2 and all(0 <= s <= 1.0 for s in sleeps)


def test_retry_recovers_and_does_not_retry_permanent_errors() -> None:
    results = iter([ConnectionResetError("reset"), 42])

    def flaky() -> int:
        item = next(results)
        if isinstance(item, Exception):
            raise item
        return item

    assert (
        with_retries(flaky, transient=lambda e: isinstance(e, OSError), server="s", sleep=lambda _: None)
        == 42
    )
    with pytest.raises(ValueError):
        with_retries(lambda: int("x"), transient=lambda e: isinstance(e, OSError), server="s")


class FakeProxyCluster:
    """Answers pilot-agent requests from a table keyed by the request path prefix."""

    def __init__(self, answers: dict[str, ExecResult]) -> None:
        self.answers = answers
        self.calls: list[list[str]] = []

    def exec(
        self, namespace: str, pod: str, container: str, argv: Sequence[str], timeout: float
    ) -> ExecResult:
        assert container == "istio-proxy" and list(argv[:3]) == ["pilot-agent", "request", "GET"]
        self.calls.append(list(argv))
        for prefix, res in self.answers.items():
            if argv[3].startswith(prefix):
                return res
        raise AssertionError(argv)


FILTERED = b'{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.ClustersConfigDump"}]}'
FULL = b'{"configs":[{"@type":"bootstrap"}]}'


@pytest.mark.parametrize(
    ("answers", "expected", "calls"),
    [
        pytest.param(
            {"config_dump?resource": ExecResult(FILTERED, b"", 0)}, FILTERED, 1, id="filtered-healthy"
        ),
        pytest.param(
            {"config_dump?resource": ExecResult(b"{}", b"", 0)}, b"{}", 1, id="miss-is-empty-object"
        ),
        pytest.param(
            {
                "config_dump?resource": ExecResult(b"invalid resource", b"", 1),
                "config_dump": ExecResult(FULL, b"", 0),
            },
            FULL,
            2,
            id="filter-rejected-falls-back",
        ),
        pytest.param(
            {"config_dump?resource": ExecResult(b"<html>", b"", 0), "config_dump": ExecResult(FULL, b"", 0)},
            FULL,
            2,
            id="non-json-falls-back",
        ),
    ],
)
def test_fetch_clusters_config_dump(answers: dict[str, ExecResult], expected: bytes, calls: int) -> None:
    fake = FakeProxyCluster(answers)
    got = fetch_clusters_config_dump(fake, "bookinfo", "p", "reviews.bookinfo.svc.cluster.local", 9080)  # type: ignore[arg-type]
    assert got == expected and len(fake.calls) == calls
    assert "name_regex=%5Eoutbound%5C%7C9080%5C%7C%5C%7Creviews%5C.bookinfo" in fake.calls[0][3]


def test_fetch_full_dump_failure_is_exec_error() -> None:
    fake = FakeProxyCluster({"config_dump": ExecResult(b"", b"connection refused", 1)})
    with pytest.raises(ExecError, match="config_dump of bookinfo/p"):
        fetch_clusters_config_dump(fake, "bookinfo", "p", "reviews", 9080)  # type: ignore[arg-type]


def test_fetch_stats() -> None:
    fake = FakeProxyCluster({"stats?filter=": ExecResult(b"cluster.x.ssl.handshake: 3\n", b"", 0)})
    assert fetch_stats(fake, "bookinfo", "p", r"ssl\.handshake").startswith("cluster.x")  # type: ignore[arg-type]
    assert fake.calls[0][3] == "stats?filter=ssl%5C.handshake"
    with pytest.raises(InputError, match="invalid stats filter"):
        fetch_stats(fake, "bookinfo", "p", "(")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("served", "expected"),
    [
        pytest.param(
            {"networking.istio.io": ["v1", "v1beta1"], "security.istio.io": ["v1beta1"]},
            ["v1", "v1beta1", None, None],
            id="modern",
        ),
        pytest.param(
            {"networking.istio.io": ["v1alpha3"], "authentication.istio.io": ["v1alpha1"]},
            ["v1alpha3", None, "v1alpha1", "v1alpha1"],
            id="legacy-1.4",
        ),
        pytest.param({}, [None, None, None, None], id="no-istio"),
    ],
)
def test_pick_version(served: dict[str, list[str]], expected: list[str | None]) -> None:
    assert [pick_version(k, served) for k in POLICY_KINDS] == expected


def test_served_from_group_list_puts_preferred_first() -> None:
    doc = {
        "kind": "APIGroupList",
        "groups": [
            {
                "name": "networking.istio.io",
                "versions": [{"version": "v1beta1"}, {"version": "v1"}, {"version": "v1alpha3"}],
                "preferredVersion": {"version": "v1"},
            },
            {"name": "security.istio.io", "versions": [{"version": "v1beta1"}]},
        ],
    }
    served = served_from_group_list(doc)
    assert served == {"networking.istio.io": ["v1", "v1beta1", "v1alpha3"], "security.istio.io": ["v1beta1"]}
    assert [pick_version(k, served) for k in POLICY_KINDS[:2]] == ["v1", "v1beta1"]
