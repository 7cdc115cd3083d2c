"""What the rest of the paste says about one failed request: did the same failure repeat, or did
requests to the same upstream succeed in between? Pure, no I/O.

This is the probe's "second probe" question (rules/repeatability.py) answered from the input
itself: several lines for one upstream cluster that all failed with the same flags count as a
repeat; a success to that cluster next to the failure makes it intermittent, which for a
`connection termination` points at connection reuse, not at an mTLS mismatch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agent.explain.detect import Item


@dataclass(frozen=True)
class Repeat:
    repeatable: bool  # True: failed the same way again; False: others to the same upstream succeeded
    note: str


def _key(item: Item) -> str | None:
    e = item.entry
    if item.kind != "access_log" or e is None or not e.upstream_cluster:
        return None
    return e.upstream_cluster


def repeats(items: Sequence[Item], healthy: Sequence[bool]) -> dict[int, Repeat]:
    """Index of each failed access-log item -> what its siblings (same upstream cluster) show."""
    groups: dict[str, list[int]] = {}
    flags: dict[int, tuple[str, ...]] = {}
    for k, item in enumerate(items):
        key = _key(item)
        if key is not None and item.entry is not None:
            groups.setdefault(key, []).append(k)
            flags[k] = item.entry.response_flags
    out: dict[int, Repeat] = {}
    for cluster, members in groups.items():
        ok = [k for k in members if healthy[k]]
        for k in (k for k in members if not healthy[k]):
            same = [j for j in members if j != k and not healthy[j] and flags[j] == flags[k]]
            if ok:
                note = f"{len(ok)} other line(s) in this input to {cluster} succeeded: the failure is intermittent"
                out[k] = Repeat(False, note)
            elif same:
                note = f"{len(same)} other line(s) in this input to {cluster} failed the same way, none succeeded"
                out[k] = Repeat(True, note)
    return out
