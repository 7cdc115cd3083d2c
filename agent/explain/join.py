"""Join a request's HTTP line with the HBONE tunnel line that carried it. Pure, no I/O.

With HBONE (ambient, or sidecars sending to ambient workloads) the client sidecar logs two lines
for one failed request (istio/istio PR #52886): the HTTP line, whose `%UPSTREAM_HOST%` is the
internal listener `envoy://connect_originate/10.244.0.17:80` and whose reason may be a bare
`delayed_connect_error:_Invalid_argument`, and the tunnel line (`connect_originate` cluster, downstream
`envoy://internal_client_address/`, local address `10.244.0.17:80`) that records the real refusal,
e.g. `delayed_connect_error:_Connection_refused` from the peer's port 15008. They share the
destination (connection), the upstream IP and the time; the tunnel line explains the HTTP line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from agent.evidence import AccessLogEntry
from agent.explain.detect import Item

_ORIGINATE = "envoy://connect_originate/"
MAX_SKEW_S = 2.0  # both lines are written when the same failed attempt ends


def hbone_target(entry: AccessLogEntry) -> str | None:
    """`10.244.0.17:80` from an HTTP line sent through the HBONE internal listener, else None."""
    host = entry.upstream_host or ""
    return host[len(_ORIGINATE) :] or None if host.startswith(_ORIGINATE) else None


def _when(entry: AccessLogEntry) -> float | None:
    raw = entry.start_time
    if not raw:
        return None
    try:
        return dt.datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _ip(address: str | None) -> str | None:
    return address.rsplit(":", 1)[0] if address and ":" in address else None


def _matches(http: AccessLogEntry, target: str, tunnel: AccessLogEntry) -> bool:
    if tunnel.downstream_local_address != target:
        return False  # the tunnel was opened for another destination
    upstream = _ip(tunnel.upstream_host)
    return upstream is None or upstream == _ip(target)  # HBONE dials the same IP on port 15008


def partners(items: Sequence[Item]) -> dict[int, int]:
    """Index of each HTTP item -> index of its tunnel item. A candidate is kept when the timestamps
    are within MAX_SKEW_S of each other (nearest wins), or, with a time missing, when it is the
    only tunnel line for that destination."""
    tunnels = [(k, it.entry) for k, it in enumerate(items) if it.kind == "hbone_log" and it.entry is not None]
    joined: dict[int, int] = {}
    for k, item in enumerate(items):
        entry = item.entry
        target = hbone_target(entry) if entry is not None and item.kind == "access_log" else None
        if entry is None or target is None:
            continue
        candidates = [(t, e) for t, e in tunnels if _matches(entry, target, e)]
        at = _when(entry)
        timed = [(abs(w - at), t) for t, e in candidates if at is not None and (w := _when(e)) is not None]
        close = sorted(d_t for d_t in timed if d_t[0] <= MAX_SKEW_S)
        if close:
            joined[k] = close[0][1]
        elif len(candidates) == 1 and not timed:
            joined[k] = candidates[0][0]
    return joined
