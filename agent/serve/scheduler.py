"""Runs every configured path on its interval (APScheduler 3 BackgroundScheduler).

Each path is one job: interval trigger with jitter, `max_instances=1`, `coalesce=True`, misfire grace.
A thread pool of `max_concurrent_probes` bounds concurrency; a per-path lock (shared with on-demand
runs from the API) guarantees that one path never runs twice at once. A hung check holds only its
own worker, so other paths keep running while workers remain. The check itself is injected: this
module knows nothing about pods, curl or Kubernetes.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
    JobExecutionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from agent.config import PathConfig
from agent.errors import MeshproberError, stage_of
from agent.evidence import PolicyView
from agent.results import CheckResult, destination_ref, probe_failed_result, source_ref
from agent.serve.events import log_result
from agent.serve.store import ResultStore

log = logging.getLogger(__name__)

CheckFn = Callable[[PathConfig], CheckResult]
PolicyFn = Callable[[PathConfig], PolicyView | None]
MAX_JITTER_S = 5.0
MAX_INITIAL_SPREAD_S = 10.0
# Big configs spread their first runs wider: at most this many first runs per second, up to one
# interval. A path keeps its phase from then on (the jitter moves it only slowly), so 1,000 paths
# first run within 10 s would stay a burst every interval (measured: scheduling lag p99 ~5 s at
# 1,000 paths, bench/cluster_scale.py); spread over the interval, the load is even.
FIRST_RUNS_PER_S = 10.0


class PathBusy(MeshproberError):
    """A probe of this path is already running."""


def jitter_seconds(interval: float) -> float:
    """Random delay (0..this) added to each run: 10% of the interval, at most MAX_JITTER_S."""
    return min(interval * 0.1, MAX_JITTER_S)


def initial_delay(name: str, interval: float, spread: float = MAX_INITIAL_SPREAD_S) -> float:
    """Stable first-run offset in [0, min(interval, spread)) so paths do not fire together."""
    frac = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") / 2**32
    return frac * min(interval, spread)


def first_run_spread(paths: int) -> float:
    """Seconds over which the first runs of `paths` paths are spread (capped by each interval)."""
    return max(MAX_INITIAL_SPREAD_S, paths / FIRST_RUNS_PER_S)


def safe_check(
    check: CheckFn, path: PathConfig, on_error: Callable[[str], None] = lambda stage: None
) -> CheckResult:
    """Run the check; an exception becomes a `probe_failed` result (and one `on_error(stage)` count)
    instead of killing the job. Results the check returns itself are not counted here: the pipeline
    counts its own agent-side errors where they happen."""
    started = time.time()
    try:
        return check(path)
    except Exception as exc:
        stage = stage_of(exc)
        on_error(stage)
        log.warning(
            "check of path %s failed at stage %s: %s", path.name, stage, type(exc).__name__,
            extra={"event": "check_error", "path": path.name, "stage": stage},
        )  # fmt: skip
        message = str(exc)[:300] if isinstance(exc, MeshproberError) else type(exc).__name__
        return probe_failed_result(
            path.name, source_ref(path), path.to.target_url, stage, message, started, destination_ref(path)
        )


class ProbeScheduler:
    def __init__(
        self,
        check: CheckFn,
        policy_check: PolicyFn,
        store: ResultStore,
        max_concurrent: int = 8,
        jitter: Callable[[float], float] = jitter_seconds,
        on_lag: Callable[[float], None] | None = None,
    ) -> None:
        self._check = check
        self._on_lag = on_lag
        self._started: dict[str, float] = {}  # wall time a scheduled run of each path began
        self._policy_check = policy_check
        self._store = store
        self._jitter = jitter
        self._paths: dict[str, PathConfig] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._mutex = threading.Lock()
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=max_concurrent)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )
        self._scheduler.add_listener(self._on_skipped, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
        self._scheduler.add_listener(self._on_done, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)

    def _on_skipped(self, event: JobEvent) -> None:
        # A run skipped because the previous one still runs (a slow or hung check) or because the
        # pool was saturated past the misfire grace: make it visible as an agent-side error.
        stage = "overrun" if event.code == EVENT_JOB_MAX_INSTANCES else "missed"
        self._store.record_error(stage)

    def _on_done(self, event: JobExecutionEvent) -> None:
        # max_instances=1: at most one run per path, so its start time is unambiguous here.
        started = self._started.pop(event.job_id, None)
        if started is not None and self._on_lag is not None:
            self._on_lag(started - event.scheduled_run_time.timestamp())

    def start(self) -> None:
        self._scheduler.start()

    def shutdown(self) -> None:
        """Stop scheduling; running checks are not waited for (a hung one must not block exit)."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def paths(self) -> dict[str, PathConfig]:
        with self._mutex:
            return dict(self._paths)

    def apply_paths(self, paths: Sequence[PathConfig]) -> None:
        """Make the schedule match `paths`: unchanged paths keep their job and results."""
        wanted = {p.name: p for p in paths}
        with self._mutex:
            for name in list(self._paths):
                if name not in wanted:
                    self._remove_job(name)
                    del self._paths[name]
                    if not self._locks[name].locked():  # a running probe keeps its lock until done
                        del self._locks[name]
            for name, path in wanted.items():
                if self._paths.get(name) == path:
                    continue
                self._remove_job(name)
                self._paths[name] = path
                self._locks.setdefault(name, threading.Lock())
                self._add_job(path, first_run_spread(len(wanted)))
            self._store.set_paths(wanted)

    def _remove_job(self, name: str) -> None:
        with contextlib.suppress(JobLookupError):
            self._scheduler.remove_job(name)

    def _add_job(self, path: PathConfig, spread: float = MAX_INITIAL_SPREAD_S) -> None:
        first = datetime.now(UTC) + timedelta(seconds=initial_delay(path.name, path.interval, spread))
        self._scheduler.add_job(
            self._scheduled_run,
            IntervalTrigger(seconds=path.interval, jitter=self._jitter(path.interval) or None, timezone=UTC),
            args=[path.name],
            id=path.name,
            name=path.name,
            next_run_time=first,
            misfire_grace_time=max(1, int(path.interval)),
            replace_existing=True,
        )

    def _scheduled_run(self, name: str) -> None:
        self._started[name] = time.time()
        # Busy: still running from an on-demand probe; KeyError: removed by a reload meanwhile.
        with contextlib.suppress(PathBusy, KeyError):
            self.run_now(name)

    def run_now(self, name: str, check: CheckFn | None = None) -> CheckResult:
        """Probe a configured path now in this thread and record it. KeyError if unknown, PathBusy if running.

        `check` replaces the scheduled check for this run (an on-demand probe someone waits on)."""
        with self._mutex:
            path = self._paths[name]
            lock = self._locks[name]
        if not lock.acquire(blocking=False):
            raise PathBusy(f"a probe of path {name!r} is already running")
        try:
            self._run_policy(path)
            result = safe_check(check or self._check, path, self._store.record_error)
            self._store.record(result)
            log_result(result)
            return result
        finally:
            lock.release()

    def _run_policy(self, path: PathConfig) -> None:
        try:
            self._store.set_policy(path.name, self._policy_check(path))
        except Exception as exc:
            log.warning(
                "policy check of path %s failed: %s", path.name, type(exc).__name__,
                extra={"event": "check_error", "path": path.name, "stage": "policy"},
            )  # fmt: skip
            self._store.record_error("policy")

    def next_run_times(self) -> dict[str, datetime | None]:
        return {job.id: job.next_run_time for job in self._scheduler.get_jobs()}
