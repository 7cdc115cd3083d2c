"""Bring up one golden scenario on real Envoy: a client pod and a server pod on loopback.

Turns a GoldenScenario into SidecarSpecs (the decisions the policy engine would make), issues
certificates, starts apps and sidecars, and points the client's curl at its sidecar via CURL_HOME.
Always stops what it started (use as a context manager).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import TracebackType

from agent.istio.client_tls import spiffe_id
from meshlab.app_server import AppBehaviour
from meshlab.ca import LabCA
from meshlab.processes import Supervisor
from meshlab.sidecar import Endpoint, InboundPort, OutboundService, SidecarSpec
from tools.golden_capture.golden_pod import GoldenPod
from tools.golden_capture.golden_resources import (
    CLIENT_NS,
    CLIENT_POD,
    SERVER_APP,
    SERVER_NS,
    SERVER_POD,
    SERVER_SA,
)
from tools.golden_capture.golden_scenarios import GoldenScenario

SERVICE_PORT = 9080
APP_PORT_BEHIND_SIDECAR = 19080  # the app's own port when a sidecar owns the target port


def curlrc(connect_ip: str, connect_port: int | None, source_ip: str) -> str:
    """A .curlrc that sends every request where iptables would (the sidecar, or the server pod)."""
    target = f"::{connect_ip}:{connect_port}" if connect_port else f"::{connect_ip}:"
    # Values are quoted: unquoted, curl's config parser mangles the colons.
    return f'connect-to = "{target}"\ninterface = "{source_ip}"\n'


class GoldenLab:
    def __init__(self, sc: GoldenScenario, state_dir: Path, subnet: int) -> None:
        if not 0 < subnet < 255:
            raise ValueError(f"subnet {subnet} out of range 1..254")
        self.sc = sc
        self.state_dir = state_dir
        # One supervisor for both pods' Envoys: stop() reaps them all, and they die with this process.
        self.supervisor = Supervisor()
        self.client = GoldenPod(CLIENT_POD, CLIENT_NS, f"127.0.{subnet}.10", state_dir, self.supervisor)
        self.server = GoldenPod(
            SERVER_POD, SERVER_NS, f"127.0.{subnet}.20", state_dir, self.supervisor, SERVER_SA
        )
        self.curl_home = state_dir / "curl-home"

    def outbound_service(self) -> OutboundService:
        sc = self.sc
        endpoints = (
            () if sc.no_endpoints else (Endpoint(self.server.ip, SERVICE_PORT, sc.endpoint_tls_label),)
        )
        sans = (
            sc.subject_alt_names if sc.subject_alt_names is not None else (spiffe_id(SERVER_NS, SERVER_SA),)
        )
        svc = OutboundService(
            name=SERVER_APP,
            namespace=SERVER_NS,
            port=SERVICE_PORT,
            endpoints=endpoints,
            tls_mode=sc.client_tls,
            auto=sc.auto and sc.client_tls == "ISTIO_MUTUAL",
            destination_rule=sc.destination_rule,
            subject_alt_names=sans if sc.client_tls == "ISTIO_MUTUAL" else (),
            traffic_policy=sc.traffic_policy,
            route_timeout_s=sc.route_timeout_s,
        )
        if sc.client_tls in ("SIMPLE", "MUTUAL"):
            svc = replace(svc, ca_cert_path=str(self.client.certs_dir / "root-cert.pem"), sni=svc.default_sni)
        if sc.client_tls == "MUTUAL":
            user = self._user_certs_dir
            svc = replace(
                svc, client_cert_path=str(user / "cert-chain.pem"), client_key_path=str(user / "key.pem")
            )
        return svc

    @property
    def _user_certs_dir(self) -> Path:
        # DR MUTUAL's clientCertificate/privateKey: files mounted into the client pod, not Istio's certs.
        return self.client.certs_dir.parent / "user-certs"

    def client_spec(self) -> SidecarSpec:
        c = self.client
        return SidecarSpec(
            c.name,
            c.namespace,
            c.ip,
            c.service_account,
            c.sidecar_files(),
            outbound=(self.outbound_service(),),
        )

    def server_spec(self) -> SidecarSpec:
        s, sc = self.server, self.sc
        port = InboundPort(SERVICE_PORT, SERVICE_PORT, APP_PORT_BEHIND_SIDECAR, sc.server_mode, sc.rbac_deny)
        return SidecarSpec(s.name, s.namespace, s.ip, s.service_account, s.sidecar_files(), inbound=(port,))

    def _issue_certs(self) -> None:
        ca, sc = LabCA(), self.sc
        ca.write_workload(self.client.certs_dir, CLIENT_NS, "default", expired=sc.client_cert == "expired")
        if sc.client_tls == "MUTUAL":
            signer = LabCA("some other root") if sc.client_cert == "other_ca" else ca
            ca.write_workload(self._user_certs_dir, CLIENT_NS, "default", signer=signer)
        other = LabCA("some other root") if sc.server_cert == "other_ca" else None
        san = spiffe_id(SERVER_NS, "other-sa") if sc.server_cert == "wrong_san" else None
        ca.write_workload(
            self.server.certs_dir,
            SERVER_NS,
            SERVER_SA,
            signer=other,
            san=san,
            expired=sc.server_cert == "expired",
        )

    def start(self) -> None:
        """Start apps and sidecars; returns once they are ready. Call from a thread that outlives the
        lab: Envoys get PR_SET_PDEATHSIG, which fires when the *thread* that started them exits."""
        sc = self.sc
        self._issue_certs()
        if not sc.no_endpoints and sc.app_listening:
            port = APP_PORT_BEHIND_SIDECAR if sc.server_sidecar else SERVICE_PORT
            self.server.start_app(port, sc.app)
        if sc.server_sidecar and not sc.no_endpoints:
            self.server.apply_sidecar(self.server_spec())
        if sc.client_sidecar:
            self.client.apply_sidecar(self.client_spec())
            self.client.wait_ready(expect_listeners=1)
        if sc.server_sidecar and not sc.no_endpoints:
            self.server.wait_ready(expect_listeners=2)
        self.curl_home.mkdir(parents=True, exist_ok=True)
        if sc.client_sidecar:
            rc = curlrc(self.client.ip, 15001, self.client.ip)
        else:
            rc = curlrc(self.server.ip, SERVICE_PORT, self.client.ip)
        (self.curl_home / ".curlrc").write_text(rc)

    def stop(self) -> None:
        self.client.stop()
        self.server.stop()
        self.supervisor.stop_all()

    def __enter__(self) -> GoldenLab:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


__all__ = ["AppBehaviour", "GoldenLab", "curlrc"]
