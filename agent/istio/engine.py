"""PolicyEngine: for a client and a host:port, which DR and PA are in force and do they conflict.

Builds the index once from raw Kubernetes/Istio objects (see parse.parse_objects), then answers
tls-check questions as PolicyView rows. Pure: no I/O; bad questions raise InputError.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from agent.errors import InputError
from agent.evidence import PolicyView
from agent.istio import client_tls as ct
from agent.istio import peer_authn, remedy, verdict
from agent.istio.dr_resolution import ConsolidatedRule, DestinationRuleIndex, canonical_host, display_host
from agent.istio.mesh import DEFAULT_CLUSTER_DOMAIN, cluster_domain_of
from agent.istio.parse import parse_objects
from agent.istio.peer_authn import ServerModeDecision
from agent.istio.resources import PeerAuthentication, Pod, Resources, Service, ServicePort
from agent.istio.topology import Topology
from agent.istio.traffic_policy import effective_policy, endpoint_marking_mode


class PolicyEngine(Topology):
    """The tls-check questions over one set of resources (index built once)."""

    def __init__(
        self,
        objects: Iterable[Mapping[str, Any]],
        cluster_domain: str | None = None,
        resources: Resources | None = None,
    ) -> None:
        """`cluster_domain`: the cluster's DNS domain when configured; else the injected sidecars'
        `--domain` argument says it, else cluster.local. `resources`: `objects` already parsed
        (agent.istio.parse_memo); else they are parsed here."""
        items = [dict(o) if isinstance(o, Mapping) else o for o in objects]
        res = resources if resources is not None else parse_objects(items)
        domain = cluster_domain or cluster_domain_of(items) or DEFAULT_CLUSTER_DOMAIN
        res = replace(res, mesh=replace(res.mesh, cluster_domain=domain))
        self.resources = res
        self.cluster_domain = domain
        self.notes: list[str] = list(res.notes)
        self.mesh = res.mesh
        self.root = res.mesh.root_namespace
        self.legacy = bool(res.legacy_policies) and not res.peer_authentications
        if not res.legacy_policies and not res.peer_authentications and _pre_tls_mode_label(res.pods):
            # istio-proxy containers but no pod with the injector's tlsMode label (added in 1.4) and no policy
            # objects at all: a <=1.3 mesh, where no policy meant plaintext and auto mTLS did not exist.
            self.legacy = True
            self.notes.append(
                "no pod carries the security.istio.io/tlsMode label and there are no PeerAuthentications: "
                "judged as a pre-1.4 mesh (no authentication policy = plaintext server, auto mTLS off unless "
                "the mesh config sets enableAutoMtls)"
            )
        if res.legacy_policies and res.peer_authentications:
            self.notes.append(
                "both PeerAuthentication and legacy authentication.istio.io Policy objects found; "
                "the legacy ones are ignored"
            )
        self.notes.extend(_duplicate_levels(res.peer_authentications, self.root))
        auto = res.mesh.enable_auto_mtls
        # Unset: on (DefaultMeshConfig); in a legacy-only (<=1.5) world it was off by default.
        self.auto_mtls = (not self.legacy) if auto is None else auto
        self.index = DestinationRuleIndex(res.destination_rules, res.mesh)
        super().__init__(res, self.legacy)

    # -- server side ---------------------------------------------------------------------
    def server_mode(
        self, namespace: str, pod_labels: Mapping[str, str], target_port: int
    ) -> ServerModeDecision:
        if self.legacy:
            return peer_authn.legacy_mode(self.resources.legacy_policies, namespace, None, None)
        return peer_authn.compose(
            self.resources.peer_authentications, self.root, namespace, pod_labels, target_port
        )

    def _server(self, svc: Service, sport: ServicePort, pod: Pod) -> ServerModeDecision:
        if not self._sidecar(pod):
            return ServerModeDecision("NONE", None, f"pod {pod.name} has no sidecar: plaintext only")
        if self.legacy:
            return peer_authn.legacy_mode(self.resources.legacy_policies, svc.namespace, svc, sport.port)
        tport = self.target_port(sport, pod)
        return peer_authn.compose(
            self.resources.peer_authentications, self.root, svc.namespace, pod.labels, tport
        )

    def _namespace_mode(self, namespace: str) -> str:
        if self.legacy:
            return peer_authn.legacy_mode(self.resources.legacy_policies, namespace, None, None).mode
        return peer_authn.namespace_mode(self.resources.peer_authentications, self.root, namespace)

    def _service_mtls_mode(self, svc: Service, port: int, policy: Mapping[str, Any], eps: list[Pod]) -> str:
        """BestEffortInferServiceMTLSMode (legacy: the v1alpha1 policy of the service port, as 1.4 did)."""
        if self.legacy:
            return peer_authn.legacy_mode(self.resources.legacy_policies, svc.namespace, svc, port).mode
        passthrough = svc.headless or (policy.get("loadBalancer") or {}).get("simple") == "PASSTHROUGH"
        # "any endpoint with tlsMode disabled": the injector's label, not the proxy container, is read here.
        if passthrough and (not eps or any(not p.has_sidecar for p in eps)):
            return "DISABLE"
        mode = self._namespace_mode(svc.namespace)
        return "PERMISSIVE" if mode == "UNKNOWN" else mode

    # -- client side ---------------------------------------------------------------------
    def _port(self, svc: Service, port: int) -> ServicePort:
        for sp in svc.ports:
            if sp.port == port:
                return sp
        known = ", ".join(str(p.port) for p in svc.ports) or "none"
        raise InputError(f"service {svc.fqdn} has no port {port} (ports: {known})")

    def client_tls(
        self,
        client_namespace: str,
        client_labels: Mapping[str, str],
        service_fqdn: str,
        port: int,
        subset: str | None = None,
    ) -> ct.ClientTlsDecision:
        svc = self.find_service(client_namespace, service_fqdn)
        sport = self._port(svc, port)
        resolution = self.index.resolve(client_namespace, client_labels, svc.fqdn, svc.namespace)
        rule = resolution.rule
        policy, tls_from = effective_policy(rule, port, subset)
        eps = self.endpoints(svc)
        mode, source, auto, why = ct.decide(
            tls=policy.get("tls"),
            auto_enabled=self.auto_mtls,
            mesh_external=svc.external_name is not None,  # kube ExternalName is MESH_EXTERNAL
            service_mtls_mode=self._service_mtls_mode(svc, port, _lb_policy(rule, subset), eps),
        )
        dr_mode = endpoint_marking_mode(rule, port, subset)
        original_dst = svc.headless or (policy.get("loadBalancer") or {}).get("simple") == "PASSTHROUGH"
        if auto and original_dst:
            # ORIGINAL_DST hosts carry no EDS metadata, so Istio renders auto mTLS there as a plain TLS
            # transport_socket: mTLS to every endpoint (the service inference above already fell back to
            # plaintext when any endpoint lacks a sidecar).
            auto = False
            why = (
                "no DR tls: auto mTLS on a passthrough (ORIGINAL_DST) cluster is a plain ISTIO_MUTUAL "
                "transport socket, so every endpoint gets mTLS whatever its workload PeerAuthentication"
            )

        def marked(pod: Any) -> str | None:
            p = self._as_pod(pod, svc.namespace)
            if p is None or not p.has_sidecar:
                return None
            # mtls_checker.checkMtlsEnabled: a DR tls mode for this port decides alone (ISTIO_MUTUAL marks every
            # labelled endpoint, whatever its PeerAuthentication); without one the endpoint's PA decides.
            if dr_mode is not None:
                return "istio" if dr_mode == "ISTIO_MUTUAL" else None
            if self._server(svc, sport, p).mode == "DISABLE":
                return None
            return "istio"

        tls = policy.get("tls") or {}
        sni = tls.get("sni") or (ct.default_sni(port, subset, svc.fqdn) if mode == "ISTIO_MUTUAL" else None)
        sans = tuple(tls.get("subjectAltNames") or ())
        if not sans and mode == "ISTIO_MUTUAL":
            accounts = sorted({p.service_account for p in eps})
            sans = tuple(ct.spiffe_id(svc.namespace, sa, self.mesh.trust_domain) for sa in accounts)
        steps = list(resolution.steps)
        if tls_from == "port":
            steps.append(f"portLevelSettings for service port {port} replace the top-level traffic policy")
        steps.append(why)
        if auto and dr_mode is not None and dr_mode != "ISTIO_MUTUAL":
            steps.append(
                f"but Istio marks endpoints for auto mTLS from the DR's tls mode {dr_mode} (the matching port "
                "entry has no tls), so no endpoint is marked and the client sends plaintext (an Istio gap)"
            )
        if auto and dr_mode == "ISTIO_MUTUAL" and tls_from in ("port", "subset-port"):
            steps.append(
                "Istio marks endpoints for auto mTLS from the DR's tls mode ISTIO_MUTUAL, so every endpoint with a "
                "sidecar gets mTLS whatever its PeerAuthentication (an Istio gap)"
            )
        return ct.ClientTlsDecision(
            mode=mode,
            source=source,
            auto=auto,
            destination_rule=rule.ref if rule else None,
            destination_rule_api_version=rule.first.api_version if rule else None,
            tls_from=tls_from,
            sni=sni,
            subject_alt_names=sans,
            traffic_policy=policy,
            explanation="; ".join(steps),
            _endpoint_tls=marked,
        )

    # -- verdicts --------------------------------------------------------------------------
    def check(
        self, client_namespace: str, client_pod: str | None, host: str, port: int, subset: str | None = None
    ) -> PolicyView:
        """The tls-check row for client -> host:port; with `subset`, for the subset cluster
        `outbound|port|subset|host` a VirtualService routed to (its endpoints, its TLS). Hosts are
        read and written in the cluster's own domain."""
        view = self._check(
            client_namespace,
            client_pod,
            canonical_host(host, self.cluster_domain, foreign=False),
            port,
            subset,
        )
        if self.cluster_domain == DEFAULT_CLUSTER_DOMAIN:
            return view

        def shown(text: str | None) -> str | None:
            return display_host(text, self.cluster_domain) if text else text

        return replace(
            view,
            host=display_host(view.host, self.cluster_domain),
            explanation=display_host(view.explanation, self.cluster_domain),
            symptom=shown(view.symptom),
            remedy_text=shown(view.remedy_text),
        )

    def _check(
        self, client_namespace: str, client_pod: str | None, host: str, port: int, subset: str | None
    ) -> PolicyView:
        client = self.find_client(client_namespace, client_pod)
        svc = self.find_service(client_namespace, host)
        sport = self._port(svc, port)
        who = (
            f"client {client_namespace}/{client.name}"
            if client_pod
            else f"a sidecar client in {client_namespace}"
        )
        eps = self.endpoints(svc)
        if subset is not None:
            eps = self._subset_members(client, svc, subset, eps)
        assumed = not eps
        if assumed:
            eps = [
                Pod(
                    svc.namespace,
                    "(no pods found)",
                    dict(svc.selector),
                    from_template=True,
                    assume_sidecar=True,
                )
            ]
        if not self._sidecar(client):
            decision = ct.ClientTlsDecision(
                "DISABLE", "default", False, explanation=f"{who} has no sidecar: it sends plaintext"
            )
        else:
            decision = self.client_tls(client_namespace, client.labels, svc.fqdn, port, subset)
        rows = []
        for ep in eps:
            server = self._server(svc, sport, ep)
            sent = decision.sends_to(
                decision.endpoint_tls(ep) == "istio"
                or (assumed and decision.auto and server.mode != "DISABLE")
            )
            works, symptom = verdict.evaluate(sent, server.mode, self._sidecar(client))
            rows.append((ep, server, sent, works, symptom))
        bad = [r for r in rows if not r[3]]
        ep, server, sent, _, symptom = (bad or rows)[0]
        words = [f"{who} -> {svc.fqdn}:{port}", decision.explanation]
        if assumed:
            words.append(
                "no pods match the service selector; assumed one sidecar workload with the selector's labels"
            )
        words.append(
            f"server {svc.namespace}/{ep.name} (target port {self.target_port(sport, ep)}): {server.explanation}"
        )
        if len({r[1].mode for r in rows}) > 1 or len({r[2] for r in rows}) > 1:
            words.append(f"{len(bad)} of {len(rows)} endpoints fail")
        if subset is not None:
            words.append(f"subset {subset} (the cluster the request used)")
        elif self._sidecar(client) and not assumed:
            words.extend(self._subset_notes(client, svc, sport, eps))
        view = PolicyView(
            host=svc.fqdn,
            port=port,
            status="CONFLICT" if bad else "OK",
            client_mode=sent,
            client_mode_source=decision.source,
            server_mode=server.mode,
            destination_rule=decision.destination_rule,
            peer_authentication=server.peer_authentication,
            symptom=symptom if bad else None,
            explanation="; ".join(w for w in words if w),
        )
        if not bad:
            return view
        text, patch = self._remedy(client, svc, sport, decision, [r[1].mode for r in rows])
        return PolicyView(**{**view.__dict__, "remedy_text": text, "remedy_patch": patch})

    def _subset_members(self, client: Pod, svc: Service, subset: str, eps: list[Pod]) -> list[Pod]:
        """The endpoints a DestinationRule subset selects (all of them when the subset is unknown)."""
        rule = self.index.resolve(client.namespace, client.labels, svc.fqdn, svc.namespace).rule
        sub = next((s for s in (rule.subsets if rule else []) if s.get("name") == subset), None)
        labels = (sub or {}).get("labels") or {}
        return [p for p in eps if all(p.labels.get(k) == v for k, v in labels.items())]

    def _subset_notes(self, client: Pod, svc: Service, sport: ServicePort, eps: list[Pod]) -> list[str]:
        """Subsets whose own tls would conflict when a VirtualService routes to them (not the default cluster)."""
        rule = self.index.resolve(client.namespace, client.labels, svc.fqdn, svc.namespace).rule
        notes = []
        for sub in rule.subsets if rule else []:
            name = str(sub.get("name"))
            if not (sub.get("trafficPolicy") or {}).get("tls") and not (sub.get("trafficPolicy") or {}).get(
                "portLevelSettings"
            ):
                continue
            labels = sub.get("labels") or {}
            members = [p for p in eps if all(p.labels.get(k) == v for k, v in labels.items())]
            decision = self.client_tls(client.namespace, client.labels, svc.fqdn, sport.port, name)
            for ep in members:
                server = self._server(svc, sport, ep)
                sent = decision.sends_to(decision.endpoint_tls(ep) == "istio")
                if not verdict.evaluate(sent, server.mode)[0]:
                    notes.append(
                        f"subset {name} (only when a VirtualService routes to it): CONFLICT, client {sent} vs server "
                        f"{server.mode} on {ep.name}"
                    )
                    break
        return notes

    def _remedy(
        self,
        client: Pod,
        svc: Service,
        sport: ServicePort,
        decision: ct.ClientTlsDecision,
        servers: list[str],
    ) -> tuple[str, str | None]:
        if not self._sidecar(client):
            return (
                f"The client {client.namespace}/{client.name} has no sidecar and cannot do Istio mTLS: inject a "
                "sidecar, or set the server's PeerAuthentication to PERMISSIVE for this port.",
                None,
            )
        desired = None
        for mode in ("ISTIO_MUTUAL", "DISABLE"):
            if all(verdict.evaluate(mode, s)[0] for s in servers):
                desired = mode
                break
        if desired is None and self.auto_mtls:
            desired = remedy.AUTO
        if desired is None:
            return (
                "Endpoints need different modes (some have sidecars, some not) and auto mTLS is off: enable auto mTLS (meshConfig.enableAutoMtls) or make the endpoints uniform.",
                None,
            )
        resolution = self.index.resolve(client.namespace, client.labels, svc.fqdn, svc.namespace)
        text, patch = remedy.build(
            rule=resolution.rule,
            fqdn=svc.fqdn,
            service_namespace=svc.namespace,
            service_name=svc.name,
            port=sport.port,
            subset=None,
            tls_from=decision.tls_from,
            mode=desired,
            mesh_default_private="." in self.mesh.default_dr_export_to,
            taken=frozenset(d.ref for d in self.resources.destination_rules),
        )
        if decision.source == "auto" and not decision.auto and desired == "ISTIO_MUTUAL":
            text += (
                " Auto mTLS chose plaintext from the service namespace's PeerAuthentication mode; aligning the "
                "workload's PeerAuthentication with its namespace is the other fix."
            )
        return text, patch

    def check_client(self, client_namespace: str, client_pod: str | None) -> list[PolicyView]:
        self.find_client(client_namespace, client_pod)
        out = []
        for fqdn in sorted(self.services):
            svc = self.services[fqdn]
            for sp in sorted(svc.ports, key=lambda p: p.port):
                if sp.protocol in ("TCP", "SCTP"):
                    out.append(self.check(client_namespace, client_pod, fqdn, sp.port))
        return out

    def client_namespaces(self) -> list[str]:
        names = {p.namespace for p in self.resources.pods if self._sidecar(p)}
        names |= {d.namespace for d in self.resources.destination_rules}
        return sorted(names)

    def audit(self) -> list[tuple[str, PolicyView]]:
        return [(ns, view) for ns in self.client_namespaces() for view in self.check_client(ns, None)]


def _lb_policy(rule: ConsolidatedRule | None, subset: str | None) -> Mapping[str, Any]:
    """The traffic policy BestEffortInferServiceMTLSMode looks at for PASSTHROUGH: the DR's top level for the
    default cluster (port entries are not consulted), the subset's own policy for a subset cluster."""
    if rule is None:
        return {}
    if subset is None:
        return rule.traffic_policy or {}
    sub = next((s for s in rule.subsets if s.get("name") == subset), None)
    return (sub or {}).get("trafficPolicy") or {}


def _pre_tls_mode_label(pods: list[Pod]) -> bool:
    real = [p for p in pods if not p.from_template] or pods
    return any(p.has_proxy_container for p in real) and not any(p.has_sidecar for p in real)


def _duplicate_levels(pas: list[PeerAuthentication], root: str) -> list[str]:
    """istiod warns about more than one mesh/namespace-level PA; only the oldest applies."""
    by_ns: dict[str, list[PeerAuthentication]] = {}
    for pa in pas:
        if not pa.selector:
            by_ns.setdefault(pa.namespace, []).append(pa)
    notes = []
    for ns, group in sorted(by_ns.items()):
        if len(group) > 1:
            ordered = sorted(group, key=lambda p: (p.created, p.name, p.namespace))
            level = "mesh-wide" if ns == root else f"namespace {ns}"
            others = ", ".join(p.ref for p in ordered[1:])
            notes.append(
                f"more than one {level} PeerAuthentication: {ordered[0].ref} (oldest) applies, {others} ignored"
            )
    return notes
