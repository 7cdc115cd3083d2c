"""`meshprober explain`: judge pasted Envoy/Istio evidence one item at a time. Pure, no I/O.

Input is any text: istio-proxy access-log lines (every TEXT era and JSON), TCP and HBONE tunnel
lines, ztunnel lines, `curl -v` transcripts, Envoy local-reply bodies, mixed with anything else.
detect.py finds the items (repair.py undoes paste damage first), join.py pairs a request's HTTP
line with its HBONE tunnel line, judge.py runs each through the classifier ladder, honesty.py keeps
the confidence honest for single-line evidence and names the check that would confirm it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent.explain.detect import KINDS, Item, detect
from agent.explain.honesty import confirm, temper
from agent.explain.join import partners
from agent.explain.judge import judge
from agent.explain.repeats import repeats
from agent.model import Diagnosis

__all__ = ["KINDS", "Explained", "explain_text"]
MAX_INPUT_SHOWN = 300  # characters of the item echoed back in JSON


@dataclass(frozen=True)
class Explained:
    item: Item
    diagnosis: Diagnosis
    confirm: tuple[str, ...] = ()
    joined_with: tuple[int, ...] = ()  # line numbers of the items it was judged together with

    def to_json(self) -> dict[str, Any]:
        return {
            "line": self.item.line,
            "kind": self.item.kind,
            **self.diagnosis.to_json(),
            "confirm": list(self.confirm),
            "joined_with": list(self.joined_with),
            "repairs": list(self.item.repairs),
            "input": self.item.text[:MAX_INPUT_SHOWN],
        }


def explain_text(text: str) -> list[Explained]:
    """One Explained per recognised item of `text`, in input order ([] when nothing is recognised)."""
    items = detect(text)
    joined = partners(items)
    back: dict[int, list[int]] = {}
    for http_at, tunnel_at in joined.items():
        back.setdefault(tunnel_at, []).append(items[http_at].line)
    tunnels = [items[joined[k]] if k in joined else None for k in range(len(items))]
    first = [judge(item, tunnels[k]) for k, item in enumerate(items)]
    again = repeats(items, [d.healthy for d in first])
    out = []
    for k, item in enumerate(items):
        d = temper(judge(item, tunnels[k], again[k]) if k in again else first[k])
        tunnel = tunnels[k]
        links = (tunnel.line,) if tunnel is not None else tuple(back.get(k, ()))
        out.append(Explained(item, d, confirm(item, d), links))
    return out
