"""Judge one detected item with the classifier ladder (agent/diagnose), as if it were a probe's evidence.

Pure, no I/O. An access-log line becomes a DiagnoseInput whose "curl" saw exactly what the sidecar
logged (its status, no body) and whose client line is the line itself; a line from a sidecar's
*inbound* side (cluster `inbound|...` / `InboundPassthroughCluster`) is judged as a reply relayed
from the server side, because that sidecar's upstream is the app on its own pod. A local-reply body
is judged from the body alone (no status is invented), a curl transcript as a probe's output. What
the vocabulary lacks a ladder rung for (TCP `filter_chain_not_found`, ztunnel) is judged here.
"""

from __future__ import annotations

from dataclasses import replace

from agent.diagnose.inputs import DiagnoseInput
from agent.diagnose.ladder import classify
from agent.diagnose.remedy import REMEDY_TEXT
from agent.diagnose.rules.repeatability import AGAIN, NOT_AGAIN
from agent.evidence import AccessLogEntry, CurlResult
from agent.explain.detect import Item
from agent.explain.repeats import Repeat
from agent.explain.ztunnel import judge_ztunnel
from agent.model import Confidence, Diagnosis, Remedy, Verdict

# Flags that mark no failure (fault-injection delay, served from cache).
_INFORMATIONAL = {"DI", "RFCF"}
_NO_STATUS = 0  # "expected" status for a log line: none is known, and 0 never matches a real one
_TLS_PORTS = {443, 8443}  # where a gateway terminates TLS itself


def _is_inbound(entry: AccessLogEntry) -> bool:
    cluster = entry.upstream_cluster or ""
    return cluster.startswith("inbound|") or cluster.startswith("InboundPassthroughCluster")


def _healthy(entry: AccessLogEntry) -> bool:
    if set(entry.response_flags) - _INFORMATIONAL:
        return False
    if "upstream_reset" in (entry.response_code_details or ""):
        return False
    code = entry.response_code
    return code is not None and (code == 0 or 100 <= code < 400)


def _ok(entry: AccessLogEntry) -> Diagnosis:
    what = f"HTTP {entry.response_code}" if entry.response_code else "the connection"
    return Diagnosis(
        Verdict.OK,
        Confidence.HIGH,
        f"The sidecar logged {what} with no failure flag.",
        http_status=entry.response_code or None,
        evidence=(f"response code {entry.response_code}, response flags -",),
    )


def _ladder(inp: DiagnoseInput, relayed: bool) -> Diagnosis:
    """agent.diagnose.classify, except that an inbound line's reply is known to come from the server side."""
    return classify(inp, relayed=relayed)


def _without_expectation(d: Diagnosis) -> Diagnosis:
    """A log line has no expected status: drop the ladder's "(expected 0)" wording."""
    ev = tuple(e.replace(f" (expected {_NO_STATUS})", " logged") for e in d.evidence)
    return replace(d, summary=d.summary.replace(f", expected {_NO_STATUS}", ""), evidence=ev)


def _filter_chain_not_found(entry: AccessLogEntry) -> Diagnosis:
    local = entry.downstream_local_address or ""
    port = local.rsplit(":", 1)[-1]
    ev = (
        "TCP line: response flags NR, details filter_chain_not_found",
        f"no filter chain of the listener at {local or 'an unknown address'} matched the connection",
    )
    if port.isdigit() and int(port) in _TLS_PORTS:
        return Diagnosis(
            Verdict.TLS_HANDSHAKE_FAILED,
            Confidence.LOW,
            "No filter chain matched the connection: on a gateway's TLS port that is a TLS client whose SNI "
            "no Gateway server host matches (or plaintext to a TLS-only port).",
            evidence=(*ev, f"port {port} is a typical gateway TLS port"),
            remedy=Remedy("Compare the client's SNI with the Gateway's `hosts` for this port (a wildcard "
                          "host accepts any SNI), and check the credential is in place."),
        )  # fmt: skip
    return Diagnosis(
        Verdict.PLAINTEXT_CLIENT_REJECTED,
        Confidence.MEDIUM,
        "A plaintext connection reached a port that only accepts Istio mTLS (STRICT): the server's "
        "sidecar matched no filter chain and closed it.",
        evidence=(*ev, "one line cannot tell a client without a sidecar from a client sidecar that sends "
                       "plaintext (DestinationRule tls DISABLE)"),
        remedy=Remedy(REMEDY_TEXT[Verdict.PLAINTEXT_CLIENT_REJECTED]),
    )  # fmt: skip


def _reworded(d: Diagnosis, repeat: Repeat | None) -> Diagnosis:
    """The repeatability rule speaks of a second probe; here the repeat is other lines of the input."""
    if repeat is None:
        return d
    ev = tuple(repeat.note if e in (AGAIN, NOT_AGAIN) else e for e in d.evidence)
    return replace(d, evidence=ev)


def judge_entry(
    item: Item, entry: AccessLogEntry, tunnel: AccessLogEntry | None = None, repeat: Repeat | None = None
) -> Diagnosis:
    if "filter_chain_not_found" in (entry.response_code_details or ""):
        return _filter_chain_not_found(entry)
    if _healthy(entry) and tunnel is None:
        return _ok(entry)
    extra: list[str] = []
    if tunnel is not None and tunnel.upstream_transport_failure_reason:
        # The tunnel line's failure reason is the cause; the HTTP line's own is the internal hop's.
        own = entry.upstream_transport_failure_reason
        entry = replace(entry, upstream_transport_failure_reason=tunnel.upstream_transport_failure_reason)
        extra.append(f"the HBONE tunnel to {tunnel.upstream_host or 'the peer'} failed with "
                     f"{tunnel.upstream_transport_failure_reason}"
                     + (f" (the HTTP line itself recorded {own})" if own else ""))  # fmt: skip
    code = entry.response_code or None
    inp = DiagnoseInput(
        curl=CurlResult(exit_code=0, http_status=code),
        expected_status=_NO_STATUS,
        client_entry=entry,
        client_log_present=True,
        repeatable=repeat.repeatable if repeat is not None else None,
    )
    d = _reworded(_without_expectation(_ladder(inp, relayed=_is_inbound(entry))), repeat)
    if item.kind == "hbone_log":
        peer = entry.upstream_host or "the peer"
        extra.append(f"HBONE tunnel line (connect_originate) to {peer}: port 15008 is where the peer's "
                     "ztunnel or waypoint accepts HBONE")  # fmt: skip
        if d.verdict is Verdict.UPSTREAM_CONNECTION_REFUSED:
            d = replace(d, summary=f"The client sidecar's HBONE tunnel to {peer} was refused: nothing accepts "
                                   "HBONE there (no ztunnel or waypoint for that destination, or it is down).")  # fmt: skip
    if _is_inbound(entry):
        extra.append(
            f"logged on the server's inbound side ({entry.upstream_cluster}): its upstream is the app"
        )
    return replace(d, evidence=(*d.evidence, *extra)) if extra else d


def judge(item: Item, tunnel: Item | None = None, repeat: Repeat | None = None) -> Diagnosis:
    """The diagnosis of one item (`tunnel`: the HBONE tunnel line joined to an HTTP line; `repeat`:
    what other lines of the input say about the same upstream)."""
    if item.entry is not None:
        return judge_entry(item, item.entry, tunnel.entry if tunnel is not None else None, repeat)
    if item.ztunnel is not None:
        verdict, conf, summary, ev = judge_ztunnel(item.ztunnel)
        remedy = None if verdict is Verdict.OK else Remedy(REMEDY_TEXT[verdict])
        return Diagnosis(verdict, conf, summary, evidence=tuple(ev), remedy=remedy)
    if item.curl is not None:
        status = item.curl.http_status
        expected = status if status is not None and status < 400 else 200
        return _ladder(DiagnoseInput(curl=item.curl, expected_status=expected), relayed=False)
    # A local-reply body alone: no status is known, and none is made up.
    inp = DiagnoseInput(curl=CurlResult(exit_code=0, body=item.text), expected_status=_NO_STATUS)
    return _without_expectation(_ladder(inp, relayed=False))
