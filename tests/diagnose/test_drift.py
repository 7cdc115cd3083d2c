"""Proxy drift rule: table of sidecar cluster vs current policy."""

from __future__ import annotations

import pytest

from agent.diagnose.rules.drift import proxy_drift, with_drift
from agent.evidence import ClusterInfo, PolicyView, TlsOrigination
from agent.model import Confidence, Diagnosis, Remedy, Verdict

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


FAILED = Diagnosis(
    Verdict.MTLS_PLAINTEXT_TO_STRICT,
    Confidence.HIGH,
    "The client sidecar sends plaintext.",
    evidence=("HTTP 503",),
    remedy=Remedy("Patch the DestinationRule.", "kind: DestinationRule\n"),
)
HEALTHY = Diagnosis(Verdict.OK, Confidence.HIGH, "Got the expected HTTP 200.")
STALE = ClusterInfo(NAME, tls=TlsOrigination.PLAINTEXT, destination_rule="bookinfo/destrule-productpage")
FIXED_NOW = view("ISTIO_MUTUAL", "destination_rule", "bookinfo/destrule-productpage")
CONFLICT_NOW = PolicyView(
    "productpage.bookinfo.svc.cluster.local", 9080, "CONFLICT", "ISTIO_MUTUAL", "destination_rule",
    "DISABLE", "bookinfo/destrule-productpage",
)  # fmt: skip


@pytest.mark.parametrize(
    ("diagnosis", "cluster", "policy", "leads_with_mismatch", "remedy_has"),
    [
        pytest.param(FAILED, STALE, FIXED_NOW, True, "istioctl proxy-status", id="stale-sidecar-sync-remedy"),
        pytest.param(FAILED, STALE, CONFLICT_NOW, True, "receives it", id="stale-and-conflict-keeps-fix"),
        pytest.param(HEALTHY, STALE, FIXED_NOW, False, None, id="healthy-unchanged"),
        pytest.param(FAILED, STALE, view("DISABLE", "destination_rule", "bookinfo/destrule-productpage"),
                     False, "Patch the DestinationRule.", id="in-sync-unchanged"),
        pytest.param(FAILED, None, FIXED_NOW, False, "Patch the DestinationRule.", id="no-dump-unchanged"),
    ],
)  # fmt: skip
def test_with_drift(
    diagnosis: Diagnosis,
    cluster: ClusterInfo | None,
    policy: PolicyView,
    leads_with_mismatch: bool,
    remedy_has: str | None,
) -> None:
    out = with_drift(diagnosis, cluster, policy)
    if not leads_with_mismatch:
        assert out == diagnosis
    else:
        assert out.summary.startswith("Config mismatch:")
        assert "has not received the current config" in out.summary
        assert diagnosis.summary in out.summary  # what the sidecar does is still said
        assert out.confidence is Confidence.MEDIUM and out.verdict is diagnosis.verdict
        assert out.evidence[-1].startswith("config mismatch")
    if remedy_has is not None:
        assert out.remedy is not None and remedy_has in out.remedy.text
