"""The lab CA issues SPIFFE workload certs, and its knobs break them in the intended way."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec

from agent.istio.client_tls import spiffe_id
from meshlab.ca import LabCA

MESH_ROOT = LabCA()
OTHER_ROOT = LabCA("other")


def issued_by(cert: x509.Certificate, ca: LabCA) -> bool:
    try:
        cert.verify_directly_issued_by(ca.cert)
    except (ValueError, TypeError, InvalidSignature):  # any failure means "not this issuer"
        return False
    return True


@pytest.mark.parametrize(
    ("knobs", "san", "trusted", "valid_now"),
    [
        pytest.param({}, "spiffe://cluster.local/ns/bookinfo/sa/productpage", True, True, id="healthy"),
        pytest.param(
            {"signer": OTHER_ROOT},
            "spiffe://cluster.local/ns/bookinfo/sa/productpage",
            False,
            True,
            id="other-ca",
        ),
        pytest.param(
            {"san": "spiffe://cluster.local/ns/bookinfo/sa/other"},
            "spiffe://cluster.local/ns/bookinfo/sa/other",
            True,
            True,
            id="wrong-san",
        ),
        pytest.param(
            {"expired": True}, "spiffe://cluster.local/ns/bookinfo/sa/productpage", True, False, id="expired"
        ),
    ],
)
def test_workload_cert(
    tmp_path: Path, knobs: dict[str, object], san: str, trusted: bool, valid_now: bool
) -> None:
    files = MESH_ROOT.write_workload(tmp_path, "bookinfo", "productpage", **knobs)  # type: ignore[arg-type]
    cert = x509.load_pem_x509_certificate(files.cert_chain.read_bytes())
    uris = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.UniformResourceIdentifier
    )
    assert uris == [san]
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    assert issued_by(cert, MESH_ROOT) is trusted
    now = dt.datetime.now(dt.UTC)
    assert (cert.not_valid_before_utc <= now <= cert.not_valid_after_utc) is valid_now
    # The root written next to the cert is always the mesh root (what the sidecar trusts).
    assert files.root_cert.read_bytes() == MESH_ROOT.root_pem()
    assert stat.S_IMODE(files.private_key.stat().st_mode) == 0o600


def test_spiffe_id() -> None:
    assert spiffe_id("ns1", "sa1") == "spiffe://cluster.local/ns/ns1/sa/sa1"
