"""Regenerate the fixture bundles from /work/shared/fixtures/istio-real (see README.md here).

Run from the repository root: python tests/testdata/fixture_bundles/make_fixture_bundles.py
"""

from __future__ import annotations

import shutil
from pathlib import Path

from agent.bundle.write import write_bundle

HERE = Path(__file__).parent
SEED_RESOURCES = Path("tests/testdata/policy/seed")
RESET = "upstream connect error or disconnect/reset before headers. "
LOCAL_503 = (
    "* Connected to productpage port 9080\n> GET /productpage HTTP/1.1\n> Host: productpage:9080\n"
    "< HTTP/1.1 503 Service Unavailable\n< content-length: {n}\n< content-type: text/plain\n"
    "< date: Mon, 07 Oct 2019 21:54:37 GMT\n< server: envoy\n<\n"
)
SEED_LINE = (
    '[2019-10-07T21:54:37.175Z] "GET /productpage HTTP/1.1" 503 UC "-" "-" 0 95 1 - "-" "curl/7.35.0" '
    '"819c2e8b-ddad-4579-8508-794ab7de5a55" "productpage:9080" "XXX.XXX.XXX.XXX:9080" '
    "outbound|9080||productpage.bookinfo.svc.cluster.local - XXX.XXX.XXX.XXX:9080 XXX.XXX.XXX.XXX:33834 -\n"
)
LINE_45802 = (
    '"GET /v1/status HTTP/1.1" 503 UC upstream_reset_before_response_started{connection_termination} - "-" '
    '0 95 0 - "10.90.16.220" "Apache-HttpClient/4.5.1 (Java/1.8.0_372)" "3a7cbcc1-af72-47fb-bbac-a7672951f50f" '
    '"health.abc.com" "10.80.47.192:8181" outbound|80||health-api.production.svc.cluster.local '
    "10.80.45.233:37132 10.80.45.233:80 10.80.46.220:59375 - -\n"
)


def probe(target: str, rid: str, ns: str, pod: str, **extra: object) -> dict[str, object]:
    return {
        "source": {"namespace": ns, "workload": pod.split("-")[0], "pod": pod, "container": "app"},
        "target": target,
        "request_id": rid,
        "expected_status": 200,
        **extra,
    }


def local_reply(name: str, body: str, rid: str, target: str, *, log: str | None = None, **kw: object) -> Path:
    return write_bundle(
        HERE / name,
        probe=probe(target, rid, **kw),  # type: ignore[arg-type]
        curl_stdout=body,
        curl_stderr=LOCAL_503.format(n=len(body)),
        curl_exit=0,
        optional={"client-access.log": log} if log else None,
    )


def main() -> None:
    uc = RESET + "reset reason: connection termination"
    seed_rid = "819c2e8b-ddad-4579-8508-794ab7de5a55"
    pp = "http://productpage:9080/productpage"
    client = {"ns": "load-test", "pod": "load-test-client-84d6b9c7f-q4w8z"}
    local_reply("seed_log_line_only", uc, seed_rid, pp, log=SEED_LINE, **client)
    seed = local_reply("seed_with_resources", uc, seed_rid, pp, log=SEED_LINE, **client)
    (seed / "resources").mkdir(exist_ok=True)
    for src in sorted(SEED_RESOURCES.glob("[0-9]*.yaml")):
        shutil.copy(src, seed / "resources" / src.name)
    local_reply(
        "issue45802_intermittent_uc",
        uc,
        "3a7cbcc1-af72-47fb-bbac-a7672951f50f",
        "http://health.abc.com/v1/status",
        log=LINE_45802,
        ns="production",
        pod="caller-0",
        repeatable=False,
    )
    local_reply(
        "issue39940_tls_reset_by_peer",
        RESET + "reset reason: connection failure, transport failure reason: TLS error: "
        "33554536:system library:OPENSSL_internal:Connection reset by peer",
        "00000000-0000-4000-8000-000000039940",
        pp,
        **client,
    )
    local_reply(
        "issue22482_connection_failure_old_envoy",
        RESET + "reset reason: connection failure",
        "00000000-0000-4000-8000-000000022482",
        pp,
        **client,
    )


if __name__ == "__main__":
    main()
