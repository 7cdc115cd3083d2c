"""`meshprober demo` as a user runs it (a subprocess): --once --json, --once, and the served agent.

The served run proves the whole loop: metrics show the conflict at start, the printed remedy applied
with the pinned kubectl heals the paths on the next round, Ctrl-C leaves no process behind.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from meshlab.kubectl import kubectl_path
from tests.support.e2e_helpers import MESHPROBER, check_broken, cli, free_port, processes_mentioning, wait_for

pytestmark = pytest.mark.lab

BROKEN = ("bookinfo-to-productpage", "load-test-to-productpage")
HEALTHY = "traffic-generator-to-productpage"


def test_demo_once_json() -> None:
    proc = cli("demo", "--once", "--json", timeout=120)
    assert proc.returncode == 1, proc.stderr[-2000:]
    items = {item["path"]: item for item in json.loads(proc.stdout)}
    assert set(BROKEN) | {HEALTHY} <= set(items)
    for name in BROKEN:
        check_broken(items[name])
    assert items[HEALTHY]["verdict"] == "ok"
    for item in items.values():
        assert set(item["source"]) >= {"namespace", "workload", "pod"}
        assert item["source"]["pod"], item
        assert item["target"].startswith("http://")
        assert {"category", "verdict", "confidence", "summary", "evidence", "remedy"} <= set(item)
    assert "KUBECONFIG=" in proc.stderr  # the lab's kubeconfig is announced on stderr with --json


def test_demo_seed_no_curl_probes_from_an_ephemeral_container(tmp_path: Path) -> None:
    """The load-test generator has no curl: the same verdicts, probed from meshprober-probe, and the
    evidence bundle (kept under --state-dir) says where the probe ran."""
    proc = cli(
        "demo", "--scenario", "seed-no-curl", "--once", "--json", "--state-dir", str(tmp_path), timeout=120
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    items = {item["path"]: item for item in json.loads(proc.stdout)}
    for name in BROKEN:
        check_broken(items[name])
    assert items[HEALTHY]["verdict"] == "ok"
    load_test = items["load-test-to-productpage"]
    assert load_test["source"]["container"] == "meshprober-probe"
    assert any("ephemeral container meshprober-probe" in e for e in load_test["evidence"])
    assert items["bookinfo-to-productpage"]["source"]["container"] == "traffic-generator"  # has curl: exec
    bundle = Path(load_test["bundle_dir"])
    probe = json.loads((bundle / "probe.json").read_text())
    assert probe["source"]["container"] == "meshprober-probe"
    diagnosis = json.loads((bundle / "diagnosis.json").read_text())
    assert any("ephemeral container meshprober-probe" in e for e in diagnosis["evidence"])


def test_demo_once_human() -> None:
    proc = cli("demo", "--once", timeout=120)
    assert proc.returncode == 1, proc.stderr[-2000:]
    out = proc.stdout
    for name in (*BROKEN, HEALTHY):
        assert name in out
    assert "mtls_plaintext_to_strict" in out
    assert "Fix for" in out and "ISTIO_MUTUAL" in out and "LEAST_CONN" in out
    assert re.search(r"export KUBECONFIG=\S+kubeconfig\n", out), out[:500]


def test_demo_port_taken_is_a_usage_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = cli("demo", "--listen", f"127.0.0.1:{port}", timeout=30)
    assert proc.returncode == 2
    assert "--listen" in proc.stderr and "Traceback" not in proc.stderr


def test_demo_refuses_a_non_loopback_listener() -> None:
    """The demo serves ad-hoc probes: only on loopback (fails before the lab starts)."""
    proc = cli("demo", "--listen", "0.0.0.0:0", timeout=30)
    assert proc.returncode == 2
    assert "only on loopback" in proc.stderr and "Traceback" not in proc.stderr


def _samples(text: str, metric: str) -> dict[str, float]:
    """path label -> value of `metric` (the last sample per path)."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == metric:
                out[sample.labels["path"]] = sample.value
    return out


def test_demo_serves_and_heals_after_the_remedy(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "demo.out").open("w+")
    env = dict(os.environ, MESHPROBER_DEMO_INTERVAL="1", PYTHONUNBUFFERED="1", PYTHONFAULTHANDLER="1")
    argv = [*MESHPROBER, "demo", "--listen", f"127.0.0.1:{port}"]  # its own temporary state dir
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, text=True)
    try:

        def metrics() -> str | None:
            try:
                resp = httpx.get(f"{base}/metrics", timeout=5)
            except httpx.HTTPError:
                return None
            return resp.text if resp.status_code == 200 else None

        def first_round() -> str | None:
            text = metrics()
            done = text and set(_samples(text, "meshprober_probe_success")) >= {*BROKEN, HEALTHY}
            return text if done else None

        early = wait_for("the demo's /metrics", metrics, timeout=60, every=0.2)
        if "meshprober_probe_success{" not in early:  # scraped before any probe finished
            assert _samples(early, "meshprober_tls_conflict").get(BROKEN[0]) == 1.0, early
        text = wait_for("the demo's first round in /metrics", first_round, timeout=60, every=0.5)
        success = _samples(text, "meshprober_probe_success")
        conflict = _samples(text, "meshprober_tls_conflict")
        for name in BROKEN:
            assert success[name] == 0.0 and conflict[name] == 1.0
        assert success[HEALTHY] == 1.0

        printed = Path(log.name).read_text()
        kubeconfig = re.search(r"export KUBECONFIG=(\S+)", printed)
        assert kubeconfig, printed[:1000]
        state = Path(kubeconfig.group(1)).parent.parent  # <state>/lab/kubeconfig
        token = wait_for(
            "the demo's API token line",
            lambda: re.search(r"API token for this run \(printed once\): (\S+)", Path(log.name).read_text()),
            timeout=30,
            every=0.2,
        ).group(1)
        assert Path(log.name).read_text().count("API token for this run") == 1
        assert httpx.get(f"{base}/api/v1/paths", timeout=5).status_code == 401  # the demo's API is not open
        auth = {"Authorization": f"Bearer {token}"}
        paths = httpx.get(f"{base}/api/v1/paths", timeout=5, headers=auth).json()
        patch = next(p for p in paths if p["path"] == BROKEN[0])["remedy"]["patch"]
        (tmp_path / "fix.yaml").write_text(patch)
        kenv = dict(os.environ, KUBECONFIG=kubeconfig.group(1), KUBECACHEDIR=str(tmp_path / "kcache"))
        applied = subprocess.run(
            [str(kubectl_path()), "apply", "-f", str(tmp_path / "fix.yaml")],
            env=kenv, capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert applied.returncode == 0, applied.stderr

        def healed() -> str | None:
            text = metrics() or ""
            ok = _samples(text, "meshprober_probe_success")
            tls = _samples(text, "meshprober_tls_conflict")
            good = all(ok.get(n) == 1.0 and tls.get(n, 0.0) == 0.0 for n in BROKEN)
            return text if good else None

        wait_for("both broken paths healthy after the remedy", healed, timeout=45, every=1.0)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)  # PYTHONFAULTHANDLER: every thread's stack into the log
            proc.wait(timeout=10)
            raise AssertionError(
                "the demo did not stop on SIGINT:\n" + Path(log.name).read_text()[-6000:]
            ) from None
        finally:
            log.close()
    assert proc.returncode == 0, Path(log.name).read_text()[-2000:]
    output = Path(log.name).read_text()
    # Known lab issue (meshlab, not ours): its exec pump may log an unretrieved task exception
    # while it shuts down. Any other traceback is a failure.
    blocks = output.split("Traceback (most recent call last):")[1:]
    assert all("meshlab/apiserver/" in block for block in blocks), output[-3000:]
    # Envoys and app servers are started with the state dir in their argv: none may survive.
    wait_for("no process mentioning the demo's state dir", lambda: not processes_mentioning(str(state)), 10)
    time.sleep(1.0)  # a late evidence write of an in-flight check would re-create the dir by now
    assert not state.exists(), sorted(str(p) for p in state.rglob("*"))[:10]
