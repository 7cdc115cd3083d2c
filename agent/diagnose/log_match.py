"""Find a probe's own line in a sidecar's access log, and say how it was found. Pure, no I/O.

By x-request-id first (the probe sets it; Envoy logs it). A log whose lines carry no request id
(a TCP line, a custom format, a probe that recorded none) is matched by time and target instead,
but only when exactly one line fits: it started within WINDOW_S after the probe's start (a little
before too, for clock skew between the agent and the node) and went to the probe's host and port.
Two candidates are a guess, so none is taken. The note says which way the line was found.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from agent.envoy.access_log import find_by_request_id, parse_log
from agent.evidence import AccessLogEntry

WINDOW_S = 30.0  # a probe's curl deadline is well under this
SKEW_S = 2.0


def rfc3339_epoch(raw: str | None) -> float | None:
    """Seconds since the epoch of an RFC 3339 time with a zone (`Z` or an offset); None otherwise."""
    if not raw:
        return None
    try:
        when = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.timestamp() if when.tzinfo else None


def _goes_to(entry: AccessLogEntry, host: str, port: int) -> bool:
    """The line's upstream cluster (`outbound|9080||productpage.bookinfo.svc.cluster.local`) or
    authority (`productpage:9080`) names the probe's target."""
    parts = (entry.upstream_cluster or "").split("|")
    if len(parts) == 4 and parts[1].isdigit():
        name = parts[3]
        return int(parts[1]) == port and (name == host or name.startswith(host + "."))
    auth_host, _, auth_port = (entry.authority or "").partition(":")
    if not auth_host or (int(auth_port) if auth_port.isdigit() else 80) != port:
        return False
    return auth_host == host or host.startswith(auth_host + ".")  # `productpage` for the FQDN


def match_entry(
    text: str | None,
    request_id: str | None,
    start_time: str | None = None,
    target: tuple[str, int] | None = None,
) -> tuple[AccessLogEntry | None, str | None]:
    """(the probe's line, how it was matched) or (None, None)."""
    if not text:
        return None, None
    entries = parse_log(text)
    if request_id:
        found = find_by_request_id(entries, request_id)
        if found:
            return found[-1], None  # the last line is the final attempt's outcome; the usual way
    start = rfc3339_epoch(start_time)
    if start is None or target is None:
        return None, None
    host, port = target
    fits: Sequence[AccessLogEntry] = [
        e
        for e in entries
        if (not e.request_id or e.request_id != request_id)
        and (when := rfc3339_epoch(e.start_time)) is not None
        and start - SKEW_S <= when <= start + WINDOW_S
        and _goes_to(e, host, port)
    ]
    if len(fits) != 1:
        return None, None
    why = "the probe's x-request-id is not in the log" if request_id else "the probe recorded no request id"
    note = (
        f"matched the access-log line by time and target ({why}): the only line to {host}:{port} "
        f"within {WINDOW_S:g} s of the probe's start"
    )
    return fits[0], note
