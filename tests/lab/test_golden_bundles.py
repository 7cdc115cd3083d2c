"""The committed golden bundles are complete, consistent with EXPECTED.yaml, and hold no secrets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from agent.model import Verdict
from tools.golden_capture.golden_more import ALL_SCENARIOS

BUNDLES = Path(__file__).resolve().parent.parent / "testdata" / "bundles"
EXPECTED: dict[str, str] = yaml.safe_load((BUNDLES / "EXPECTED.yaml").read_text())
# What real Envoy printed for each bundle: (curl exit, HTTP status, client-log flags of the probe's line).
OBSERVED = {
    "plaintext_to_strict": (0, 503, "UC"),
    "mtls_to_strict": (0, 200, "-"),
    "mtls_to_permissive": (0, 200, "-"),
    "plaintext_to_permissive": (0, 200, "-"),
    "mtls_to_no_sidecar": (0, 503, "URX,UF"),
    "mtls_to_disable": (0, 503, "URX,UF"),
    "untrusted_server_ca": (0, 503, "URX,UF"),
    "san_mismatch": (0, 503, "URX,UF"),
    "expired_server_cert": (0, 503, "URX,UF"),
    "tls_no_client_cert_to_strict": (0, 503, "UC"),
    "app_not_listening": (0, 503, "URX"),
    "no_route": (0, 404, "NR"),
    "route_timeout": (0, 504, "UT"),
    "no_sidecar_client_to_strict": (56, 0, None),
    "rbac_deny": (0, 403, "-"),
    "no_healthy_upstream": (0, 503, "UH"),
    "circuit_breaker_overflow": (0, 503, "UO"),
    "app_returns_503": (0, 503, "URX"),
    "app_closes_connection": (0, 503, "URX"),
    # tools/golden_capture/golden_more.py
    "simple_tls_to_permissive": (0, 503, "URX,UF"),
    "mutual_other_ca_to_strict": (0, 503, "UC"),
    "plaintext_to_disable": (0, 200, "-"),
    "mtls_to_port_level_disable": (0, 503, "URX,UF"),
    "auto_mtls_stale_label_no_sidecar": (0, 503, "URX,UF"),
    "refused_no_server_sidecar": (0, 503, "URX,UF"),
    "app_returns_500": (0, 500, "-"),
    "app_returns_expected_404": (0, 404, "-"),
    "app_resets_connection": (0, 503, "URX"),
    "app_speaks_garbage": (0, 502, "-"),
    "outlier_ejected": (0, 503, "UH"),
    "route_timeout_slow_app_503": (0, 504, "UT"),
    "client_ns_dr_shadows_owner_dr": (0, 503, "UC"),
    "dr_san_mismatch": (0, 503, "URX,UF"),
    "no_sidecar_client_to_permissive": (0, 200, None),
    "no_sidecar_client_app_not_listening": (0, 503, None),
    "app_returns_302": (0, 302, "-"),
    "app_speaks_h2_only": (0, 502, "-"),
    "expired_client_cert_to_strict": (0, 503, "UC"),
    "root_dr_applies_owner_dr_private": (0, 503, "UC"),
    "auto_mtls_stale_label_nothing_listening": (0, 503, "URX,UF"),
    "no_sidecar_app_speaks_h2_only": (0, 502, "UPE"),
}
REQUIRED = ("probe.json", "curl.stdout", "curl.stderr", "curl.exit")
SECRET = re.compile(r"PRIVATE KEY|BEGIN CERTIFICATE|Authorization: Bearer", re.IGNORECASE)


def test_expected_covers_every_bundle_and_scenario() -> None:
    dirs = {p.name for p in BUNDLES.iterdir() if p.is_dir()}
    assert dirs == set(EXPECTED) == {s.name for s in ALL_SCENARIOS} == set(OBSERVED)
    assert {s.name: s.expected_verdict for s in ALL_SCENARIOS} == EXPECTED
    assert set(EXPECTED.values()) <= {v.value for v in Verdict}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bundle_is_complete_and_matches_what_envoy_printed(name: str) -> None:
    bundle = BUNDLES / name
    for f in REQUIRED:
        assert (bundle / f).is_file(), f"{name}: missing {f}"
    probe = json.loads((bundle / "probe.json").read_text())
    assert {"source", "target", "request_id", "expected_status", "start_time"} <= probe.keys()
    exit_code, status, flags = OBSERVED[name]
    assert int((bundle / "curl.exit").read_text()) == exit_code
    stdout = (bundle / "curl.stdout").read_text()
    assert json.loads(stdout.split("\n__MESHPROBER_WRITEOUT__", 1)[1])["http_code"] == status
    client_log = bundle / "client-access.log"
    if flags is None:
        assert not client_log.exists()
        return
    lines = [ln for ln in client_log.read_text().splitlines() if probe["request_id"] in ln]
    assert len(lines) == 1, f"{name}: the probe should log exactly one client line"
    assert lines[0].split()[5] == flags
    dump = json.loads((bundle / "client-config-dump.json").read_text())
    assert dump["configs"][0]["cluster"]["name"].startswith("outbound|9080||")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bundle_holds_no_secrets(name: str) -> None:
    for path in (BUNDLES / name).rglob("*"):
        if path.is_file():
            assert not SECRET.search(path.read_text()), f"{path} looks like it holds key/cert material"
