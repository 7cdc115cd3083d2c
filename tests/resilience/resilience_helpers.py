"""Shared pieces of the resilience tests: agent configs for the seed lab, bounded waits, loopback GETs.

Every lab is module-scoped and stopped in a finally; every agent is stopped in a finally; every
wait is bounded. Only loopback addresses are used.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import yaml

from agent.config import PathConfig
from agent.model import Confidence, Diagnosis, Verdict
from agent.results import CheckResult, DestinationRef, SourceRef
from tests.support.e2e_helpers import wait_for as wait_for  # re-exported for the resilience tests

T = TypeVar("T")
URL = "http://productpage.bookinfo.svc.cluster.local:9080/productpage"


def http_get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # loopback only (the agent's API)
        return int(resp.status), resp.read().decode("utf-8", "replace")


def write_config(path: Path, paths: list[dict[str, object]], interval: str = "1s", **extra: object) -> Path:
    doc: dict[str, object] = {
        "defaults": {"interval": interval, "timeout": "1s"},
        "limits": {"min_interval": "1s", "max_concurrent_probes": 4},
        "api": {"listen": "127.0.0.1:0"},
        "evidence": {"dir": str(path.parent / "evidence"), "keep_per_path": 1},
        "paths": paths,
        **extra,
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


SEED_PATHS: list[dict[str, object]] = [
    {
        "name": "healthy",
        "from": {"namespace": "traffic-generator", "workload": "traffic-generator"},
        "to": {"url": URL},
    },
    {
        "name": "broken",
        "from": {"namespace": "load-test", "workload": "traffic-generator"},
        "to": {"url": URL},
    },
]


def many_paths(count: int, interval: str = "60s") -> list[dict[str, object]]:
    """`count` distinct paths over the seed lab's sources and services (names are unique)."""
    sources = [("bookinfo", "traffic-generator"), ("load-test", "traffic-generator"), ("bookinfo", "reviews")]
    services = ["productpage", "reviews", "details"]
    return [
        {
            "name": f"p{i:05d}",
            "from": {"namespace": sources[i % 3][0], "workload": sources[i % 3][1]},
            "to": {
                "service": services[(i // 3) % 3],
                "namespace": "bookinfo",
                "port": 9080,
                "path": f"/r/{i}",
            },
            "interval": interval,
        }
        for i in range(count)
    ]


def ok_result(path: PathConfig, now: Callable[[], float] = time.time) -> CheckResult:
    """What a healthy run_check returns, without a cluster (a stand-in for the scheduler's check)."""
    started = now()
    service, namespace, port = path.destination()
    return CheckResult(
        path=path.name,
        source=SourceRef(path.source.namespace, path.source.label, f"{path.source.label}-abc-12345", "app"),
        target=path.to.target_url,
        diagnosis=Diagnosis(Verdict.OK, Confidence.HIGH, "HTTP 200 as expected.", http_status=200),
        started_at=started,
        finished_at=started + 0.05,
        destination=DestinationRef(service, namespace, port) if service and namespace and port else None,
        http_status=200,
    )
