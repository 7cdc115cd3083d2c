"""`meshprober diagnose` on partial bundles: access log(s) but no curl files (issue 18).

The captured bundles (tests/testdata/bundles, real Envoy in the lab) with their curl files removed
must reach the verdict EXPECTED.yaml names for the whole bundle, with the status read from the
matched log line; a line found by time and target instead of x-request-id says so; a partial bundle
with no line of its probe is an input error naming what was looked for.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from agent.cli import app

BUNDLES = Path(__file__).resolve().parents[1] / "testdata" / "bundles"
EXPECTED: dict[str, str] = yaml.safe_load((BUNDLES / "EXPECTED.yaml").read_text())
CURL = ("curl.stdout", "curl.stderr", "curl.exit")
# curl's own reset is all these bundles' client side saw: no sidecar logged the probe.
NO_LINE = {"no_sidecar_client_to_strict"}


def partial(name: str, tmp: Path) -> Path:
    dest = tmp / name
    shutil.copytree(BUNDLES / name, dest)
    for f in CURL:
        (dest / f).unlink()
    return dest


def diagnose(bundle: Path) -> tuple[int, dict[str, object], str]:
    res = CliRunner().invoke(app, ["diagnose", "--json", str(bundle)])
    return res.exit_code, json.loads(res.stdout) if res.stdout.strip() else {}, res.stderr


@pytest.mark.parametrize("name", sorted(set(EXPECTED) - NO_LINE))
def test_bundle_without_curl_files_gets_the_whole_bundles_verdict(name: str, tmp_path: Path) -> None:
    code, d, err = diagnose(partial(name, tmp_path))
    assert d["verdict"] == EXPECTED[name], err
    assert code == (0 if EXPECTED[name] == "ok" else 1)
    assert d["curl_exit"] is None, "no curl ran as far as the bundle knows: not guessed"
    assert d["http_status"] is not None
    assert any("no curl output was recorded" in e or "no curl output" in e for e in d["evidence"])  # type: ignore[attr-defined]


def test_line_without_request_id_is_matched_by_time_and_target(tmp_path: Path) -> None:
    bundle = partial("plaintext_to_strict", tmp_path)
    probe = json.loads((bundle / "probe.json").read_text())
    rid = probe.pop("request_id")
    (bundle / "probe.json").write_text(json.dumps(probe))
    log = bundle / "client-access.log"
    log.write_text("".join(line + "\n" for line in log.read_text().splitlines() if rid in line))
    code, d, _ = diagnose(bundle)
    assert (code, d["verdict"], d["http_status"]) == (1, "mtls_plaintext_to_strict", 503)
    how = [e for e in d["evidence"] if "matched the access-log line by time and target" in e]  # type: ignore[attr-defined]
    assert how and "probe recorded no request id" in how[0]


def test_two_candidate_lines_are_not_guessed_between(tmp_path: Path) -> None:
    bundle = partial("plaintext_to_strict", tmp_path)
    probe = json.loads((bundle / "probe.json").read_text())
    probe.pop("request_id")
    (bundle / "probe.json").write_text(json.dumps(probe))
    (bundle / "server-access.log").unlink(missing_ok=True)
    code, _, err = diagnose(bundle)  # three client lines within the window: none is taken
    assert code == 2 and "nothing to diagnose" in err and "request id none recorded" in err


def test_partial_bundle_without_its_line_is_an_input_error(tmp_path: Path) -> None:
    code, _, err = diagnose(partial("no_sidecar_client_to_strict", tmp_path))
    assert code == 2
    assert "no curl files" in err and "nothing to diagnose" in err


def test_healthy_no_logs_no_curl_still_names_the_missing_file(tmp_path: Path) -> None:
    bundle = partial("mtls_to_strict", tmp_path)
    for log in ("client-access.log", "server-access.log"):
        (bundle / log).unlink(missing_ok=True)
    code, _, err = diagnose(bundle)
    assert code == 2 and "curl.stdout: required bundle file is missing" in err
