"""Undo the damage a copy-paste does to a log line before the parsers see it. Pure, no I/O.

What people paste into an issue or a chat is rarely the bytes Envoy wrote: a terminal or a
markdown table draws frames around it, an editor turns `"` into `“ ”`, the first characters are
cut off (`7.175Z] "GET ...` or `GET /x HTTP/1.1" 404 ...`), Windows adds `\\r`, and markdown wraps
it in backticks or a `> ` quote. Each repair is recorded so the output can say what was changed.
"""

from __future__ import annotations

import re

from agent.envoy.log_tokens import restore_lost_quote

# Box-drawing borders of terminals and TUIs (tmux, k9s, rich) and a markdown/ASCII table's `|`.
_LEFT_FRAME = re.compile(r"^[ \t]*[│┃║╎┆|][ \t]+")
_RIGHT_BOX = re.compile(r"[ \t]+[│┃║╎┆][ \t]*$")
_RIGHT_PIPE = re.compile(r"[ \t]+\|[ \t]*$")
_SMART_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "″": '"', "‘": "'", "’": "'"})
# A markdown quote (`> `), but not curl's `> GET / HTTP/1.1` request line or `> Host: ...` headers.
_BLOCKQUOTE = re.compile(r"^>[ \t]?")
_CURL_REQUEST = re.compile(r"^(?:[A-Z]+ \S+ HTTP/[\d.]+[ \t]*$|[\w-]+:[ \t]|[ \t]*$)")
_JSON_KEY = re.compile(r'"[A-Za-z_][\w.-]*"\s*:')


def _strip_frames(line: str, notes: list[str]) -> str:
    left = _LEFT_FRAME.match(line)
    if left is None:
        right = _RIGHT_BOX.search(line)
        if right is not None:
            notes.append("removed a terminal frame")
            return line[: right.start()]
        return line
    body = line[left.end() :]
    # A trailing `|` is a frame only when a leading one was: `inbound|8080||` may end a real line.
    right = _RIGHT_BOX.search(body) or _RIGHT_PIPE.search(body)
    notes.append("removed a terminal frame")
    return body[: right.start()] if right is not None else body


def _unwrap_backticks(line: str, notes: list[str]) -> str:
    if len(line) > 2 and line.startswith("`") and line.endswith("`") and "`" not in line[1:-1]:
        notes.append("removed markdown backticks")
        return line[1:-1]
    return line


def _restore_json_brace(line: str, notes: list[str]) -> str:
    """A JSON access-log line that lost its leading `{` (and perhaps part of its first key)."""
    if line.startswith("{") or not line.endswith("}") or '"response_code"' not in line:
        return line
    key = _JSON_KEY.search(line)
    if key is None:
        return line
    notes.append("restored the lost opening { of a JSON line")
    return "{" + line[key.start() :]


def repair_line(raw: str) -> tuple[str, tuple[str, ...]]:
    """(the line as Envoy wrote it, as far as it can be told; notes naming each repair made)."""
    notes: list[str] = []
    if "\r" in raw:
        notes.append("removed carriage returns")
    line = raw.replace("\r", "").rstrip("\n")
    translated = line.translate(_SMART_QUOTES)
    if translated != line:
        notes.append("replaced typographic quote marks with plain ones")
        line = translated
    line = _strip_frames(line, notes).strip()
    line = _unwrap_backticks(line, notes)
    quoted = _BLOCKQUOTE.match(line)
    if quoted is not None and not _CURL_REQUEST.match(line[quoted.end() :]):
        line = line[quoted.end() :]
        notes.append("removed a markdown quote marker")
    restored = restore_lost_quote(line)
    if restored != line:
        notes.append("restored the request's lost opening quote (the paste cut the line's start)")
        line = restored
    line = _restore_json_brace(line, notes)
    return line, tuple(notes)
