"""Find the items in pasted text: access-log lines (TEXT or JSON, one line or pretty-printed), TCP and
HBONE tunnel lines, ztunnel lines, `curl -v` transcripts and Envoy local-reply bodies. Pure, no I/O.

Everything else (Envoy's own debug lines, shell prompts, prose) is skipped. Each item keeps the
1-based number of the line it starts on and the paste repairs that were needed to read it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace

from agent.envoy.access_log import parse_line
from agent.envoy.local_replies import LocalReply, parse_local_reply
from agent.envoy.response_flags import parse_flags
from agent.evidence import AccessLogEntry, CurlResult
from agent.explain.repair import repair_line
from agent.explain.ztunnel import ZtunnelRecord, parse_ztunnel
from agent.probe.curl_output import parse_curl

KINDS = ("access_log", "tcp_log", "hbone_log", "ztunnel_log", "curl", "local_reply")
MAX_JSON_LINES = 200  # a pretty-printed access-log object is ~30 lines; never read a whole file as one
MAX_CURL_BODY_LINES = 50

_CURL_TRACE = re.compile(r"^(?:\* |> |< |[<>]$|\{ \[|\} \[|curl: \(\d+\))")
_CURL_START = re.compile(
    r"^(?:\* +(?:Trying|Connected|Host |Uses proxy)|> [A-Z]+ \S+ HTTP/|< HTTP/|curl: \(\d+\))"
)
# The command itself, after any shell prompt (`$ `, `root@host:~# `), maybe through `kubectl exec ... --`.
_COMMAND = re.compile(r"^(?:\S*[$#] +)?(?:kubectl .*-- *)?curl\s")
_EXIT = re.compile(r"^command terminated with exit code (\d{1,3})$")


@dataclass(frozen=True)
class Item:
    line: int  # 1-based line where the item starts
    kind: str  # one of KINDS
    text: str  # the item's text after paste repairs
    entry: AccessLogEntry | None = None
    ztunnel: ZtunnelRecord | None = None
    curl: CurlResult | None = None
    reply: LocalReply | None = None
    repairs: tuple[str, ...] = ()


def is_hbone_tunnel(entry: AccessLogEntry) -> bool:
    """The client sidecar's HBONE tunnel (the internal `connect_originate` listener), not a request."""
    remote = entry.downstream_remote_address or ""
    return entry.upstream_cluster == "connect_originate" or remote.startswith("envoy://internal_client")


def _kind_of(entry: AccessLogEntry) -> str:
    if is_hbone_tunnel(entry):
        return "hbone_log"
    if entry.response_code == 0 and entry.method is None and entry.layout != "partial":
        return "tcp_log"
    return "access_log"


def _plausible(entry: AccessLogEntry) -> bool:
    """A fragment (no request, no layout) counts only with flags Envoy really writes: `200 OK` is not a log."""
    if entry.layout != "partial" or entry.method is not None:
        return True
    flags = entry.raw.split()[1:2]
    return bool(flags) and (flags[0] == "-" or bool(parse_flags(flags[0])))


def _json_block(lines: list[str], start: int) -> tuple[AccessLogEntry, int, tuple[str, ...]] | None:
    """A (pretty-printed) JSON access-log object starting at `start`: (entry, lines used, repairs)."""
    buf: list[str] = []
    notes: dict[str, None] = {}
    for j in range(start, min(len(lines), start + MAX_JSON_LINES)):
        fixed, repairs = repair_line(lines[j])
        buf.append(fixed)
        notes.update(dict.fromkeys(repairs))
        if not buf[-1].rstrip().endswith("}"):
            continue
        try:
            json.loads(" ".join(buf))
        except ValueError:
            continue
        entry = parse_line(" ".join(buf))
        return (entry, j - start + 1, tuple(notes)) if entry is not None else None
    return None


def _curl_block(lines: list[str], start: int) -> tuple[Item, int] | None:
    trace: list[str] = []
    body: list[str] = []
    exit_code: int | None = None
    j = start
    if _COMMAND.match(lines[j].strip()):
        j += 1  # the command line itself
    while j < len(lines) and j - start < MAX_JSON_LINES:
        line = lines[j].rstrip("\r")
        ended = _EXIT.match(line.strip())
        if ended:
            exit_code = int(ended.group(1))
            j += 1
            break
        if _CURL_TRACE.match(line):
            trace.append(line)
        elif trace and line.strip() and len(body) < MAX_CURL_BODY_LINES and not _starts_item(line):
            body.append(line)
        else:
            break
        j += 1
    if not trace:
        return None
    result = parse_curl("\n".join(body), "\n".join(trace), exit_code)
    if result.http_status is None and result.error is None and exit_code is None:
        return None  # a trace that never got an answer nor an error says nothing
    if result.exit_code is None:
        result = replace(result, exit_code=0)  # a transcript with a status and no error: curl exited 0
    text = "\n".join(lines[start:j])
    return Item(start + 1, "curl", text, curl=result), j - start


def _starts_item(line: str) -> bool:
    fixed = repair_line(line)[0]
    return parse_ztunnel(fixed) is not None or parse_line(fixed) is not None


def _single(raw: str, number: int) -> Item | None:
    fixed, repairs = repair_line(raw)
    if not fixed:
        return None
    record = parse_ztunnel(fixed)
    if record is not None:
        return Item(number, "ztunnel_log", fixed, ztunnel=record, repairs=repairs)
    entry = parse_line(fixed)
    if entry is not None and _plausible(entry):
        return Item(number, _kind_of(entry), fixed, entry=entry, repairs=repairs)
    reply = parse_local_reply(fixed)
    if reply is not None:
        return Item(number, "local_reply", fixed, reply=reply, repairs=repairs)
    return None


def detect(text: str) -> list[Item]:
    """Every item in `text`, in input order."""
    lines = text.splitlines()
    items: list[Item] = []
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if _CURL_START.match(stripped) or _COMMAND.match(stripped):
            found = _curl_block(lines, i)
            if found is not None:
                items.append(found[0])
                i += found[1]
                continue
        if repair_line(stripped)[0].startswith("{"):
            block = _json_block(lines, i)
            if block is not None:
                entry, used, repairs = block
                items.append(Item(i + 1, _kind_of(entry), entry.raw, entry=entry, repairs=repairs))
                i += used
                continue
        item = _single(lines[i], i + 1)
        if item is not None:
            items.append(item)
        i += 1
    return items
