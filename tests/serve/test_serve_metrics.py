"""Metrics content, parsed with prometheus_client.parser: names and labels exactly as DESIGN.md."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from serve_fakes import CONFLICT, make_path, make_result

from agent.model import VERDICT_CATEGORY, Verdict
from agent.serve.metrics import StoreCollector, make_registry, single_probe_exposition
from agent.serve.store import ResultStore

PATHS = {p.name: p for p in (make_path("broken"), make_path("healthy"))}


def scrape(store: ResultStore, shard: tuple[int, int] = (0, 1)) -> dict[str, list[Sample]]:
    registry = make_registry(StoreCollector(store, lambda: PATHS, lambda: shard))
    text = generate_latest(registry).decode()
    samples: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def value(samples: dict[str, list[Sample]], name: str, **labels: str) -> float:
    hits = [s.value for s in samples.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(hits) == 1, f"{name}{labels}: {len(hits)} samples"
    return hits[0]


@pytest.fixture
def store() -> ResultStore:
    s = ResultStore()
    s.set_paths(PATHS)
    return s


def test_every_verdict_starts_at_zero(store: ResultStore) -> None:
    samples = scrape(store)
    for name in PATHS:
        for verdict in Verdict:
            labels = {"path": name, "verdict": verdict.value, "category": VERDICT_CATEGORY[verdict].value}
            assert value(samples, "meshprober_probes_total", **labels) == 0
            assert value(samples, "meshprober_path_verdict", **labels) == 0
    assert "meshprober_probe_success" not in samples  # no probe yet: no fake 0/1
    assert value(samples, "meshprober_errors_total", stage="config") == 0


def test_results_drive_success_status_counters_and_state_set(store: ResultStore) -> None:
    store.record(make_result("healthy", Verdict.OK, duration=0.3))
    store.record(make_result("broken", Verdict.NO_ROUTE, duration=0.02))
    store.record(make_result("broken", Verdict.MTLS_PLAINTEXT_TO_STRICT, duration=2.0))
    s = scrape(store)
    assert value(s, "meshprober_probe_success", path="healthy") == 1
    assert value(s, "meshprober_probe_success", path="broken") == 0
    assert value(s, "meshprober_probe_http_status_code", path="broken") == 503
    assert value(s, "meshprober_last_probe_timestamp_seconds", path="healthy") > 1.7e9
    assert value(s, "meshprober_probes_total", path="broken", verdict="no_route", category="routing") == 1
    assert value(s, "meshprober_probes_total", path="broken", verdict="mtls_plaintext_to_strict") == 1
    current = [x for x in s["meshprober_path_verdict"] if x.labels["path"] == "broken" and x.value == 1]
    assert [x.labels["verdict"] for x in current] == ["mtls_plaintext_to_strict"]  # state set: exactly one 1
    assert current[0].labels["category"] == "tls"
    assert value(s, "meshprober_probe_duration_seconds_count", path="broken") == 2
    assert value(s, "meshprober_probe_duration_seconds_bucket", path="broken", le="0.05") == 1
    assert value(s, "meshprober_probe_duration_seconds_bucket", path="broken", le="+Inf") == 2
    assert value(s, "meshprober_probe_duration_seconds_sum", path="broken") == pytest.approx(2.02, abs=0.01)


def test_labels_are_bounded(store: ResultStore) -> None:
    store.record(make_result("broken", Verdict.NO_ROUTE, summary="free text with request id 1234"))
    s = scrape(store)
    labels = s["meshprober_probe_success"][0].labels
    assert labels == {
        "path": "broken", "source_namespace": "load-test", "source_workload": "gen",
        "destination_service": "broken", "destination_port": "9080",
    }  # fmt: skip
    text = generate_latest(make_registry(StoreCollector(store, lambda: PATHS))).decode()
    assert "gen-7d9f-abcde" not in text and "request id" not in text  # no pod names, no free text


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        (CONFLICT, 1.0),
        (CONFLICT.__class__(**{**CONFLICT.__dict__, "status": "OK", "client_mode": "ISTIO_MUTUAL"}), 0.0),
    ],
    ids=["conflict", "healthy-policy"],
)
def test_tls_conflict_from_policy_checks(store: ResultStore, view: object, expected: float) -> None:
    store.set_policy("broken", view)  # type: ignore[arg-type]
    s = scrape(store)
    sample = value(
        s, "meshprober_tls_conflict", path="broken", server_mode="STRICT",
        destination_rule="bookinfo/destrule-productpage", peer_authentication="bookinfo/default",
    )  # fmt: skip
    assert sample == expected
    assert [x.labels["path"] for x in s["meshprober_tls_conflict"]] == ["broken"]


def test_errors_build_and_shard_info(store: ResultStore) -> None:
    store.record(make_result("broken", Verdict.PROBE_FAILED, error_stage="exec"))  # not counted twice:
    store.record_error("exec")  # the pipeline counts its own errors where they happen
    store.record_error("config")
    s = scrape(store, shard=(1, 3))
    assert value(s, "meshprober_errors_total", stage="exec") == 1
    assert value(s, "meshprober_errors_total", stage="config") == 1
    assert value(s, "meshprober_errors_total", stage="api") == 0
    assert value(s, "meshprober_build_info") == 1
    assert value(s, "meshprober_shard_info", index="1", count="3") == 1
    assert value(s, "meshprober_paths") == 2


def test_single_probe_exposition_holds_only_that_probe() -> None:
    path = make_path("broken")
    text = single_probe_exposition(
        make_result(path, Verdict.MTLS_PLAINTEXT_TO_STRICT), path, CONFLICT
    ).decode()
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    assert fams["meshprober_probe_success"].samples[0].value == 0
    assert fams["meshprober_tls_conflict"].samples[0].value == 1
    assert "meshprober_build_info" not in fams
    assert {s.labels["path"] for f in fams.values() for s in f.samples} == {"broken"}


def test_probe_container_creations_are_counted_per_source_namespace(store: ResultStore) -> None:
    assert "meshprober_probe_containers_created_total" not in scrape(store)  # none yet: no samples
    store.record_probe_container("bookinfo")
    store.record_probe_container("bookinfo")
    store.record_probe_container("load-test")
    s = scrape(store)
    assert value(s, "meshprober_probe_containers_created_total", source_namespace="bookinfo") == 2
    assert value(s, "meshprober_probe_containers_created_total", source_namespace="load-test") == 1
    assert value(s, "meshprober_errors_total", stage="ephemeral_forbidden") == 0  # a known stage
