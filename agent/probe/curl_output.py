"""Parse one curl run (stdout, `-v` stderr, exit code) into an `agent.evidence.CurlResult`.

Pure and total: accepts any bytes or text and never raises. It reads, in order of trust,
curl's `%{json}` write-out after WRITE_OUT_MARKER (curl >= 7.70, printed even on failure),
then the `-v` trace (`* Connected to`, TLS lines, `< ` response headers, `curl: (N) ...`).
Without a write-out (older curl, a user's own curl) the trace alone is used. No I/O here.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agent.evidence import CurlResult
from agent.probe.argv import WRITE_OUT_MARKER

_STATUS_LINE = re.compile(r"^HTTP/(\d(?:\.\d)?)\s+(\d{3})\b")
_ERROR_LINE = re.compile(r"^curl: (\(\d+\).*)$")
_ERROR_CODE = re.compile(r"^\((\d+)\)")
# "* Connected to host (1.2.3.4) port 80 (#0)" (curl 7) / "... port 80" (curl 8).
_CONNECTED = re.compile(r"^\* +Connected to \S+ \(([^)]*)\) port (\d+)")
# Newer curl 8: "* Established connection to host (1.2.3.4 port 80) from 10.0.0.2 port 5000".
_ESTABLISHED = re.compile(r"^\* +Established connection to \S+ \(([^ )]*) port (\d+)\)")
_CONNECT_FAILED = re.compile(r"^\* +(?:Failed to connect|connect to .* failed|Connection refused)")
_TLS_VERSION = re.compile(r"^\* +SSL connection using (TLSv[0-9.]+|SSLv\d)")


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    if isinstance(data, bytes | bytearray):
        return bytes(data).decode("utf-8", errors="replace")
    return data if isinstance(data, str) else str(data)


def _split_write_out(stdout: str) -> tuple[str, dict[str, Any] | None, str | None]:
    """(body, write-out dict or None, note). The harness puts "\\n" + marker before the JSON."""
    at = stdout.rfind(WRITE_OUT_MARKER)
    if at < 0:
        return stdout, None, "no write-out found; used -v fallback"
    body = stdout[:at]
    if body.endswith("\n"):
        body = body[:-1]
    tail = stdout[at + len(WRITE_OUT_MARKER) :].lstrip()
    try:
        obj, _ = json.JSONDecoder().raw_decode(tail)
    except ValueError:
        return body, None, "write-out is not valid JSON; used -v fallback"
    if not isinstance(obj, dict):
        return body, None, "write-out is not a JSON object; used -v fallback"
    return body, obj, None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


class _Trace:
    """What the -v trace says; every field stays None when the trace is silent."""

    def __init__(self, stderr: str) -> None:
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.error: str | None = None
        self.connected: bool | None = None
        self.remote_ip: str | None = None
        self.remote_port: int | None = None
        self.tls_version: str | None = None
        for raw in stderr.splitlines():
            self._line(raw.rstrip("\r"))

    def _line(self, line: str) -> None:
        if line.startswith("< "):
            content = line[2:]
            status = _STATUS_LINE.match(content)
            if status:
                # A new response (after 100-continue or a redirect) replaces the previous one.
                self.status, self.headers = int(status.group(2)), {}
            elif ":" in content and self.status is not None:
                name, _, value = content.partition(":")
                key, value = name.strip().lower(), value.strip()
                if key:
                    old = self.headers.get(key)
                    self.headers[key] = f"{old}, {value}" if old else value
            return
        error = _ERROR_LINE.match(line)
        if error:
            self.error = error.group(1).strip()
            return
        connected = _CONNECTED.match(line) or _ESTABLISHED.match(line)
        if connected:
            self.connected = True
            self.remote_ip = connected.group(1) or None
            self.remote_port = int(connected.group(2)) if len(connected.group(2)) <= 5 else None
            return
        if _CONNECT_FAILED.match(line) and self.connected is None:
            self.connected = False
            return
        tls = _TLS_VERSION.match(line)
        if tls:
            self.tls_version = tls.group(1)


def parse_curl(stdout: str | bytes, stderr: str | bytes, exit_code: int | None) -> CurlResult:
    """Build a CurlResult from raw output; never raises (see module docstring)."""
    out, err = _text(stdout), _text(stderr)
    body, wo, note = _split_write_out(out)
    trace = _Trace(err)
    notes: list[str] = [note] if note else []
    code = exit_code if isinstance(exit_code, int) and not isinstance(exit_code, bool) else None
    if wo is None:
        if code is None and trace.error:
            found = _ERROR_CODE.match(trace.error)
            code = int(found.group(1)) if found and len(found.group(1)) < 6 else None
        return CurlResult(
            exit_code=code,
            http_status=trace.status or None,
            response_headers=trace.headers,
            body=body,
            error=trace.error,
            connected=trace.connected,
            remote_ip=trace.remote_ip,
            remote_port=trace.remote_port,
            tls_version=trace.tls_version,
            notes=tuple(notes),
        )
    wo_exit = _int(wo.get("exitcode"))
    if code is None:
        code = wo_exit
    elif wo_exit is not None and wo_exit != code:
        notes.append(f"exit code {code} differs from write-out exitcode {wo_exit}")
    status = _int(wo.get("response_code", wo.get("http_code")))
    error = trace.error
    errormsg = wo.get("errormsg")
    if error is None and isinstance(errormsg, str) and errormsg:
        error = f"({wo_exit if wo_exit is not None else '?'}) {errormsg}"
    connects = _int(wo.get("num_connects"))
    remote_ip = wo.get("remote_ip") if isinstance(wo.get("remote_ip"), str) else None
    connected = trace.connected
    if connected is None and connects is not None:
        connected = connects > 0 or bool(remote_ip)
    return CurlResult(
        exit_code=code,
        http_status=status if status else None,
        response_headers=trace.headers,
        body=body,
        error=error,
        connected=connected,
        remote_ip=remote_ip or trace.remote_ip,
        remote_port=_int(wo.get("remote_port")) or trace.remote_port,
        time_total_s=_float(wo.get("time_total")),
        tls_version=trace.tls_version,
        notes=tuple(notes),
    )
