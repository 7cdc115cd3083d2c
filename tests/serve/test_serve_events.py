"""`meshprober run --log-format json`: one JSON object per log record with stable keys (path, verdict,
stage, duration ...), one `probe` event per result; text stays the default. Table-driven on results,
then through a real scheduler run, then the CLI's flag checks."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator

import pytest
from serve_fakes import StandInCheck, make_path, make_result

from agent.model import Verdict
from agent.results import CheckResult
from agent.serve.events import KEYS, JsonFormatter, configure_logging, log_result
from agent.serve.scheduler import ProbeScheduler
from agent.serve.store import ResultStore


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)


CASES = {
    "healthy-no-finding": (make_result("p", Verdict.OK, duration=0.25), "info", "ok", None),
    "mtls-mismatch": (make_result("p", Verdict.MTLS_PLAINTEXT_TO_STRICT), "warning", "mtls_plaintext_to_strict", None),
    "agent-side-failure": (make_result("p", Verdict.PROBE_FAILED, error_stage="exec"), "warning", "probe_failed", "exec"),
}  # fmt: skip


@pytest.mark.parametrize(("result", "level", "verdict", "stage"), CASES.values(), ids=CASES.keys())
def test_probe_event(
    json_log: io.StringIO, result: CheckResult, level: str, verdict: str, stage: str | None
) -> None:
    log_result(result)
    (line,) = json_log.getvalue().splitlines()
    event = json.loads(line)
    assert list(event)[: len(KEYS)] == list(KEYS)
    assert (event["event"], event["level"], event["path"], event["verdict"], event["stage"]) == (
        "probe",
        level,
        "p",
        verdict,
        stage,
    )
    assert event["duration"] == pytest.approx(result.duration_s, abs=1e-3)
    assert event["message"].startswith(f"path p: {verdict}")


def test_plain_records_keep_the_keys(json_log: io.StringIO) -> None:
    logging.getLogger("agent.x").warning("config: %s changed", "api")
    event = json.loads(json_log.getvalue())
    assert event["message"] == "config: api changed" and event["event"] == "log"
    assert all(event[k] is None for k in ("path", "verdict", "stage", "duration"))


def test_scheduler_logs_one_event_per_probe(json_log: io.StringIO) -> None:
    check = StandInCheck()
    check.verdicts["broken"] = Verdict.MTLS_PLAINTEXT_TO_STRICT
    check.raises["crashing"] = RuntimeError("boom")
    sched = ProbeScheduler(check, lambda p: None, ResultStore())
    sched.apply_paths([make_path("broken"), make_path("healthy"), make_path("crashing")])
    try:
        for name in ("broken", "healthy", "crashing"):
            sched.run_now(name)
    finally:
        sched.shutdown()
    events = [json.loads(line) for line in json_log.getvalue().splitlines()]
    probes = {e["path"]: e for e in events if e["event"] == "probe"}
    assert {k: v["verdict"] for k, v in probes.items()} == {
        "broken": "mtls_plaintext_to_strict", "healthy": "ok", "crashing": "probe_failed",
    }  # fmt: skip
    assert probes["crashing"]["stage"] == "check"
    errors = [e for e in events if e["event"] == "check_error"]
    assert [(e["path"], e["stage"]) for e in errors] == [("crashing", "check")]


def test_text_is_the_default_format(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging("INFO", "text")
    try:
        log_result(make_result("p", Verdict.OK))
    finally:  # the handler writes to capsys's stream, which closes after this test
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        root.handlers[:], root.level = saved[0], saved[1]
    err = capsys.readouterr().err
    assert "INFO meshprober.events: path p: ok" in err and "{" not in err


@pytest.mark.parametrize(("flag", "value"), [("--log-format", "xml"), ("--log-level", "LOUD")])
def test_run_rejects_bad_log_flags(flag: str, value: str, tmp_path: object) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "agent", "run", "--config", "nope.yaml", flag, value],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and flag in proc.stderr and "Traceback" not in proc.stderr
