"""Keep a verdict from one pasted line as sure as one line can make it, and name the check that
would settle it. Pure, no I/O.

A probe diagnosis is sure of an mTLS verdict only when the failure repeats and the client's config
and the server's policy agree (rules/mtls_crosscheck.py, rules/repeatability.py). A pasted line has
neither: it shows the symptom Envoy recorded, not which side's settings caused it. So:
- a TLS-category verdict from one item stays below high;
- a `connection termination` is never read as an mTLS mismatch and stays low, with the reason
  (connection reuse racing an idle timeout looks the same, istio/istio#45802);
and every unhealthy item names the command that would confirm it: `meshprober probe` for the path
(a repeat through the real sidecar, cross-checked with its config) and, for TLS, `tls-check`.
"""

from __future__ import annotations

import re
from dataclasses import replace

from agent.diagnose.remedy import REMEDY_TEXT
from agent.explain.detect import Item
from agent.model import Category, Confidence, Diagnosis, Remedy, Verdict

ONE_LINE = (
    "one line shows what Envoy recorded, not the client's TLS settings and the server's policy that "
    "would prove which side is wrong, nor whether it repeats: confidence stays below high"
)
REUSE = (
    "a lone connection termination can also be a pooled connection the upstream had already closed "
    "(keep-alive / idle timeout, istio/istio#45802); an mTLS mismatch fails every time"
)
# The ladder's advice assumes an evidence bundle; for a pasted line the next step is a probe.
HANDSHAKE_REMEDY = (
    "Compare the client's DestinationRule TLS mode with the server's PeerAuthentication "
    "(`meshprober tls-check`), and probe the path (`meshprober probe`): a repeat through the real sidecar, "
    "checked against its config, tells an mTLS mismatch from connection reuse."
)
_URL = re.compile(r"https?://[^\s\"'<>]+")
_RANK = [Confidence.LOW, Confidence.MEDIUM, Confidence.HIGH]
_MTLS = {Verdict.MTLS_PLAINTEXT_TO_STRICT, Verdict.MTLS_TO_PLAINTEXT_SERVER, Verdict.TLS_HANDSHAKE_FAILED}


def temper(d: Diagnosis) -> Diagnosis:
    ev = list(d.evidence)
    conf = d.confidence
    termination = "termination" in " ".join((d.summary, *ev)).lower() or "UC" in (d.response_flags or "")
    if termination and d.verdict in _MTLS:
        # Only a failure that repeats (other lines, same upstream, same flags) may rise to medium.
        repeated = any("failed the same way" in e for e in ev)
        cap = Confidence.MEDIUM if repeated else Confidence.LOW
        if _RANK.index(conf) > _RANK.index(cap):
            conf = cap
        ev.append(REUSE)
    if d.category is Category.TLS and conf is Confidence.HIGH:
        conf = Confidence.MEDIUM
        ev.append(ONE_LINE)
    remedy = d.remedy
    if remedy is not None and remedy.text == REMEDY_TEXT[Verdict.TLS_HANDSHAKE_FAILED]:
        remedy = Remedy(HANDSHAKE_REMEDY)
    return replace(d, confidence=conf, evidence=tuple(ev), remedy=remedy)


def _target(item: Item) -> tuple[str, int, str] | None:
    """(host, port, path) the item's request went to, when the item says."""
    e = item.entry
    if e is not None:
        parts = (e.upstream_cluster or "").split("|")
        path = e.path or "/"
        if len(parts) == 4 and parts[0] == "outbound" and parts[1].isdigit() and parts[3]:
            return parts[3], int(parts[1]), path
        host, _, port = (e.authority or "").partition(":")
        if host and not host.replace(".", "").isdigit():
            return host, int(port) if port.isdigit() else 80, path
        return None
    z = item.ztunnel
    if z is not None and z.fields.get("dst.service"):
        port = (z.fields.get("dst.hbone_addr") or z.fields.get("dst.addr") or "").rsplit(":", 1)[-1]
        return z.fields["dst.service"], int(port) if port.isdigit() else 80, "/"
    url = _URL.search(item.text)
    if url is not None:
        rest = url.group(0).split("://", 1)[1]
        hostport, _, path = rest.partition("/")
        host, _, port = hostport.partition(":")
        default = 443 if url.group(0).startswith("https") else 80
        return host, int(port) if port.isdigit() else default, "/" + path
    return None


def confirm(item: Item, d: Diagnosis) -> tuple[str, ...]:
    """The commands that would confirm (or refute) an unhealthy item's verdict."""
    if d.healthy:
        return ()
    target = _target(item)
    if target is None:
        cmds = ["meshprober probe --from NS/WORKLOAD --to URL"]
        if d.category is Category.TLS:
            cmds.append("meshprober tls-check --from NS/POD HOST:PORT")
        return tuple(cmds)
    host, port, path = target
    scheme = "https" if port == 443 else "http"
    cmds = [f"meshprober probe --from NS/WORKLOAD --to {scheme}://{host}:{port}{path}"]
    if d.category is Category.TLS or d.verdict is Verdict.UPSTREAM_RESET:
        cmds.append(f"meshprober tls-check --from NS/POD {host}:{port}")
    return tuple(cmds)
