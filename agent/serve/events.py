"""Log lines for cluster log pipelines: one event per finished probe (`log_result`), and the
`--log-format json` formatter that writes every log record as one JSON object with stable keys.

Keys always present (null when a record has no value): time, level, logger, event, message, path,
verdict, stage, duration. Events carry their fields as `extra=` on the record, so the text format
(for people, the default) prints the same records as a sentence. No I/O beyond logging itself.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from agent.results import CheckResult

EVENTS = logging.getLogger("meshprober.events")
KEYS = ("time", "level", "logger", "event", "message", "path", "verdict", "stage", "duration")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FORMATS = ("text", "json")


def log_result(result: CheckResult) -> None:
    """One `probe` event per result: INFO when healthy, WARNING when not (so a WARNING filter keeps failures)."""
    d = result.diagnosis
    level = logging.INFO if d.healthy else logging.WARNING
    EVENTS.log(
        level,
        "path %s: %s (%s confidence) in %.2fs%s",
        result.path, d.verdict.value, d.confidence.value, result.duration_s,
        f", stage {result.error_stage}" if result.error_stage else "",
        extra={
            "event": "probe", "path": result.path, "verdict": d.verdict.value, "stage": result.error_stage,
            "duration": round(result.duration_s, 6), "category": d.category.value,
            "confidence": d.confidence.value, "http_status": result.http_status, "target": result.target,
        },
    )  # fmt: skip


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON: the stable KEYS, then any other event fields given as extra."""

    EXTRA = ("category", "confidence", "http_status", "target")

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": getattr(record, "event", None) or "log",
            "message": record.getMessage(),
        }
        for key in KEYS[5:]:
            out[key] = getattr(record, key, None)
        for key in self.EXTRA:
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, separators=(",", ":"))


def configure_logging(level: str, fmt: str) -> None:
    """Root logging to stderr in `fmt` ("text" or "json"); replaces handlers set earlier."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
