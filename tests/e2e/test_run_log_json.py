"""`meshprober run --log-format json` on the seed lab, as a cluster would run it (a subprocess with a
kubeconfig): every stderr line is one JSON object with the stable keys, and each probe is one
`probe` event naming its path, verdict, stage and duration."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.e2e_helpers import MESHPROBER
from tests.support.lab import LabHandle, run_lab

pytestmark = pytest.mark.lab
PRODUCTPAGE = "http://productpage.bookinfo.svc.cluster.local:9080/productpage"
KEYS = ["time", "level", "logger", "event", "message", "path", "verdict", "stage", "duration"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabHandle]:
    yield from run_lab("seed", tmp_path_factory.mktemp("lab"))


def test_run_logs_one_json_object_per_event(lab: LabHandle, tmp_path: Path) -> None:
    config = {
        "defaults": {"interval": "2s", "timeout": "2s"},
        "limits": {"min_interval": "1s"},
        "paths": [
            {"name": "broken", "from": {"namespace": "load-test", "workload": "traffic-generator"},
             "to": {"url": PRODUCTPAGE}},
            {"name": "healthy", "from": {"namespace": "traffic-generator", "workload": "traffic-generator"},
             "to": {"url": PRODUCTPAGE}},
        ],
    }  # fmt: skip
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(config))
    argv = [*MESHPROBER, "run", "--config", str(tmp_path / "agent.yaml"), "--kubeconfig", lab.env["KUBECONFIG"],
            "--listen", "127.0.0.1:0", "--log-format", "json"]  # fmt: skip
    env = dict(lab.env, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    seen: dict[str, dict[str, object]] = {}
    done = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "probe":
                seen.setdefault(str(event["path"]), event)
            if {"broken", "healthy"} <= set(seen):
                done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert done.wait(90), "".join(lines)[-3000:]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        reader.join(10)
    events = [json.loads(line) for line in lines if line.strip()]  # every line parses: nothing but JSON
    for event in events:
        assert list(event)[: len(KEYS)] == KEYS, event
    assert any(e["event"] == "serving" for e in events)
    broken, healthy = seen["broken"], seen["healthy"]
    assert broken["verdict"] == "mtls_plaintext_to_strict" and broken["level"] == "warning"
    assert healthy["verdict"] == "ok" and healthy["level"] == "info" and healthy["stage"] is None
    assert isinstance(broken["duration"], float) and 0 < broken["duration"] < 60
