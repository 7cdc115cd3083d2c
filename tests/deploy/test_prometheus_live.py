"""A real Prometheus on loopback scrapes meshprober metrics; every dashboard panel query and every
alert expression is then evaluated through its HTTP API (/api/v1/query).

A query fails the test when Prometheus rejects it, or when it returns nothing although the seed
scenario must make it non-empty. Two metric sources:
- `static`: tests/deploy/testdata/seed-metrics.prom served by a tiny http.server (always runs);
- `demo`: `meshprober demo --listen 127.0.0.1:PORT` (the real agent on the seed lab).
Everything is bound to 127.0.0.1, every wait is bounded, and every process started here is killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_helpers import dashboard, grafana_to_promql, panel_queries, rule_exprs, tool

FIXTURE = Path(__file__).parent / "testdata" / "seed-metrics.prom"
PROMETHEUS = tool("prometheus")
MESHPROBER = tool("meshprober")
COUNTER_SAMPLE = re.compile(r"^(meshprober_\w+_(?:total|bucket|count|sum))(\{[^}]*\})? (\S+)$")
# Panels whose queries may legitimately be empty on the seed scenario with the real demo (a healthy
# agent has no errors; an unsharded one may not export shard info).
DEMO_MAY_BE_EMPTY = ("Agent errors", "Shard health [A]")
# Alerts: the seed must fire these ...
SEED_FIRING = {"MeshproberPathFailing", "MeshproberMtlsConflict"}
# ... and must not fire these (a freshly probing agent, scraped, unsharded).
SEED_QUIET = {"MeshproberNotProbing", "MeshproberAbsent", "MeshproberShardMissing"}

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None, reason="prometheus not installed (Debian package prometheus)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def render_fixture(text: str, scrape: int, now: float) -> str:
    """The fixture as the agent would serve it at scrape number `scrape`: fresh timestamps, counters grown."""
    out = []
    for line in text.splitlines():
        line = line.replace("__NOW__", f"{now:.3f}")
        m = COUNTER_SAMPLE.match(line)
        if m:
            # steep enough that 3 scrapes push the errors counter past MeshproberErrorsRising's threshold
            line = f"{m.group(1)}{m.group(2) or ''} {float(m.group(3)) * (1 + 3 * scrape):g}"
        out.append(line)
    return "\n".join(out) + "\n"


@contextlib.contextmanager
def static_metrics_server() -> Iterator[str]:
    """Serve the seed fixture at http://127.0.0.1:PORT/metrics; yields 'HOST:PORT'."""
    text = FIXTURE.read_text()
    scrapes = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/metrics":
                self.send_error(404)
                return
            body = render_fixture(text, scrapes[0], time.time()).encode()
            scrapes[0] += 1
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except OSError as exc:
        code = getattr(exc, "code", 0)
        body = exc.read() if hasattr(exc, "read") else b""
        return code, body


def _wait(
    what: str, check: Callable[[], bool], deadline_s: float, proc: subprocess.Popen[bytes] | None = None
) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: process exited with {proc.returncode}")
        time.sleep(0.25)
    raise AssertionError(f"{what}: not ready after {deadline_s:g}s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the process group we started (bounded), then kill it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@contextlib.contextmanager
def prometheus(target: str, tmp: Path) -> Iterator[str]:
    """A Prometheus scraping `target` every second; yields its base URL. Labels mimic the PodMonitor."""
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "meshprober/meshprober",
                "static_configs": [
                    {"targets": [target], "labels": {"namespace": "meshprober", "pod": "meshprober-0"}}
                ],
            }
        ],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = (tmp / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            str(PROMETHEUS),
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1h",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait("prometheus /-/ready", lambda: _get(f"{base}/-/ready", 1)[0] == 200, 30, proc)
        yield base
    finally:
        _stop(proc)
        log.close()


def query(base: str, expr: str) -> tuple[str, list[Any], str]:
    """(status, result list, error) of an instant query."""
    code, body = _get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    try:
        data = json.loads(body)
    except ValueError:
        return "error", [], f"HTTP {code}: {body[:200]!r}"
    return data.get("status", "error"), data.get("data", {}).get("result", []), data.get("error", "")


def _enough_samples(base: str) -> bool:
    # rate()/increase() need a few samples in the window; 1s scrapes make this quick.
    status, result, _ = query(base, "count_over_time(meshprober_build_info[1m])")
    return status == "success" and bool(result) and float(result[0]["value"][1]) >= 3


def evaluate_everything(
    base: str, may_be_empty: tuple[str, ...], firing: set[str], quiet: set[str]
) -> list[str]:
    """Every panel query, template variable and alert expression; returns the problems found."""
    problems: list[str] = []
    for panel, expr in panel_queries(dashboard()):
        status, result, error = query(base, grafana_to_promql(expr))
        if status != "success":
            problems.append(f"panel {panel}: {error}")
        elif not result and not panel.startswith(may_be_empty):
            problems.append(f"panel {panel}: empty result for {expr}")
    for var in dashboard()["templating"]["list"]:
        m = re.match(r"label_values\((.+), *(\w+)\)$", var.get("definition", ""))
        if m:
            status, result, error = query(base, f"count by ({m.group(2)}) ({grafana_to_promql(m.group(1))})")
            if status != "success" or not result:
                problems.append(f"template variable {var['name']}: no values ({error})")
    for name, expr in rule_exprs():
        status, result, error = query(base, expr)
        if status != "success":
            problems.append(f"alert {name}: {error}")
        elif name in firing and not result:
            problems.append(f"alert {name}: expected to fire on the seed scenario, expression is empty")
        elif name in quiet and result:
            problems.append(f"alert {name}: must stay quiet on the seed scenario, got {result}")
    return problems


def data_link_problems(base: str, agent: str) -> list[str]:
    """Follow each panel's path data link as Grafana fills it from the query's series: every link must
    open that path's page on the agent at `agent` (the dashboard's agent_url)."""
    problems: list[str] = []
    followed = 0
    for panel in dashboard()["panels"]:
        for link in panel.get("fieldConfig", {}).get("defaults", {}).get("links", []):
            url = link["url"].replace("${agent_url}", agent)
            field = re.search(r"\$\{__(?:data\.fields|field\.labels)\.(\w+)\}", url)
            if field is None:
                code, _ = _get(url)
                problems += [] if code == 200 else [f"panel {panel['title']}: {url} -> HTTP {code}"]
                continue
            for target in panel["targets"]:
                _, result, _ = query(base, grafana_to_promql(target["expr"]))
                for series in result:
                    value = series["metric"].get(field.group(1))
                    if value is None:
                        continue
                    code, body = _get(url.replace(field.group(0), urllib.parse.quote(value)))
                    followed += 1
                    # A path page names its path; an overview link (?q=VERDICT) just has to open.
                    if code != 200 or ("/paths/" in url and value.encode() not in body):
                        problems.append(f"panel {panel['title']}: link for {value} -> HTTP {code}")
    return problems if followed else ["no path data link could be followed"]


def test_fixture_is_valid_exposition_format() -> None:
    promtool = tool("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    text = render_fixture(FIXTURE.read_text(), 0, time.time())
    proc = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_queries_against_static_seed_exposition(tmp_path: Path) -> None:
    with static_metrics_server() as target, prometheus(target, tmp_path) as base:
        _wait("3 scrapes of the seed exposition", lambda: _enough_samples(base), 30)
        problems = evaluate_everything(
            base, may_be_empty=(), firing=SEED_FIRING | {"MeshproberErrorsRising"}, quiet=SEED_QUIET
        )
    assert problems == []


@pytest.mark.lab
@pytest.mark.skipif(MESHPROBER is None, reason="the meshprober console script is not installed")
def test_queries_against_meshprober_demo(tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "demo.log").open("wb")
    demo = subprocess.Popen(
        [str(MESHPROBER), "demo", "--listen", f"127.0.0.1:{port}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        try:
            _wait(
                "meshprober demo /metrics",
                lambda: _get(f"http://127.0.0.1:{port}/metrics", 2)[0] == 200,
                120,
                demo,
            )
        except AssertionError as exc:
            out = (tmp_path / "demo.log").read_bytes().decode(errors="replace")[-2000:]
            raise AssertionError(f"{exc}\n--- demo output ---\n{out}") from None
        with prometheus(f"127.0.0.1:{port}", tmp_path) as base:
            _wait("3 scrapes of the demo", lambda: _enough_samples(base), 60)
            problems = evaluate_everything(
                base, may_be_empty=DEMO_MAY_BE_EMPTY, firing=SEED_FIRING, quiet=SEED_QUIET
            )
            problems += data_link_problems(base, f"http://127.0.0.1:{port}")
    finally:
        _stop(demo)
        log.close()
    assert problems == []
