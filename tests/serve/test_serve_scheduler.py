"""Scheduler: bounded concurrency, no overlap per path, hung-check isolation, jitter bounds, reschedule."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator

import pytest
from serve_fakes import CONFLICT, StandInCheck, make_path, wait_until

from agent.errors import ExecTimeout
from agent.model import Verdict
from agent.results import SourceRef, source_ref
from agent.serve.scheduler import (
    MAX_INITIAL_SPREAD_S,
    MAX_JITTER_S,
    PathBusy,
    ProbeScheduler,
    first_run_spread,
    initial_delay,
    jitter_seconds,
)
from agent.serve.store import ResultStore


@pytest.fixture
def make_scheduler() -> Iterator[type[ProbeScheduler]]:
    made: list[ProbeScheduler] = []

    def factory(*args: object, **kwargs: object) -> ProbeScheduler:
        sched = ProbeScheduler(*args, **kwargs)  # type: ignore[arg-type]
        made.append(sched)
        return sched

    yield factory  # type: ignore[misc]
    for sched in made:
        sched.shutdown()


def no_policy(path: object) -> None:
    return None


def test_concurrency_is_bounded(make_scheduler: type[ProbeScheduler]) -> None:
    check = StandInCheck(delay=0.15)
    sched = make_scheduler(check, no_policy, ResultStore(), max_concurrent=2)
    sched.apply_paths([make_path(f"p{i}", interval=0.2) for i in range(6)])
    sched.start()
    assert wait_until(lambda: sum(check.calls.values()) >= 10, timeout=10)
    assert check.max_active_total <= 2


def test_hung_check_does_not_delay_other_paths_and_never_overlaps(
    make_scheduler: type[ProbeScheduler],
) -> None:
    check = StandInCheck()
    hung = threading.Event()
    check.blockers["hung"] = hung
    store = ResultStore()
    sched = make_scheduler(check, no_policy, store, max_concurrent=3)
    sched.apply_paths(
        [make_path("hung", interval=0.1), make_path("a", interval=0.1), make_path("b", interval=0.1)]
    )
    sched.start()
    try:
        assert wait_until(lambda: check.count("hung") == 1)
        start_a, start_b = check.count("a"), check.count("b")
        # The other paths keep their rhythm while "hung" is stuck; "hung" never runs twice at once.
        assert wait_until(lambda: check.count("a") - start_a >= 3 and check.count("b") - start_b >= 3)
        assert check.count("hung") == 1
        assert check.max_active_per_path["hung"] == 1
        assert store.errors()["overrun"] >= 1  # the skipped runs of the hung path are visible
        with pytest.raises(PathBusy):
            sched.run_now("hung")  # an on-demand probe of a running path is refused, not doubled
    finally:
        hung.set()
    assert wait_until(lambda: store.latest("hung") is not None)
    assert all(n <= 1 for n in check.max_active_per_path.values())


@pytest.mark.parametrize(
    ("exc", "stage"),
    [(ExecTimeout("exec deadline passed"), "exec_timeout"), (RuntimeError("boom"), "check")],
    ids=["exec-timeout", "unexpected-bug"],
)
def test_check_exception_becomes_probe_failed(
    make_scheduler: type[ProbeScheduler], exc: Exception, stage: str
) -> None:
    check = StandInCheck()
    check.raises["p"] = exc
    store = ResultStore()
    sched = make_scheduler(check, no_policy, store)
    sched.apply_paths([make_path("p")])
    result = sched.run_now("p")
    assert result.diagnosis.verdict is Verdict.PROBE_FAILED and result.error_stage == stage
    assert store.errors()[stage] == 1
    assert "boom" not in result.diagnosis.summary  # non-meshprober exception text is not echoed


def test_policy_check_result_and_failure_are_recorded(make_scheduler: type[ProbeScheduler]) -> None:
    store = ResultStore()
    calls: list[str] = []

    def policy(path: object) -> object:
        calls.append(path.name)  # type: ignore[attr-defined]
        if path.name == "bad":  # type: ignore[attr-defined]
            raise RuntimeError("api down")
        return CONFLICT

    sched = make_scheduler(StandInCheck(), policy, store)
    sched.apply_paths([make_path("good"), make_path("bad")])
    sched.run_now("good")
    sched.run_now("bad")
    snaps = {s.name: s for s in store.snapshot()}
    assert snaps["good"].policy == CONFLICT and snaps["bad"].policy is None
    assert store.errors()["policy"] == 1 and calls == ["good", "bad"]


def test_apply_paths_keeps_unchanged_jobs_and_results(make_scheduler: type[ProbeScheduler]) -> None:
    store = ResultStore()
    sched = make_scheduler(StandInCheck(), no_policy, store)
    keep, change, drop = make_path("keep"), make_path("change"), make_path("drop")
    sched.apply_paths([keep, change, drop])
    for name in ("keep", "change", "drop"):
        sched.run_now(name)
    before = sched.next_run_times()
    sched.apply_paths([keep, make_path("change", interval=60), make_path("new")])
    after = sched.next_run_times()
    assert after["keep"] == before["keep"]
    assert set(after) == {"keep", "change", "new"}
    assert store.latest("keep") is not None and store.latest("drop") is None
    assert store.names() == ["change", "keep", "new"]
    with pytest.raises(KeyError):
        sched.run_now("drop")


@pytest.mark.parametrize("interval", [0.2, 10.0, 30.0, 600.0, 3600.0], ids=lambda i: f"interval-{i:g}s")
def test_jitter_and_initial_spread_bounds(interval: float) -> None:
    assert 0 <= jitter_seconds(interval) <= min(interval * 0.1, MAX_JITTER_S)
    delays = [initial_delay(f"path-{i}", interval) for i in range(200)]
    assert all(0 <= d < min(interval, MAX_INITIAL_SPREAD_S) for d in delays)
    assert initial_delay("path-1", interval) == delays[1]  # stable across calls
    assert len(set(delays)) > 150  # spread out, not all at once


@pytest.mark.parametrize(
    ("paths", "interval", "widest"),
    [
        pytest.param(10, 30.0, MAX_INITIAL_SPREAD_S, id="few-paths-start-within-10s"),
        pytest.param(1000, 50.0, 50.0, id="many-paths-spread-over-the-interval"),
        pytest.param(300, 60.0, 30.0, id="some-paths-10-per-second"),
    ],
)
def test_first_runs_spread_with_the_number_of_paths(paths: int, interval: float, widest: float) -> None:
    spread = first_run_spread(paths)
    delays = [initial_delay(f"path-{i}", interval, spread) for i in range(paths)]
    assert max(delays) < widest and max(delays) > widest * 0.9


def test_scheduled_runs_respect_jitter_window(make_scheduler: type[ProbeScheduler]) -> None:
    check = StandInCheck()
    stamps: list[float] = []
    inner = check.__call__

    def timed(path: object) -> object:
        stamps.append(time.monotonic())
        return inner(path)  # type: ignore[arg-type]

    sched = make_scheduler(timed, no_policy, ResultStore(), jitter=lambda interval: 0.1)
    sched.apply_paths([make_path("p", interval=0.2)])
    sched.start()
    assert wait_until(lambda: len(stamps) >= 5, timeout=5)
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    # Interval 0.2 s with up to 0.1 s jitter per run: gaps lie in (0.2 - 0.1, 0.2 + 0.1); the upper
    # bound gets generous slack because a loaded CI machine can only make runs later, never earlier.
    assert all(0.09 <= g <= 1.0 for g in gaps), gaps


@pytest.mark.parametrize(
    ("container", "pod", "picked", "expected"),
    [
        pytest.param(None, None, None, SourceRef("load-test", "gen", None, None), id="healthy-defaults"),
        pytest.param(
            "app", None, None, SourceRef("load-test", "gen", None, "app"), id="configured-container"
        ),
        pytest.param(
            "app", "gen-1", "main", SourceRef("load-test", "gen", "gen-1", "main"), id="picked-wins"
        ),
    ],
)
def test_source_ref(container: str | None, pod: str | None, picked: str | None, expected: SourceRef) -> None:
    # The scheduler's probe_failed results name the configured container before any pod is picked.
    path = make_path("p")
    if container is not None:
        path = path.model_copy(update={"source": path.source.model_copy(update={"container": container})})
    assert source_ref(path, pod, picked) == expected
