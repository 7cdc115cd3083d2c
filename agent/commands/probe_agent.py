"""`meshprober probe --agent URL`: a running agent does the check; this side checks what it can without
the config schema and posts the request (httpx, the project's HTTP client).

A cold `probe --agent` must not pay for what only the agent uses (the kubernetes client, the pydantic
config schema, the policy engine): the flags are checked with the schema's own rules and messages
(agent.names, agent.probe.url) and the agent checks the rest, answering 400 with the same wording.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from agent import names
from agent.errors import InputError, MeshproberError
from agent.probe.url import split_url

FROM_FORMAT = "--from: must be NS/WORKLOAD or NS/WORKLOAD/CONTAINER"
_FROM_PARTS = (("namespace", names.NAMESPACE), ("workload", names.WORKLOAD), ("container", names.CONTAINER))
MAX_TIMEOUT_S = 86400.0  # the schema's Duration bound (agent.config.fields.parse_duration)


def flag_errors(from_: str, to: str, expect: int, timeout: float) -> list[str]:
    """What is wrong with the flags, one line each, as the local check words it (`--from.namespace: ...`)."""
    parts = from_.split("/")
    if not 2 <= len(parts) <= 3:
        return [FROM_FORMAT]
    errors = [
        f"--from.{field}: {why}"
        for (field, rule), value in zip(_FROM_PARTS, parts, strict=False)
        if (why := names.name_error(rule, value))
    ]
    try:
        split_url(to)
    except InputError as exc:
        errors.append(f"--to.url: {exc}")
    if why := names.status_error(expect):
        errors.append(f"--expect[0]: {why}")
    if not 0 < timeout <= MAX_TIMEOUT_S:
        errors.append("--timeout: must be > 0 and at most 24h")
    return errors


class AgentRefused(MeshproberError):
    """The agent answered 400: the request itself is wrong (its message speaks of body fields)."""


def post_probe(
    agent_url: str, body: dict[str, Any], token_file: Path | None, timeout: float
) -> dict[str, Any]:
    """POST /api/v1/probe; the result, or MeshproberError naming what failed (AgentRefused on a 400)."""
    token = token_file.read_text().strip() if token_file else os.environ.get("MESHPROBER_TOKEN")
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    url = agent_url.rstrip("/") + "/api/v1/probe"
    if not url.startswith(("http://", "https://")):
        raise InputError(f"--agent: {agent_url!r} is not an http(s) URL")
    import httpx  # only here: a bad flag is reported without it

    try:
        # A plain-http agent needs no CA bundle: loading one is ~0.1 s of a cold command.
        verify = url.startswith("https://")
        resp = httpx.post(
            url, content=json.dumps(body).encode(), headers=headers, timeout=timeout, verify=verify
        )
    except httpx.HTTPError as exc:  # connect/read errors, timeouts, a reset
        raise MeshproberError(f"agent {agent_url} unreachable: {exc}") from exc
    if resp.status_code == 400 and (message := _error_of(resp.text.strip())):
        raise AgentRefused(message)
    if resp.status_code != 200:
        raise MeshproberError(f"agent answered {resp.status_code}: {resp.text.strip()[:300]}")
    try:
        result = resp.json()
    except ValueError as exc:
        raise MeshproberError(f"agent {agent_url} sent a non-JSON answer: {resp.text[:120]!r}") from exc
    return result if isinstance(result, dict) else {}


def _error_of(text: str) -> str | None:
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    message = doc.get("error") if isinstance(doc, dict) else None
    return message if isinstance(message, str) else None
