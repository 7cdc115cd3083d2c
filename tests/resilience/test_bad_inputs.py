"""Bad evidence from a sick cluster: truncated and huge config dumps, garbage and partial access-log lines.

Each ends in a clear InputError or a parsed result within bounded memory, never a traceback.
The big dump is MESHPROBER_BIG_DUMP_MB megabytes (default 200, as issue 7 asks); it is generated
and parsed in child processes so its memory high-water mark (ru_maxrss) is measured per side and
does not stay in the test process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.envoy.access_log import find_by_request_id, parse_line, parse_log
from agent.envoy.config_dump import find_cluster, parse_clusters
from agent.errors import InputError
from tests.support.shared_data import REAL

REPO = Path(__file__).resolve().parents[2]
ENVOY_DUMP = REPO / "tests/envoy/testdata/envoy-1.40/config_dump.json"
ENVOY_LOG = REPO / "tests/envoy/testdata/envoy-1.40/access.log"
ISTIO_LOG = REAL / "access_logs" / "istio_access_log_samples.txt"
BIG_DUMP_MB = float(os.environ.get("MESHPROBER_BIG_DUMP_MB", "200"))

# --- config dumps ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fraction",
    [
        pytest.param(0.0001, id="first-bytes"),
        pytest.param(0.25, id="quarter"),
        pytest.param(0.5, id="half"),
        pytest.param(0.999, id="last-bytes-missing"),
    ],
)
def test_truncated_real_dump_is_a_clear_input_error(fraction: float) -> None:
    data = ENVOY_DUMP.read_bytes()
    cut = data[: max(1, int(len(data) * fraction))]
    with pytest.raises(InputError, match=r"config dump: (truncated|invalid) JSON at byte \d+"):
        parse_clusters(cut)


def test_whole_real_dump_parses() -> None:  # the healthy row
    clusters = parse_clusters(ENVOY_DUMP.read_bytes())
    assert clusters and all(c.name for c in clusters)


CHILD = r"""
import json, resource, sys
sys.path.insert(0, sys.argv[1])
side, path = sys.argv[2], sys.argv[3]
data = open(path, "rb").read()
if side == "generate":
    sys.path.insert(0, sys.argv[1] + "/bench")
    import config_dump
    from pathlib import Path
    out = {"clusters": config_dump.generate(Path(path), float(sys.argv[4]))}
elif side == "json":
    out = {"top_keys": len(json.loads(data))}
elif side == "parse":
    from agent.envoy.config_dump import parse_clusters
    out = {"clusters": len(parse_clusters(data))}
elif side == "truncated":
    from agent.envoy.config_dump import parse_clusters
    from agent.errors import InputError
    try:
        parse_clusters(data[: len(data) // 2])
        out = {"error": None}
    except InputError as exc:
        out = {"error": str(exc)}
out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def _child(side: str, path: Path, *extra: str) -> dict[str, object]:
    if side == "generate":
        path.write_bytes(b"{}")  # the child reads the file before it generates
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(REPO), side, str(path), *extra],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert isinstance(result, dict)
    return result


@pytest.mark.timeout(600)
def test_huge_dump_parses_within_json_loads_memory_and_truncated_is_input_error(tmp_path: Path) -> None:
    dump = tmp_path / "big.json"
    generated = _child("generate", dump, str(BIG_DUMP_MB))
    size_mb = dump.stat().st_size / 1e6
    assert size_mb >= BIG_DUMP_MB * 0.8
    bare = _child("json", dump)
    ours = _child("parse", dump)
    assert ours["clusters"] == generated["clusters"]
    bare_mb, ours_mb = float(str(bare["maxrss_mb"])), float(str(ours["maxrss_mb"]))
    # Bounded: about what json.loads itself needs for the same bytes (no copies of sub-trees).
    assert ours_mb <= bare_mb * 1.3 + 50, (size_mb, bare_mb, ours_mb)
    truncated = _child("truncated", dump)
    assert str(truncated["error"]).startswith("config dump: truncated JSON at byte"), truncated
    assert float(str(truncated["maxrss_mb"])) <= bare_mb * 1.3 + 50


# --- access logs ------------------------------------------------------------------------------

REQUEST_ID = "3a7cbcc1-af72-47fb-bbac-a7672951f50f"  # the istio-1.9+ line of the real sample file


def _real_log() -> str:
    return ISTIO_LOG.read_text() + ENVOY_LOG.read_text()


def _with(noise: str, where: str = "between") -> str:
    lines = _real_log().splitlines(keepends=True)
    if where == "between":
        return "".join(line + noise for line in lines)
    return "".join(lines) + noise


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(_real_log(), id="clean-real-log"),
        pytest.param(_with("\x00\x01\x02\ufffd\ufffd garbage \x7f\n"), id="binary-noise-between-lines"),
        pytest.param(_with('[2026-01-01T00:00:00.000Z] "GET /x HTTP/1.1" 50\n'), id="cut-lines-between"),
        pytest.param(_real_log() + _real_log()[: len(_real_log()) // 2], id="log-ends-mid-line"),
        pytest.param(
            _with('{"response_code": 503, "x_request_id": "' + "a" * 10 + "\n"), id="truncated-json-lines"
        ),
        pytest.param(_with("x" * 200_000 + "\n"), id="overlong-lines"),
        pytest.param(_real_log().replace("\n", "\r\n"), id="crlf"),
        pytest.param(_with("2026-01-01T00:00:00.123456789Z \n"), id="kubectl-timestamp-only"),
        pytest.param(_with("-" * 40 + ' "-" "-" - - -\n'), id="dashes-only"),
    ],
)
def test_garbage_and_partial_log_lines_do_not_hide_the_real_line(text: str) -> None:
    entries = parse_log(text)
    found = find_by_request_id(entries, REQUEST_ID)
    assert found, "the complete real line must still be found"
    assert found[-1].response_code == 503 and found[-1].response_flags == ("UC",)


def test_every_prefix_of_a_real_line_parses_or_is_skipped() -> None:
    line = next(line for line in _real_log().splitlines() if REQUEST_ID in line)
    for end in range(len(line)):
        parse_line(line[:end])  # a cut line is None or an entry (often "partial"); it never raises
    whole = parse_line(line)
    assert whole is not None and whole.request_id == REQUEST_ID and whole.layout != "partial"


def test_cluster_lookup_in_a_dump_with_garbage_around_it_is_an_input_error() -> None:
    data = b"pilot-agent: warning: something\n" + ENVOY_DUMP.read_bytes()
    with pytest.raises(InputError, match="invalid JSON at byte 0"):
        find_cluster(parse_clusters(data), "x.default.svc.cluster.local", 80)
