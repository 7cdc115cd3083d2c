"""The one evidence redactor (agent.redaction) and its use by write_bundle: a table of real-looking
secrets, each placed where it would really appear in a bundle; each must be gone from every written
file, and the bundle must still diagnose the same. Plus: redact before cut, response bodies cut."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agent import redaction
from agent.bundle.read import load_bundle
from agent.bundle.to_input import diagnose_bundle
from agent.bundle.write import write_bundle
from agent.probe.argv import WRITE_OUT_MARKER

FIXTURE = Path(__file__).parent / "testdata" / "fixture_bundles" / "seed_with_resources"
CAPTURED = Path(__file__).parent / "testdata" / "bundles" / "app_returns_500"
JWT = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6IjFlOWdkazcifQ.eyJpc3MiOiJodHRwczovL2V4YW1wbGUuY29tIiwic3ViIjoiMjQ4Mjg5"
    "NzYxMDAxIiwiYXVkIjoiczZCaGRSa3F0MyJ9.NYThyS5dWQkdDMcTjAuoHcwiVJdWh4vYKF7T-zvcRfWsh2jAV2p1rZkFQbJpPCz"
)
# (case, file, text placed in that file, the secret that must not survive)
SECRETS: list[tuple[str, str, str, str]] = [
    ("set-cookie", "curl.stderr",
     "< set-cookie: sessionid=38afes7a8dKq2zGf91LmB0; Path=/; HttpOnly\n", "38afes7a8dKq2zGf91LmB0"),
    ("request-cookie", "curl.stderr", "> Cookie: _oauth2_proxy=Zm9vYmFyYmF6cXV4eHl6\n", "Zm9vYmFyYmF6cXV4eHl6"),
    ("http2-basic-auth", "curl.stderr",
     "* [HTTP/2] [1] [authorization: Basic YWRtaW46czNjcjN0LXBhc3N3b3Jk]\n", "YWRtaW46czNjcjN0LXBhc3N3b3Jk"),
    ("http1-basic-auth", "curl.stderr",
     "> Authorization: Basic YWRtaW46czNjcjN0LXBhc3N3b3Jk\n", "YWRtaW46czNjcjN0LXBhc3N3b3Jk"),
    ("bearer-in-log", "client-access.log",
     '[2019-10-07T21:54:37.175Z] "GET / HTTP/1.1" 503 UC "Bearer 7f3a9c2e1b4d8f60aa" -\n', "7f3a9c2e1b4d8f60aa"),
    ("query-access-token", "client-access.log",
     '[2019-10-07T21:54:37.175Z] "GET /api?access_token=ya29.a0AfH6SMBx3kqLz9 HTTP/1.1" 503 UC\n',
     "ya29.a0AfH6SMBx3kqLz9"),
    ("query-sas-sig", "curl.stderr",
     "> GET /blob?sv=2021-08-06&sig=Zm9vYmFyYmF6cXV4JTJCJTJGJTNE&se=2030 HTTP/1.1\n",
     "Zm9vYmFyYmF6cXV4JTJCJTJGJTNE"),
    ("query-amz-signature", "curl.stderr",
     "> GET /o?X-Amz-Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024 HTTP/1.1\n",
     "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"),
    ("jwt-custom-header", "curl.stderr", f"< x-user-assertion: {JWT}\n", JWT[40:90]),
    ("jwt-in-access-log", "client-access.log", f'"{JWT}"\n', JWT[40:90]),
    ("json-password", "curl.stdout", '{"user": "admin", "password": "hunter2-Correct-Horse"}', "hunter2-Correct-Horse"),
    ("json-client-secret", "curl.stdout", '{"client_secret": "gho_16C7e42F292c6912E7710c838347Ae178B4a"}',
     "gho_16C7e42F292c6912E7710c838347Ae178B4a"),
    ("json-token", "curl.stdout", '{"token": "s.Ga5jyNq6kNfRMVQk2LY1j9iu"}', "s.Ga5jyNq6kNfRMVQk2LY1j9iu"),
    ("json-aws-secret-access-key", "curl.stdout",
     '{"AccessKeyId": "ASIAY34FZKBOKMUTVV7A", "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"}',
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"),
    ("pem-private-key", "resources/99-secret.yaml",
     "kind: ConfigMap\ndata:\n  key: |\n    -----BEGIN RSA PRIVATE KEY-----\n    MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n"
     "    -----END RSA PRIVATE KEY-----\n", "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo"),
    ("probe-json-query-token", "probe.json", "http://productpage:9080/productpage?access_token=Tk9UX0FfUkVBTF9UT0tFTg",
     "Tk9UX0FfUkVBTF9UT0tFTg"),
]  # fmt: skip


def _write_with(tmp_path: Path, file: str, text: str, source: Path = FIXTURE) -> Path:
    """Rewrite `source` through write_bundle with `text` added to `file`."""
    files = {p.relative_to(source).as_posix(): p.read_text() for p in source.rglob("*") if p.is_file()}
    probe = json.loads(files.pop("probe.json"))
    if file == "probe.json":
        probe["target"] = text
    elif file == "curl.stdout":
        files[file] = text + files[file]  # the body comes first, the write-out after it
    else:
        files[file] = files.get(file, "") + text
    resources = {k.split("/", 1)[1]: v for k, v in files.items() if k.startswith("resources/")}
    optional = {k: v for k, v in files.items() if k.endswith((".log", ".json", ".before", ".after"))}
    return write_bundle(
        tmp_path / "out",
        probe=probe,
        curl_stdout=files["curl.stdout"],
        curl_stderr=files["curl.stderr"],
        curl_exit=int(files["curl.exit"]),
        optional=optional,
        resources=resources,
        diagnosis=diagnose_bundle(load_bundle(source)),
    )


@pytest.mark.parametrize(
    ("file", "text", "secret"), [row[1:] for row in SECRETS], ids=[r[0] for r in SECRETS]
)
def test_secret_is_gone_from_every_file_and_diagnosis_holds(
    tmp_path: Path, file: str, text: str, secret: str
) -> None:
    expected = diagnose_bundle(load_bundle(FIXTURE)).verdict
    root = _write_with(tmp_path, file, text)
    for written in root.rglob("*"):
        if written.is_file():
            assert secret not in written.read_text(), f"{secret!r} left in {written.relative_to(root)}"
    assert diagnose_bundle(load_bundle(root)).verdict == expected
    assert json.loads((root / "diagnosis.json").read_text())["verdict"] == expected.value


@pytest.mark.parametrize(
    "text",
    [
        "healthy: < HTTP/1.1 200 OK\n< content-type: text/html\n",
        '{"secretName": "istio-ca-secret", "name": "default", "tokens_total": 3}',
        '[2019-10-07T21:54:37.175Z] "GET /productpage?page=2&sort=asc HTTP/1.1" 200 - via_upstream\n',
        "cluster.outbound|9080||productpage.bookinfo.svc.cluster.local.upstream_cx_total: 3\n",
    ],
    ids=["healthy-headers", "secret-references-not-secrets", "plain-query", "stats"],
)
def test_clean_text_is_untouched(text: str) -> None:
    assert redaction.redact(text) == text


def test_redact_then_cut_never_leaves_a_token_without_its_prefix() -> None:
    text = "> Authorization: Bearer " + "a1B2c3D4" * 8 + "\n"
    limit = text.index("Bearer") + len("Bearer ") + 4  # the old order cut right after the prefix
    assert "a1B2c3D4" not in redaction.evidence_text(text, limit)
    assert "a1B2c3D4" not in redaction.cut_tail(redaction.redact(text), len(text) - text.index("Bearer") - 3)


def test_response_body_keeps_only_its_head_and_the_write_out(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(CAPTURED, source)
    stdout = (source / "curl.stdout").read_text()
    (source / "curl.stdout").write_text("B" * 100_000 + stdout)
    expected = diagnose_bundle(load_bundle(CAPTURED)).verdict
    root = _write_with(tmp_path, "curl.stderr", "", source=source)
    written = (root / "curl.stdout").read_text()
    assert len(written) < redaction.BODY_KEEP + 4096 and "response body cut" in written
    assert diagnose_bundle(load_bundle(root)).verdict == expected


def test_redactor_knows_the_argv_write_out_marker() -> None:
    assert redaction.WRITE_OUT_MARKER == WRITE_OUT_MARKER


def test_structured_files_keep_their_shape() -> None:
    probe = {
        "target": "http://a:80/?sig=abcdef123456",
        "expected_status": 200,
        "password": "pw-123456",
        "ok": True,
    }
    out = redaction.redact_value(probe)
    assert out == {
        "target": "http://a:80/?sig=[redacted]",
        "expected_status": 200,
        "password": "[redacted]",
        "ok": True,
    }
