"""Issue 18's done-criterion on the lab: `kubectl logs POD -c istio-proxy | meshprober explain -`.

The seed lab (real Envoy sidecars, the pinned kubectl) reproduces the seed failure; the client
sidecar's own log is piped, process to process, into the command. Its `503 UC ...
connection_termination` line must get the "likely TLS handshake" reading, in the tls category, below
high confidence, naming the check that would confirm it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support.lab import LabHandle, run_lab

pytestmark = [pytest.mark.envoy, pytest.mark.lab]
URL = "http://productpage.bookinfo.svc.cluster.local:9080/productpage"
SOURCE = "load-test/traffic-generator"
RID = "explain-seed-rid-1"


@pytest.fixture(scope="module")
def seed_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabHandle]:
    yield from run_lab("seed", tmp_path_factory.mktemp("explain-seed"))


def _pipe_logs_into_explain(lab: LabHandle, *explain_args: str) -> tuple[int, str, str]:
    namespace, workload = SOURCE.split("/")
    logs = subprocess.Popen(
        [lab.kubectl, "logs", "-n", namespace, lab.pod(namespace, workload), "-c", "istio-proxy"],
        env=lab.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        explain = subprocess.run(
            [sys.executable, "-m", "agent", "explain", *explain_args, "-"],
            stdin=logs.stdout, capture_output=True, text=True, timeout=60, check=False, env=lab.env,
        )  # fmt: skip
    finally:
        assert logs.stdout is not None
        logs.stdout.close()
        logs.wait(timeout=30)
    return explain.returncode, explain.stdout, explain.stderr


def test_kubectl_logs_piped_into_explain_reads_the_seed_failure(seed_lab: LabHandle) -> None:
    assert seed_lab.curl(SOURCE, URL, RID).stdout == "503"
    assert seed_lab.proxy_log_lines(SOURCE, RID), "the client sidecar logged the request"
    code, out, err = _pipe_logs_into_explain(seed_lab, "--json")
    assert code == 1, err
    mine = [o for o in json.loads(out) if RID in o["input"]]
    assert len(mine) == 1, out
    got = mine[0]
    assert (got["kind"], got["http_status"], got["response_flags"]) == ("access_log", 503, "UC")
    assert (got["category"], got["verdict"]) == ("tls", "tls_handshake_failed")
    assert got["confidence"] in ("medium", "low")
    assert "likely TLS handshake" in got["summary"]
    assert f"meshprober probe --from NS/WORKLOAD --to {URL}" in got["confirm"]
    assert "meshprober tls-check --from NS/POD productpage.bookinfo.svc.cluster.local:9080" in got["confirm"]


def test_the_text_output_names_the_check(seed_lab: LabHandle) -> None:
    seed_lab.curl(SOURCE, URL, RID + "-text")
    assert seed_lab.proxy_log_lines(SOURCE, RID + "-text")
    code, out, _ = _pipe_logs_into_explain(seed_lab)
    assert code == 1
    assert "tls_handshake_failed" in out and "likely TLS handshake" in out
    assert f"confirm: meshprober probe --from NS/WORKLOAD --to {URL}" in out
