"""The pure parts of explain, table-driven: paste repair, item detection, the HBONE join, honesty,
and the command's exit codes and output shapes. One named row per scenario, healthy rows included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from golden_lines import GOLDEN, HBONE_PAIR
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from agent.cli import app
from agent.explain import explain_text
from agent.explain.detect import detect
from agent.explain.join import partners
from agent.explain.repair import repair_line
from agent.explain.ztunnel import parse_ztunnel
from agent.model import Confidence, Verdict
from tests.support.shared_data import REAL

LINE = {g.id: g.text for g in GOLDEN}
UC = LINE["uc-connection-termination-intermittent"]

# https://github.com/istio/istio/issues/35334: `curl -v` through a gateway; the 503 was relayed
# (x-envoy-upstream-service-time) from the next sidecar, which could not connect to its app.
CURL_V = """root@policy-vm:~/ipsdas/opa-istio# curl -v  http://172.19.51.216:30186/people
*   Trying 172.19.51.216:30186...
* TCP_NODELAY set
* Connected to 172.19.51.216 (172.19.51.216) port 30186 (#0)
> GET /people HTTP/1.1
> Host: 172.19.51.216:30186
> User-Agent: curl/7.68.0
> Accept: */*
>
* Mark bundle as not supporting multiuse
< HTTP/1.1 503 Service Unavailable
< content-length: 91
< content-type: text/plain
< date: Thu, 23 Sep 2021 23:51:02 GMT
< server: istio-envoy
< x-envoy-upstream-service-time: 57
<
* Connection #0 to host 172.19.51.216 left intact
upstream connect error or disconnect/reset before headers. reset reason: connection failure

Below are virtual service and gateway:
"""
# https://github.com/envoyproxy/envoy/issues/15698: Envoy's own log line between access-log lines.
NOISE = (
    "2021-03-26T00:03:54.637718Z\twarning\tenvoy config\tIgnoring unwatched type URL "
    "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
)


@pytest.mark.parametrize(
    ("raw", "fixed", "repaired"),
    [
        pytest.param(UC, UC, False, id="healthy-intact-line"),
        pytest.param(UC + "\r", UC, True, id="crlf"),
        pytest.param("│ " + UC + " │", UC, True, id="box-frame"),
        pytest.param("| " + UC + " |", UC, True, id="ascii-table-frame"),
        pytest.param(UC.replace('"GET', "“GET").replace('1" 503', "1” 503"), UC, True, id="smart-quotes"),
        pytest.param("> " + UC, UC, True, id="markdown-quote"),
        pytest.param("`" + UC + "`", UC, True, id="backticks"),
        pytest.param(UC[1:], UC, True, id="lost-opening-quote"),
        pytest.param('"upstream_cluster":"x","response_code":503}', '{"upstream_cluster":"x","response_code":503}', True, id="lost-json-brace"),
        pytest.param("> GET /people HTTP/1.1", "> GET /people HTTP/1.1", False, id="curl-request-line-kept"),
        pytest.param("> Host: a:80", "> Host: a:80", False, id="curl-header-kept"),
    ],
)  # fmt: skip
def test_repair(raw: str, fixed: str, repaired: bool) -> None:
    got, notes = repair_line(raw)
    assert got == fixed
    assert bool(notes) is repaired


def test_detect_mixed_input_keeps_line_numbers_and_skips_noise() -> None:
    text = "\n".join(
        [NOISE, LINE["nr-route-not-found"], "", "some prose", *CURL_V.splitlines(), LINE["uo-overflow-json"]]
    )
    items = detect(text)
    assert [(i.line, i.kind) for i in items] == [(2, "access_log"), (5, "curl"), (26, "access_log")]


def test_curl_transcript_relayed_connection_failure() -> None:
    (r,) = explain_text(CURL_V)
    assert r.item.kind == "curl" and r.diagnosis.http_status == 503
    assert r.diagnosis.verdict is Verdict.UPSTREAM_CONNECTION_REFUSED
    assert r.diagnosis.confidence is not Confidence.HIGH
    assert r.confirm == ("meshprober probe --from NS/WORKLOAD --to http://172.19.51.216:30186/people",)


def test_kubectl_prefixes_are_tolerated() -> None:
    prefixed = [
        "2024-05-28T15:12:57.143456789Z "
        + LINE["uf-delayed-connect-111-inbound"],  # kubectl logs --timestamps
        "[pod/echo-7f9c/istio-proxy] " + LINE["nr-route-not-found"],  # kubectl logs --prefix
    ]
    got = [r.diagnosis.verdict for r in explain_text("\n".join(prefixed))]
    assert got == [Verdict.UPSTREAM_CONNECTION_REFUSED, Verdict.NO_ROUTE]


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        pytest.param("info  access  connection complete  src.addr=10.0.0.1:1 dst.addr=10.0.0.2:15008 direction=\"outbound\" bytes_sent=5", Verdict.OK, id="healthy-no-error"),
        pytest.param('2024-09-01T10:00:00.000Z  warn  access  connection complete  src.addr=10.0.0.1:1 dst.addr=10.0.0.2:15008 error="io error: Connection refused (os error 111)"', Verdict.UPSTREAM_CONNECTION_REFUSED, id="refused"),
        pytest.param('error access connection complete src.addr=10.0.0.1:1 dst.addr=10.0.0.2:15008 error="something new"', Verdict.UPSTREAM_RESET, id="unknown-error"),
    ],
)  # fmt: skip
def test_ztunnel_rows(text: str, verdict: Verdict) -> None:
    assert parse_ztunnel(text) is not None
    (r,) = explain_text(text)
    assert (r.item.kind, r.diagnosis.verdict) == ("ztunnel_log", verdict)


def test_join_needs_time_and_destination() -> None:
    tunnel, http = HBONE_PAIR.splitlines()
    later = http.replace("20:00:10.142Z", "20:00:19.142Z")
    other = tunnel.replace("10.244.0.17:80", "10.244.0.99:80")
    assert partners(detect(HBONE_PAIR)) == {1: 0}
    assert partners(detect(tunnel + "\n" + later)) == {}, "9 s apart: another attempt"
    assert partners(detect(other + "\n" + http)) == {}, "a tunnel to another destination"


def test_lone_termination_is_never_a_confident_mtls_verdict() -> None:
    for text in (
        UC,
        "upstream connect error or disconnect/reset before headers. reset reason: connection termination",
    ):
        (r,) = explain_text(text)
        assert r.diagnosis.verdict not in (Verdict.MTLS_PLAINTEXT_TO_STRICT, Verdict.OK)
        assert r.diagnosis.confidence is Confidence.LOW
        assert any("idle timeout" in e for e in r.diagnosis.evidence)


def test_bare_remote_connection_failure_stays_low() -> None:
    text = (
        "upstream connect error or disconnect/reset before headers. reset reason: remote connection failure"
    )
    (r,) = explain_text(text)
    assert r.diagnosis.confidence is Confidence.LOW


def run(args: list[str], text: str = "") -> tuple[int, str, str]:
    res = CliRunner().invoke(app, ["explain", *args], input=text)
    return res.exit_code, res.stdout, res.stderr


def test_cli_text_is_a_table_plus_details() -> None:
    code, out, _ = run([], UC + "\n" + LINE["healthy-hbone-200"] + "\n")
    assert code == 1
    header, first, second = out.splitlines()[:3]
    assert header.split()[:5] == ["LINE", "KIND", "STATUS", "VERDICT", "CONFIDENCE"]
    assert first.split()[:5] == ["1", "access_log", "503", "tls_handshake_failed", "low"]
    assert second.split()[:5] == ["2", "access_log", "200", "ok", "high"]
    assert "line 1 (access_log): tls/tls_handshake_failed" in out and "line 2 (" not in out
    assert "confirm: meshprober tls-check --from NS/POD health-api.production.svc.cluster.local:80" in out


def test_cli_all_healthy_exits_0() -> None:
    code, out, _ = run(["--json"], LINE["healthy-hbone-200"])
    assert code == 0 and json.loads(out)[0]["verdict"] == "ok"


def test_cli_nothing_recognised_exits_2_naming_what_was_expected() -> None:
    code, out, err = run(["-"], NOISE + "\nhello\n")
    assert code == 2 and out == ""
    assert "nothing recognised in stdin" in err and "access-log lines" in err and "curl -v" in err


def test_cli_missing_file_exits_2(tmp_path: Path) -> None:
    code, _, err = run([str(tmp_path / "nope.log")])
    assert code == 2 and "nope.log: no such file" in err


def test_cli_several_files_name_their_source(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text(UC + "\n")
    (tmp_path / "b.log").write_text(LINE["rbac-access-denied-matched-policy"] + "\n")
    code, out, _ = run(["--json", str(tmp_path / "a.log"), str(tmp_path / "b.log")])
    objs = json.loads(out)
    assert code == 1
    assert [(o["source"].rsplit("/", 1)[-1], o["line"], o["verdict"]) for o in objs] == [
        ("a.log", 1, "tls_handshake_failed"),
        ("b.log", 1, "rbac_denied"),
    ]
    required = {"line", "kind", "verdict", "category", "confidence", "summary", "evidence"}
    assert all(required <= set(o) for o in objs)


def test_repeats_in_the_input_raise_a_termination_to_medium_but_never_high() -> None:
    again = UC.replace("3a7cbcc1", "4b8cdd02")
    results = explain_text(UC + "\n" + again + "\n")
    assert [r.diagnosis.confidence for r in results] == [Confidence.MEDIUM, Confidence.MEDIUM]
    assert all(r.diagnosis.verdict is Verdict.TLS_HANDSHAKE_FAILED for r in results)
    assert any("failed the same way" in e for e in results[0].diagnosis.evidence)


def test_a_success_to_the_same_upstream_makes_a_termination_intermittent() -> None:
    ok = UC.replace(
        "503 UC upstream_reset_before_response_started{connection_termination}", "200 - via_upstream"
    )
    failed, healthy = explain_text(UC + "\n" + ok + "\n")
    assert healthy.diagnosis.verdict is Verdict.OK
    assert (failed.diagnosis.verdict, failed.diagnosis.confidence) == (Verdict.UPSTREAM_RESET, Confidence.LOW)
    assert any("succeeded: the failure is intermittent" in e for e in failed.diagnosis.evidence)


def test_readme_example_is_the_real_output() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Explaining a line someone pasted", 1)[1]
    blocks = section.split("```")
    shown, line = blocks[1].strip().splitlines(), blocks[3].strip()
    assert shown[0] == "$ meshprober explain issue-45802.log"
    assert line == LINE["uc-connection-termination-intermittent"]
    code, out, _ = run([], line + "\n")
    assert code == 1 and out.strip().splitlines() == shown[1:]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                *LINE.values(),
                NOISE,
                "{",
                "}",
                '"',
                "> ",
                "< HTTP/1.1 503",
                "* Trying",
                "curl: (56) x",
                "",
                "│",
            ]
        ),
        max_size=12,
    ),
    st.text(max_size=200),
)
def test_any_mix_of_lines_and_junk_never_raises(parts: list[str], junk: str) -> None:
    for r in explain_text("\n".join([*parts, junk])):
        assert r.item.line >= 1 and r.to_json()["verdict"]


# shared/fixtures/istio-real/access_logs/istio_access_log_samples.txt: verbatim public lines, each
# with its source (SOURCES.md): the brief's seed line, istio/istio#45802, #25062, #17139 and the
# local-reply bodies of envoyproxy/envoy's grpc_web test, istio/istio#22482 and #39940.
SAMPLES = REAL / "access_logs" / "istio_access_log_samples.txt"


def test_every_shared_real_sample_is_recognised_and_no_tls_verdict_is_high() -> None:
    lines = [line for line in SAMPLES.read_text().splitlines() if line.strip() and not line.startswith("#")]
    results = explain_text("\n".join(lines))
    assert len(results) == len(lines)
    assert all(not r.diagnosis.healthy for r in results)
    assert not [
        r
        for r in results
        if r.diagnosis.category.value == "tls" and r.diagnosis.confidence is Confidence.HIGH
    ]
    kinds = [r.item.kind for r in results]
    assert kinds == [
        "access_log",
        "access_log",
        "access_log",
        "tcp_log",
        "local_reply",
        "local_reply",
        "local_reply",
    ]


@pytest.mark.parametrize(
    ("body", "verdict", "confidence"),
    [
        pytest.param("upstream connect error or disconnect/reset before headers. reset reason: connection failure", Verdict.TLS_HANDSHAKE_FAILED, Confidence.LOW, id="old-bare-connection-failure"),
        pytest.param("upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, transport failure reason: TLS_error:|268435581:SSL_routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end", Verdict.TLS_CERT_UNTRUSTED, Confidence.MEDIUM, id="newer-tls-error-wording"),
        pytest.param("RBAC: access denied", Verdict.RBAC_DENIED, Confidence.MEDIUM, id="rbac-body"),
        pytest.param("no healthy upstream", Verdict.NO_HEALTHY_UPSTREAM, Confidence.MEDIUM, id="uh-body"),
    ],
)  # fmt: skip
def test_local_reply_bodies(body: str, verdict: Verdict, confidence: Confidence) -> None:
    (r,) = explain_text(body)
    assert (r.item.kind, r.diagnosis.verdict, r.diagnosis.confidence) == ("local_reply", verdict, confidence)
    assert r.diagnosis.http_status is None, "a body alone has no status, and none is made up"
