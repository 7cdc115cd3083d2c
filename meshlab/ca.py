"""Lab certificate authority: issues SPIFFE workload certificates for the lab's Envoy sidecars.

Generates EC P-256 keys and short-lived X.509 certs with a URI SAN
`spiffe://cluster.local/ns/NS/sa/SA`, plus knobs for broken certs (other CA, wrong SAN,
expired). Writes PEM files into a state dir; private keys are 0600 and must never be copied
into evidence bundles. Does no network or process I/O.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from agent.istio.client_tls import spiffe_id


@dataclass(frozen=True)
class CertFiles:
    """Paths of one workload's cert chain, key and the root it should trust."""

    cert_chain: Path
    private_key: Path
    root_cert: Path


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def write_private(path: Path, data: bytes) -> None:
    # Create with 0600 from the start so the key is never world-readable, even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def self_signed_root(
    key: ec.EllipticCurvePrivateKey,
    subject: x509.Name,
    not_before: dt.datetime,
    not_after: dt.datetime,
    *,
    path_length: int | None = None,
) -> x509.Certificate:
    """A self-signed CA certificate (cert and CRL signing) for `key`; shared by the mesh and API-server CAs."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )


class LabCA:
    """A self-signed root that signs workload certificates."""

    def __init__(self, name: str = "meshprober lab root") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, name)])
        now = _now()
        self.cert = self_signed_root(
            self.key, subject, now - dt.timedelta(minutes=5), now + dt.timedelta(days=2)
        )

    def root_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        uri_san: str,
        *,
        expired: bool = False,
        validity: dt.timedelta = dt.timedelta(hours=12),
    ) -> tuple[bytes, bytes]:
        """Return (cert PEM, key PEM) for a workload with the given SPIFFE URI SAN."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        if expired:
            not_before, not_after = now - dt.timedelta(days=2), now - dt.timedelta(days=1)
        else:
            not_before, not_after = now - dt.timedelta(minutes=5), now + validity
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))  # Istio workload certs carry an empty subject
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(
                x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri_san)]), critical=True
            )
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return cert.public_bytes(serialization.Encoding.PEM), key_pem

    def write_workload(
        self,
        directory: Path,
        namespace: str,
        service_account: str,
        *,
        signer: LabCA | None = None,
        san: str | None = None,
        expired: bool = False,
        trust_domain: str = "cluster.local",
    ) -> CertFiles:
        """Issue and write a workload's certs; the root written is always THIS CA (the mesh trust root).

        `signer` (another CA) makes the cert untrusted, `san` overrides the identity, `expired`
        back-dates it: the scenario knobs for broken certificates.
        """
        directory.mkdir(parents=True, exist_ok=True)
        uri = san if san is not None else spiffe_id(namespace, service_account, trust_domain)
        cert_pem, key_pem = (signer or self).issue(uri, expired=expired)
        files = CertFiles(directory / "cert-chain.pem", directory / "key.pem", directory / "root-cert.pem")
        files.cert_chain.write_bytes(cert_pem)
        write_private(files.private_key, key_pem)
        files.root_cert.write_bytes(self.root_pem())
        return files
