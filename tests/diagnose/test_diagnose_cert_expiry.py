"""Expired-certificate evidence: the stats expiry gauge vs probe.json's start_time, and the rule using it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent.bundle.read import load_bundle
from agent.bundle.to_input import build_input, diagnose_bundle

BUNDLES = Path(__file__).parent.parent / "testdata" / "bundles"


@pytest.mark.parametrize(
    ("name", "expired"),
    [
        pytest.param("expired_client_cert_to_strict", (("client", "default"),), id="client-cert-expired"),
        pytest.param("expired_server_cert", (("server", "default"),), id="server-cert-expired"),
        pytest.param("mtls_to_strict", (), id="healthy-no-expired-cert"),
    ],
)
def test_expired_certs_from_stats(name: str, expired: tuple[tuple[str, str], ...]) -> None:
    assert build_input(load_bundle(BUNDLES / name)).expired_certs == expired


@pytest.mark.parametrize(
    ("start_time", "verdict"),
    [
        pytest.param(None, "tls_cert_expired", id="as-captured"),
        pytest.param("2020-01-01T00:00:00Z", "tls_client_cert_rejected", id="probe-before-expiry"),
        pytest.param("not a time", "tls_client_cert_rejected", id="unreadable-start-time"),
    ],
)
def test_client_cert_expiry_decides(tmp_path: Path, start_time: str | None, verdict: str) -> None:
    bundle = tmp_path / "b"
    shutil.copytree(BUNDLES / "expired_client_cert_to_strict", bundle)
    if start_time is not None:
        probe = (bundle / "probe.json").read_text()
        old = probe.split('"start_time": "', 1)[1].split('"', 1)[0]
        (bundle / "probe.json").write_text(probe.replace(old, start_time))
    assert diagnose_bundle(load_bundle(bundle)).verdict.value == verdict
