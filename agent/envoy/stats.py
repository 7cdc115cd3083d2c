"""Parse Envoy admin `/stats` text into counters and gauges, and diff two snapshots.

Pure, total, no I/O. Lines are `name: value` (names may contain `|`, `=`, `;` and `:`, so the
value is after the *last* ": "); histogram lines (`P0(...)`, `No recorded values`) and garbage
are skipped. Prometheus-format samples (`stats/prometheus`: `name{labels} value`) are accepted
too, keyed by the full `name{labels}` text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_INT = re.compile(r"^-?\d{1,20}$")
_PROM = re.compile(r"^([A-Za-z_:][\w:]*(?:\{.*\})?)\s+(-?\d{1,20}(?:\.0+)?)(?:\s+-?\d+)?$")


def parse_stats(text: str) -> dict[str, int]:
    """Counters and gauges by name; later duplicates win."""
    stats: dict[str, int] = {}
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", errors="replace")
    if not isinstance(text, str):
        return stats
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.rpartition(": ")
        if sep and name and _INT.match(value.strip()):
            stats[name.strip()] = int(value.strip())
            continue
        if not sep:
            prom = _PROM.match(line)
            if prom:
                stats[prom.group(1)] = int(prom.group(2).split(".")[0])
    return stats


def delta(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    """after - before for stats that grew (a missing `before` counts as 0).

    Unchanged, shrunk (gauges going down, counters reset by a restart) and vanished stats are
    left out, so the result only holds positive increments.
    """
    out: dict[str, int] = {}
    for name, value in after.items():
        if not isinstance(value, int):
            continue
        old = before.get(name, 0)
        grown = value - (old if isinstance(old, int) else 0)
        if grown > 0:
            out[name] = grown
    return out
