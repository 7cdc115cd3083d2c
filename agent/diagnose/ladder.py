"""The ordered decision ladder: evidence (DiagnoseInput) -> Diagnosis. Pure, no I/O.

Rungs, first match wins:
1. the probe itself could not run (no exit code, curl missing) -> probe_failed
2. curl failed before any HTTP response -> by curl exit code (DNS, timeout, refused, TLS, reset)
3. the expected status arrived -> ok
4. policy denials and Envoy's own decisions (RBAC body, NR/NC, BlackHoleCluster, UO, UH, UT, UPE, ...)
5. transport failures (UF/UC/UR/URX, "upstream connect error" replies) -> transport.py
6. any other status: relayed from the app -> app_error (>= 400) / unexpected_status
Then the cross-check rules (rules/) sharpen or soften the finding, and remedy.py words the fix.
"""

from __future__ import annotations

from dataclasses import replace

from agent.diagnose import catalog, curl_rungs
from agent.diagnose.finding import Finding
from agent.diagnose.inputs import DiagnoseInput
from agent.diagnose.remedy import to_diagnosis
from agent.diagnose.rules import FINAL_RULES, RULES
from agent.diagnose.signals import Signals, derive
from agent.diagnose.transport import analyse
from agent.envoy.log_tokens import split_details
from agent.model import Confidence, Diagnosis, Verdict
from agent.probe.curl_exit import describe_exit

H, M, L = Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW

_FLAG_SUMMARY: dict[Verdict, str] = {
    Verdict.NO_ROUTE: "The client sidecar has no route (or no cluster) for this host and port.",
    Verdict.RBAC_DENIED: "An authorization policy denied the request.",
    Verdict.CIRCUIT_BREAKER_OVERFLOW: "A connection-pool (circuit breaker) limit was hit; Envoy shed the request.",
    Verdict.NO_HEALTHY_UPSTREAM: "The upstream cluster has no healthy endpoints.",
    Verdict.UPSTREAM_REQUEST_TIMEOUT: "The upstream did not answer within the route timeout.",
    Verdict.UPSTREAM_PROTOCOL_ERROR: "The upstream spoke a different protocol than the port declares.",
    Verdict.DNS_FAILURE: "Envoy could not resolve the upstream host.",
}

# Envoy local-reply kinds (agent.envoy.local_replies) that name their cause; others fall to the status.
_KIND_VERDICTS: dict[str, Verdict] = {
    "no_healthy_upstream": Verdict.NO_HEALTHY_UPSTREAM,
    "upstream_request_timeout": Verdict.UPSTREAM_REQUEST_TIMEOUT,
    "upstream_max_stream_duration": Verdict.UPSTREAM_REQUEST_TIMEOUT,
    "stream_idle_timeout": Verdict.UPSTREAM_REQUEST_TIMEOUT,
    "rbac_denied": Verdict.RBAC_DENIED,
    "jwt_denied": Verdict.RBAC_DENIED,  # RequestAuthentication / JWT rules: a policy denial too
}

_TRANSPORT_FLAGS = {"UF", "UC", "UR", "LR", "URX", "NFCF"}


def _facts(inp: DiagnoseInput, sig: Signals) -> list[str]:
    """The basic observations every diagnosis lists first."""
    ev: list[str] = []
    c = inp.curl
    if c.exit_code:
        # curl's own message when it printed one; else what the code means (e.g. a bundle from `curl -s`).
        ev.append(
            f"curl exit {c.exit_code}: {c.error}" if c.error else f"curl exit {describe_exit(c.exit_code)}"
        )
    if sig.status is not None:
        ev.append(f"HTTP {sig.status} (expected {inp.expected_status})")
        if sig.status_from_log:
            what = "curl printed no status" if inp.curl_present else "no curl output was recorded"
            ev.append(f"{what}; the status is the sidecar's logged response code")
    ev.extend(inp.match_notes)
    if sig.flags:
        ev.append(f"client sidecar response flags {','.join(sig.flags)}")
    if sig.server_flags:
        ev.append(f"server sidecar response flags {','.join(sig.server_flags)}")
    if sig.details_raw and sig.details != "via upstream":
        # The TLS part of the details is repeated below as the transport failure reason.
        parts = split_details(sig.details_raw)
        shown = f"{parts[0]}{{{parts[1]}}}" if parts and parts[2] else sig.details_raw
        ev.append(f"response code details: {shown}")
    if sig.local_reply is not None:
        ev.append(f"Envoy local reply body: {c.body.strip()[:200]}")
    if sig.transport_failure:
        ev.append(f"upstream transport failure reason: {sig.transport_failure}")
    if sig.server_transport_failure:
        ev.append(f"server sidecar upstream transport failure reason: {sig.server_transport_failure}")
    return ev


def _policy_rung(inp: DiagnoseInput, sig: Signals, ev: list[str]) -> Finding | None:
    body = inp.curl.body.lower()
    server_details = (inp.server_entry.response_code_details or "").lower() if inp.server_entry else ""
    if sig.status == 403 and ("rbac" in body or "rbac" in sig.details or "rbac" in server_details):
        return Finding(Verdict.RBAC_DENIED, H, _FLAG_SUMMARY[Verdict.RBAC_DENIED], tuple(ev))
    entry = inp.client_entry
    if entry is not None and (
        (entry.upstream_cluster or "").startswith("BlackHoleCluster") or entry.route_name == "block_all"
    ):
        ev.append(f"upstream cluster {entry.upstream_cluster} (outboundTrafficPolicy REGISTRY_ONLY)")
        return Finding(
            Verdict.BLACKHOLE, H, "The client sidecar sent the request to BlackHoleCluster.", tuple(ev)
        )
    # Client flags first (the sidecar we probe through), then server flags for relayed replies.
    for flags in (sig.flags, sig.server_flags if sig.relayed or not sig.flags else ()):
        for flag, handling in catalog.FLAG_VERDICTS.items():
            if flag in flags and isinstance(handling, Verdict):
                return Finding(handling, H, _FLAG_SUMMARY[handling], tuple(ev))
    return None


def _body_rung(inp: DiagnoseInput, sig: Signals, ev: list[str]) -> Finding | None:
    """No access log: read Envoy's local-reply body and how the reply looks."""
    lr = sig.local_reply
    text = inp.curl.body.strip().lower()
    verdict = _KIND_VERDICTS.get(lr.kind) if lr is not None else None
    if verdict is None and text.startswith("rbac: access denied"):
        verdict = Verdict.RBAC_DENIED
    if verdict is not None:
        return Finding(verdict, M if sig.flags == () else H, _FLAG_SUMMARY[verdict], tuple(ev))
    if lr is not None and "overflow" in (sig.reset_reason or ""):
        return Finding(
            Verdict.CIRCUIT_BREAKER_OVERFLOW, H, _FLAG_SUMMARY[Verdict.CIRCUIT_BREAKER_OVERFLOW], tuple(ev)
        )
    local = sig.envoy_seen and not sig.relayed and lr is None and not text
    if local and sig.status == 404:
        ev.append("empty 404 generated by the client sidecar itself (no upstream service time)")
        return Finding(Verdict.NO_ROUTE, M, _FLAG_SUMMARY[Verdict.NO_ROUTE], tuple(ev))
    if sig.status == 502 and "direct response" in sig.details and not sig.relayed:
        ev.append("the client sidecar answered 502 itself from a direct_response route (Istio's block_all)")
        return Finding(
            Verdict.BLACKHOLE, M, "The client sidecar blocked the host (REGISTRY_ONLY).", tuple(ev)
        )
    if local and sig.status == 502 and not sig.flags:
        ev.append("empty 502 generated by the client sidecar itself, no upstream answered")
        return Finding(Verdict.BLACKHOLE, L, "The request was likely sent to BlackHoleCluster.", tuple(ev))
    return None


def _got(status: int | None) -> str:
    return f"Got HTTP {status}" if status is not None else "Got no HTTP status"


def _status_rung(inp: DiagnoseInput, sig: Signals, ev: list[str]) -> Finding:
    status = sig.status
    if sig.local_reply is not None:
        # Envoy wrote this body (either sidecar): not the app's answer, whatever the status.
        ev.append(f"Envoy local reply of kind {sig.local_reply.kind}")
        summary = (
            f"{_got(status)} generated by Envoy ({sig.local_reply.kind}), expected {inp.expected_status}."
        )
        return Finding(Verdict.UNEXPECTED_STATUS, M, summary, tuple(ev))
    if status is not None and status >= 400:
        src = "relayed from the application" if sig.relayed else "no Envoy local reply"
        ev.append(f"the response was {src}")
        conf = H if sig.relayed else M
        return Finding(Verdict.APP_ERROR, conf, f"The application answered HTTP {status}.", tuple(ev))
    return Finding(
        Verdict.UNEXPECTED_STATUS,
        M,
        f"{_got(status)}, expected {inp.expected_status}.",
        tuple(ev),
    )


def find(inp: DiagnoseInput, sig: Signals) -> Finding:
    """Rungs 1-6: the raw finding before cross-checks (`sig` = `derive(inp)`, computed once by classify)."""
    ev = _facts(inp, sig)
    early = curl_rungs.curl_rung(inp, sig, ev)
    if early is not None:
        return early
    if sig.status == inp.expected_status:
        return Finding(Verdict.OK, H, f"Got the expected HTTP {sig.status}.", tuple(ev))
    found = _policy_rung(inp, sig, ev)
    if found is not None:
        return found
    transportish = bool(_TRANSPORT_FLAGS & set(sig.flags)) or (
        sig.local_reply is not None
        and (sig.reset_reason is not None or sig.local_reply.kind == "upstream_reset_before_headers")
    )
    if not transportish:
        found = _body_rung(inp, sig, ev)
        if found is not None:
            return found
    if transportish or (sig.relayed and _TRANSPORT_FLAGS & set(sig.server_flags) - {"URX"}):
        server_failed = bool({"UF", "UC", "UR"} & set(sig.server_flags))
        if sig.flags == ("URX",) and sig.relayed and sig.local_reply is None and not server_failed:
            return _status_rung(inp, sig, ev)  # retries on an app's 503 ran out: still the app's answer
        return analyse(inp, sig, ev)
    return _status_rung(inp, sig, ev)


def classify(inp: DiagnoseInput, *, relayed: bool = False) -> Diagnosis:
    """The whole ladder: raw finding, cross-check rules in order, then wording and remedy.

    `relayed`: the reply is known to come from the server side (an inbound access-log line judged on
    its own by `meshprober explain`), whatever the evidence itself shows."""
    sig = derive(inp)
    if relayed:
        sig = replace(sig, relayed=True)
    finding = find(inp, sig)
    for rule in RULES:
        finding = rule(inp, sig, finding)
    diagnosis = to_diagnosis(inp, sig, finding)
    for final in FINAL_RULES:
        diagnosis = final(inp, diagnosis)
    return diagnosis
