"""Evidence bundles: loading (and its errors), writing (redaction, bounds), and `meshprober diagnose`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from agent.bundle.read import load_bundle
from agent.bundle.to_input import diagnose_bundle
from agent.bundle.write import redact, write_bundle
from agent.cli import app
from agent.errors import InputError
from agent.model import Diagnosis

TESTDATA = Path(__file__).resolve().parents[1] / "testdata"
BUNDLES = TESTDATA / "bundles"
FIXTURE_BUNDLES = TESTDATA / "fixture_bundles"


def _expected(root: Path) -> dict[str, str]:
    # Read unconditionally: a missing EXPECTED.yaml must fail collection, not parametrize zero cases.
    expected: dict[str, str] = yaml.safe_load((root / "EXPECTED.yaml").read_text())
    assert expected, f"{root}/EXPECTED.yaml lists no bundles"
    return expected


CAPTURED = _expected(BUNDLES)
FIXTURES = _expected(FIXTURE_BUNDLES)
runner = CliRunner()


def minimal(tmp_path: Path, **files: str) -> Path:
    base = {
        "probe.json": json.dumps({"target": "http://productpage.bookinfo:9080/", "request_id": "r1"}),
        "curl.stdout": "ok",
        "curl.stderr": "< HTTP/1.1 200 OK\n",
        "curl.exit": "0\n",
    }
    base.update({k.replace("_", "."): v for k, v in files.items()})
    for name, text in base.items():
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize("name", sorted(CAPTURED), ids=str)
def test_captured_bundle_verdict(name: str) -> None:
    diagnosis = diagnose_bundle(load_bundle(BUNDLES / name))
    assert diagnosis.verdict.value == CAPTURED[name], diagnosis.evidence


@pytest.mark.parametrize("name", sorted(FIXTURES), ids=str)
def test_fixture_bundle_verdict(name: str) -> None:
    diagnosis = diagnose_bundle(load_bundle(FIXTURE_BUNDLES / name))
    assert diagnosis.verdict.value == FIXTURES[name], diagnosis.evidence


BAD: list[tuple[str, Callable[[Path], Path], str]] = [
    ("missing-dir", lambda p: p / "nope", "does not exist"),
    ("not-a-dir", lambda p: (p / "f").write_text("x") and p / "f", "not a directory"),
    ("missing-curl-exit", lambda p: (minimal(p) / "curl.exit").unlink() or p, "curl.exit: required"),
    ("empty-probe-json", lambda p: minimal(p, probe_json=""), "probe.json: empty"),
    ("probe-json-not-json", lambda p: minimal(p, probe_json="{oops"), "probe.json: invalid JSON"),
    ("probe-json-list", lambda p: minimal(p, probe_json="[]"), "expected a JSON object"),
    ("bad-expected-status", lambda p: minimal(p, probe_json='{"expected_status": "200"}'), "expected_status"),
    ("empty-curl-exit", lambda p: minimal(p, curl_exit=""), "curl.exit: empty"),
    ("junk-curl-exit", lambda p: minimal(p, curl_exit="zero"), "curl.exit: expected an integer"),
    (
        "truncated-dump",
        lambda p: minimal(p, **{"client-config-dump.json": '{"configs": [{"@type": '}),
        "client-config-dump.json",
    ),
    ("empty-dump", lambda p: minimal(p, **{"client-config-dump.json": ""}), "client-config-dump.json: empty"),
]


def _binary(p: Path) -> Path:
    minimal(p)
    (p / "client-access.log").write_bytes(b"\x00\x01\xffjunk")
    return p


BAD.append(("binary-log", _binary, "client-access.log: binary"))


@pytest.mark.parametrize(("make", "message"), [(m, msg) for _, m, msg in BAD], ids=[b[0] for b in BAD])
def test_bad_bundle_is_input_error_naming_the_file(
    tmp_path: Path, make: Callable[[Path], Path], message: str
) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        load_bundle(make(tmp_path))


@pytest.mark.parametrize(
    ("name", "files", "verdict"),
    [
        ("healthy-required-only", {}, "ok"),
        ("garbage-log-lines-ignored", {"client-access.log": 'garbage\n"unterminated\n'}, "ok"),
        ("empty-server-log-is-fine", {"server-access.log": ""}, "ok"),
        ("stats-only-one-side", {"client-stats.after": "cluster.x.upstream_cx_total: 3\n"}, "ok"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_any_subset_of_optional_files(tmp_path: Path, name: str, files: dict[str, str], verdict: str) -> None:
    assert diagnose_bundle(load_bundle(minimal(tmp_path, **files))).verdict.value == verdict


KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (KEY, "MIIEvQIBADANBg"),
        ("> Authorization: Bearer eyJhbGciOi.abc.def\n", "eyJhbGciOi"),
        ('{"private_key": {"inline_bytes": "c2VjcmV0LWtleQ=="}}', "c2VjcmV0LWtleQ=="),
        ('{"inline_string": "-----BEGIN EC PRIVATE KEY-----\\nabc"}', "abc"),
        ("plain log line, nothing secret", None),
    ],
    ids=["pem-key", "bearer", "inline-bytes", "inline-string-key", "clean"],
)
def test_redact(text: str, secret: str | None) -> None:
    out = redact(text)
    if secret is None:
        assert out == text
    else:
        assert secret not in out


def test_write_then_load_round_trip(tmp_path: Path) -> None:
    d = Diagnosis.from_json(
        {"verdict": "ok", "confidence": "high", "summary": "fine", "evidence": ["HTTP 200"], "remedy": None}
    )
    root = write_bundle(
        tmp_path / "b",
        probe={"target": "http://a:80/", "request_id": "r", "expected_status": 200},
        curl_stdout="hello",
        curl_stderr="< HTTP/1.1 200 OK\n> Authorization: Bearer tok.en\n",
        curl_exit=0,
        optional={"client-access.log": "x" * 10},
        resources={"dr.yaml": "kind: DestinationRule\n"},
        diagnosis=d,
    )
    assert "tok.en" not in (root / "curl.stderr").read_text()
    assert json.loads((root / "diagnosis.json").read_text())["verdict"] == "ok"
    assert load_bundle(root).texts["client-access.log"] == "x" * 10


@pytest.mark.parametrize("bad", ["../evil.yaml", "a/b.yaml", "x.txt"], ids=str)
def test_write_rejects_unsafe_resource_names(tmp_path: Path, bad: str) -> None:
    with pytest.raises(InputError, match="resource file name"):
        write_bundle(tmp_path, probe={}, curl_stdout="", curl_stderr="", curl_exit=0, resources={bad: "a: 1"})


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--json"], 0, '"verdict": "ok"'),
        ([], 0, "ok/ok"),
    ],
    ids=["json-healthy", "human-healthy"],
)
def test_cli_healthy(tmp_path: Path, args: list[str], code: int, needle: str) -> None:
    result = runner.invoke(app, ["diagnose", str(minimal(tmp_path)), *args])
    assert result.exit_code == code and needle in result.output


def test_cli_unhealthy_json_is_exactly_diagnosis(tmp_path: Path) -> None:
    root = minimal(
        tmp_path, curl_exit="6", curl_stdout="", curl_stderr="curl: (6) Could not resolve host: x\n"
    )
    result = runner.invoke(app, ["diagnose", str(root), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data == diagnose_bundle(load_bundle(root)).to_json()
    assert data["verdict"] == "dns_failure" and data["category"] == "dns"


@pytest.mark.parametrize("make", [m for _, m, _ in BAD], ids=[b[0] for b in BAD])
def test_cli_bad_input_exit_2_without_traceback(tmp_path: Path, make: Callable[[Path], Path]) -> None:
    result = runner.invoke(app, ["diagnose", str(make(tmp_path))])
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "meshprober diagnose:" in result.output


@pytest.mark.parametrize("name", sorted(CAPTURED)[:3], ids=str)
def test_cli_on_captured_bundle(name: str) -> None:
    result = runner.invoke(app, ["diagnose", str(BUNDLES / name), "--json"])
    assert json.loads(result.output)["verdict"] == CAPTURED[name]
    assert result.exit_code == (0 if CAPTURED[name] == "ok" else 1)


def test_seed_fixture_remedy_is_the_policy_patch_keeping_least_conn() -> None:
    d = diagnose_bundle(load_bundle(FIXTURE_BUNDLES / "seed_with_resources"))
    assert d.verdict.value == "mtls_plaintext_to_strict"
    assert d.destination_rule == "bookinfo/destrule-productpage" and d.server_mtls_mode == "STRICT"
    assert d.remedy is not None and d.remedy.patch is not None
    assert "ISTIO_MUTUAL" in d.remedy.patch and "LEAST_CONN" in d.remedy.patch


def test_write_bounds_text_and_skips_oversized_dump(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import agent.bundle.write as bw

    monkeypatch.setattr(bw, "MAX_DUMP", 10)
    root = write_bundle(
        tmp_path,
        probe={},
        curl_stdout="",
        curl_stderr="y" * 500,
        curl_exit=0,
        optional={"client-config-dump.json": '{"configs": []}'},
        max_text=100,
    )
    assert (root / "curl.stderr").read_text().startswith("y" * 100)
    assert "cut at 100" in (root / "curl.stderr").read_text()
    assert not (root / "client-config-dump.json").exists()
