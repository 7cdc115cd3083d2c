"""pods/log options (validated like PodLogOptions) and line filtering.

A line's time is its leading RFC 3339 timestamp (`2025-01-01T00:00:01Z ...`, or Envoy's
`[2025-01-01T00:00:01.000Z] ...`, or a JSON log's `start_time`); lines without one take the file's
mtime. Pure apart from the caller handing in the text; no network.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from meshlab.apiserver.status import ApiError

_TS_RE = re.compile(r"^\[?(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))\]?")


@dataclass(frozen=True)
class LogOptions:
    container: str | None = None
    since_seconds: int | None = None
    since_time: dt.datetime | None = None
    tail_lines: int | None = None
    limit_bytes: int | None = None
    timestamps: bool = False
    follow: bool = False
    previous: bool = False  # the last terminated instance's log (kubectl logs -p)


def qbool(query: Mapping[str, str], key: str) -> bool:
    """apimachinery's bool conversion: absent/"0"/"false" -> False, anything else True."""
    if key not in query:
        return False
    return query[key] != "0" and query[key].lower() != "false"


def parse_time(value: str) -> dt.datetime | None:
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def parse_options(pod: str, query: Mapping[str, str]) -> LogOptions:
    def intval(key: str, minimum: int, bound: str) -> int | None:
        if key not in query:
            return None
        try:
            v = int(query[key])
        except ValueError:
            raise ApiError(400, f'{key}: invalid integer "{query[key]}"', "BadRequest") from None
        if v < minimum:
            raise _invalid(pod, f"{key}: Invalid value: {v}: must be {bound}")
        return v

    since_seconds = intval("sinceSeconds", 1, "greater than 0")
    since_time = None
    if "sinceTime" in query:
        since_time = parse_time(query["sinceTime"])
        if since_time is None:
            raise ApiError(400, f'sinceTime: invalid RFC 3339 time "{query["sinceTime"]}"', "BadRequest")
    if since_time is not None and since_seconds is not None:
        raise _invalid(
            pod, "sinceSeconds: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"
        )
    return LogOptions(
        container=query.get("container") or None,
        since_seconds=since_seconds,
        since_time=since_time,
        tail_lines=intval("tailLines", 0, "greater than or equal to 0"),
        limit_bytes=intval("limitBytes", 1, "greater than 0"),
        timestamps=qbool(query, "timestamps"),
        follow=qbool(query, "follow"),
        previous=qbool(query, "previous"),
    )


def _invalid(pod: str, why: str) -> ApiError:
    return ApiError(
        422,
        f'PodLogOptions "{pod}" is invalid: {why}',
        "Invalid",
        {"name": pod, "kind": "PodLogOptions", "causes": [{"message": why}]},
    )


def previous_path(path: Path) -> Path:
    """Where the lab keeps a container's log from before its last restart (the kubelet keeps one)."""
    return path.with_name(path.name + ".previous")


def line_time(line: str, fallback: dt.datetime) -> dt.datetime:
    if m := _TS_RE.match(line):
        t = parse_time(m.group(1))
        if t is not None:
            return t
    if line.startswith("{"):
        try:
            t = parse_time(str(json.loads(line).get("start_time", "")))
        except (ValueError, AttributeError):
            t = None
        if t is not None:
            return t
    return fallback


def format_ts(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def select_lines(text: str, opts: LogOptions, mtime: dt.datetime, now: dt.datetime) -> list[str]:
    """The lines (each ending in a newline) the options ask for."""
    since = opts.since_time
    if opts.since_seconds is not None:
        since = now - dt.timedelta(seconds=opts.since_seconds)
    out: list[str] = []
    for line in text.splitlines():
        t = line_time(line, mtime)
        if since is not None and t < since:
            continue
        out.append((format_ts(t) + " " if opts.timestamps else "") + line + "\n")
    if opts.tail_lines is not None:
        out = out[len(out) - opts.tail_lines :] if opts.tail_lines else []
    return out
