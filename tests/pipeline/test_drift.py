"""Proxy drift rule: table of sidecar cluster vs current policy."""

from __future__ import annotations

import pytest

from agent.drift import proxy_drift
from agent.evidence import ClusterInfo, PolicyView, TlsOrigination

NAME = "outbound|9080||productpage.bookinfo.svc.cluster.local"


def view(mode: str, source: str, dr: str | None) -> PolicyView:
    return PolicyView("productpage.bookinfo.svc.cluster.local", 9080, "OK", mode, source, "STRICT", dr)


@pytest.mark.parametrize(
    ("tls", "cluster_dr", "policy", "expect"),
    [
        (
            TlsOrigination.PLAINTEXT,
            "bookinfo/destrule-productpage",
            view("DISABLE", "destination_rule", "bookinfo/destrule-productpage"),
            None,
        ),
        (TlsOrigination.AUTO, None, view("ISTIO_MUTUAL", "auto", None), None),
        (
            TlsOrigination.PLAINTEXT,
            "bookinfo/destrule-productpage",
            view("ISTIO_MUTUAL", "destination_rule", "bookinfo/destrule-productpage"),
            "originates DISABLE",
        ),
        (
            TlsOrigination.ISTIO_MUTUAL,
            "bookinfo/old",
            view("ISTIO_MUTUAL", "destination_rule", "bookinfo/new"),
            "names DestinationRule bookinfo/old",
        ),
        (TlsOrigination.AUTO, None, view("DISABLE", "destination_rule", None), "uses auto mTLS"),
        (TlsOrigination.UNKNOWN, None, view("DISABLE", "default", None), None),
    ],
    ids=[
        "in-sync-disable",
        "in-sync-auto",
        "stale-tls",
        "stale-dr-name",
        "auto-vs-explicit",
        "unknown-origination",
    ],
)
def test_proxy_drift(
    tls: TlsOrigination, cluster_dr: str | None, policy: PolicyView, expect: str | None
) -> None:
    found = proxy_drift(ClusterInfo(NAME, tls=tls, destination_rule=cluster_dr), policy)
    if expect is None:
        assert found is None
    else:
        assert found is not None and expect in found and "has not received the current config" in found


def test_no_evidence_no_finding() -> None:
    assert proxy_drift(None, None) is None
