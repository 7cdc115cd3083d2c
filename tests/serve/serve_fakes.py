"""Test doubles for the serving half. `StandInCheck` is a STAND-IN for the real pipeline's run_check
(which is tested end-to-end on the lab): it returns canned diagnoses and records how it was called."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from agent.config import PathConfig
from agent.evidence import PolicyView
from agent.model import Confidence, Diagnosis, Verdict
from agent.results import CheckResult, DestinationRef, SourceRef


def make_path(name: str, interval: float = 30.0, timeout: float = 5.0, workload: str = "gen") -> PathConfig:
    return PathConfig.model_validate(
        {
            "name": name,
            "from": {"namespace": "load-test", "workload": workload},
            "to": {"url": f"http://{name}.bookinfo.svc.cluster.local:9080/"},
            "interval": interval,
            "timeout": timeout,
        }
    )


def make_result(
    path: PathConfig | str,
    verdict: Verdict = Verdict.OK,
    duration: float = 0.2,
    summary: str = "fine",
    bundle_dir: Path | None = None,
    http_status: int | None = None,
    error_stage: str | None = None,
) -> CheckResult:
    name = path if isinstance(path, str) else path.name
    now = time.time()
    status = http_status if http_status is not None else (200 if verdict is Verdict.OK else 503)
    return CheckResult(
        path=name,
        source=SourceRef("load-test", "gen", "gen-7d9f-abcde", "app"),
        target=f"http://{name}.bookinfo.svc.cluster.local:9080/",
        destination=DestinationRef(name, "bookinfo", 9080),
        diagnosis=Diagnosis(verdict, Confidence.HIGH, summary, http_status=status, response_flags="UC"),
        started_at=now - duration,
        finished_at=now,
        http_status=status,
        bundle_dir=bundle_dir,
        error_stage=error_stage,
    )


CONFLICT = PolicyView(
    host="productpage.bookinfo.svc.cluster.local",
    port=9080,
    status="CONFLICT",
    client_mode="DISABLE",
    client_mode_source="destination_rule",
    server_mode="STRICT",
    destination_rule="bookinfo/destrule-productpage",
    peer_authentication="bookinfo/default",
)


class StandInCheck:
    """Stand-in for run_check: per-path verdicts, optional per-path blocking, concurrency bookkeeping."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.verdicts: dict[str, Verdict] = {}
        self.blockers: dict[str, threading.Event] = {}
        self.raises: dict[str, Exception] = {}
        self.calls: dict[str, int] = {}
        self.active: dict[str, int] = {}
        self.max_active_total = 0
        self.max_active_per_path: dict[str, int] = {}
        self._lock = threading.Lock()

    def count(self, name: str) -> int:
        with self._lock:
            return self.calls.get(name, 0)

    def __call__(self, path: PathConfig) -> CheckResult:
        with self._lock:
            self.calls[path.name] = self.calls.get(path.name, 0) + 1
            self.active[path.name] = self.active.get(path.name, 0) + 1
            self.max_active_per_path[path.name] = max(
                self.max_active_per_path.get(path.name, 0), self.active[path.name]
            )
            self.max_active_total = max(self.max_active_total, sum(self.active.values()))
        try:
            if path.name in self.raises:
                raise self.raises[path.name]
            if path.name in self.blockers:
                self.blockers[path.name].wait(30)  # bounded even if a test forgets to release it
            if self.delay:
                time.sleep(self.delay)
            return make_result(path, self.verdicts.get(path.name, Verdict.OK))
        finally:
            with self._lock:
                self.active[path.name] -= 1


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False
