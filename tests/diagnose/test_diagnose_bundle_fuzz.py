"""Arbitrary bytes in any bundle file give a Diagnosis or an InputError naming a file, never a crash."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.bundle.read import load_bundle
from agent.bundle.to_input import diagnose_bundle
from agent.errors import InputError

NAMES = [
    "probe.json",
    "curl.stdout",
    "curl.stderr",
    "curl.exit",
    "client-access.log",
    "server-access.log",
    "client-config-dump.json",
    "client-stats.before",
    "client-stats.after",
]
GOOD = {
    "probe.json": b'{"target": "http://a.b:80/", "request_id": "r1"}',
    "curl.stdout": b"upstream connect error or disconnect/reset before headers. reset reason: connection termination",
    "curl.stderr": b"< HTTP/1.1 503 Service Unavailable\n< server: envoy\n",
    "curl.exit": b"0",
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(NAMES), data=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_junk_in_any_file(name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for n, content in GOOD.items():
            (root / n).write_bytes(content)
        (root / name).write_bytes(data)
        try:
            diagnose_bundle(load_bundle(root))
        except InputError as exc:
            assert any(n in str(exc) for n in NAMES), str(exc)
