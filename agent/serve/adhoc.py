"""Validating an ad-hoc probe request of the API into a PathConfig (the same strict rules as the config)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from agent.config import PathConfig, format_validation_error
from agent.errors import InputError


def adhoc_path(body: dict[str, Any], interval: float, timeout: float) -> PathConfig:
    """Validate an ad-hoc request `{"from": "NS/WORKLOAD[/CONTAINER]", "to": URL, "expect": CODE}`."""
    unknown = set(body) - {"from", "to", "expect"}
    if unknown:
        raise InputError(f"request body: unknown field(s) {sorted(unknown)}")
    src = body.get("from")
    if not isinstance(src, str) or not 2 <= len(src.split("/")) <= 3:
        raise InputError("from: must be NS/WORKLOAD or NS/WORKLOAD/CONTAINER")
    parts = src.split("/")
    source: dict[str, Any] = {"namespace": parts[0], "workload": parts[1]}
    if len(parts) == 3:
        source["container"] = parts[2]
    raw = {
        "name": "adhoc", "from": source, "to": {"url": body.get("to")},
        "expect": body.get("expect", 200), "interval": max(interval, timeout), "timeout": timeout,
    }  # fmt: skip
    try:
        return PathConfig.model_validate(raw)
    except ValidationError as exc:
        raise InputError(format_validation_error("request body", exc)) from None
