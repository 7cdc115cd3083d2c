"""Real lines from public Istio / Envoy threads and docs, with what each thread established.

Every row: (id, source URL, text as published, expected verdict, expected category, expected
confidence or None when any below-high value is right, and the kind). Expectations come from the
thread, not from our output; where the thread shows only a symptom, the row expects the verdict
the symptom supports and a confidence below high.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.model import Confidence, Verdict


@dataclass(frozen=True)
class Golden:
    id: str
    url: str
    text: str
    verdict: Verdict
    kind: str
    confidence: Confidence | None = None  # None: anything below high


H, M, L = Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW

# The pretty-printed JSON access log of a UO overflow (ssup2's Istio sidecar access-log case study,
# Text 16 "Circuit Breaking with Upstream Connection Pool Overflow Case / shell Pod Access Log").
UO_JSON = """{
  "start_time": "2025-12-22T16:08:03.507Z",
  "method": "GET",
  "path": "/delay/5000",
  "protocol": "HTTP/1.1",
  "response_code": "503",
  "response_flags": "UO",
  "response_code_details": "upstream_reset_before_response_started{overflow}",
  "connection_termination_details": "-",
  "upstream_transport_failure_reason": "-",
  "bytes_received": "0",
  "bytes_sent": "81",
  "duration": "2",
  "upstream_service_time": "-",
  "x_forwarded_for": "-",
  "user_agent": "curl/8.14.1",
  "request_id": "4c299e03-e57f-9613-8817-6682e9deb675",
  "authority": "mock-server:8080",
  "upstream_host": "-",
  "upstream_cluster": "outbound|8080||mock-server.default.svc.cluster.local",
  "upstream_local_address": "-",
  "downstream_local_address": "10.96.90.250:8080",
  "downstream_remote_address": "10.244.1.3:55486",
  "requested_server_name": "-",
  "route_name": "-",
  "grpc_status": "-",
  "upstream_request_attempt_count": "1",
  "request_duration": "0",
  "response_duration": "-"
}"""

GOLDEN: tuple[Golden, ...] = (
    # NR route_not_found: requests for a host no route matches (an IP as Host at a 1.9.1 gateway).
    Golden(
        "nr-route-not-found",
        "https://github.com/envoyproxy/envoy/issues/15698",
        '[2021-03-26T00:01:25.979Z] "GET /.env HTTP/1.1" 404 NR route_not_found - "-" 0 0 0 - "100.117.94.128" '
        '"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.129 '
        'Safari/537.36" "04cc6a38-2d53-9a7c-8f22-01703fd22eb3" "34.213.68.78" "-" - - 100.97.92.14:8080 '
        "100.117.94.128:49723 - -",
        Verdict.NO_ROUTE, "access_log", H,
    ),
    # The issue's own example: a 1.23 line whose paste already lost `[START_TIME] "`.
    Golden(
        "nr-route-not-found-cut",
        "https://github.com/istio/istio/issues/53561",
        'PUT /v2/admin/user/6191ef725cc069dc7e71949z?host=travels.com HTTP/1.1" 404 NR route_not_found - "-" 0 0 0 '
        '- "5.195.224.128" "hub-api-my-account-api-proxy/1.0,Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) '
        'AppleWebKit/537.36 (KHTML, like Gecko) Chrome/95.0.4638.69 Safari/537.36" "806d8e1e4e91122988ffd998716fa518" '
        '"cross-products-myaccount-api.cross-products.svc.cluster.local" "-" - - 172.20.15.70:80 5.195.224.128:0 - -',
        Verdict.NO_ROUTE, "access_log", H,
    ),
    # STRICT server, plaintext socket client: "PERMISSIVE works, STRICT resets" (server-side line).
    Golden(
        "nr-filter-chain-not-found-tcp",
        "https://github.com/istio/istio/issues/43505",
        '[2023-02-21T19:45:06.559Z] "- - -" 0 NR filter_chain_not_found - "-" 0 0 4995 - "-" "-" "-" "-" "-" - - '
        "10.1.2.188:50000 10.1.2.182:50001 - -",
        Verdict.PLAINTEXT_CLIENT_REJECTED, "tcp_log", M,
    ),
    # A host-specific HTTPS Gateway rejects the SNI it does not serve (wildcard hosts work): not mTLS.
    Golden(
        "nr-filter-chain-not-found-gateway",
        "https://github.com/istio/istio/issues/41380",
        '[2022-10-12T05:43:16.541Z] "- - -" 0 NR filter_chain_not_found - "-" 0 0 1 - "-" "-" "-" "-" "-" - - '
        "172.17.0.4:8443 172.17.0.1:35812 - -",
        Verdict.TLS_HANDSHAKE_FAILED, "tcp_log", L,
    ),
    # delayed_connect_error, spelling 1: `:_111` (errno) in a TCP line to an inbound passthrough.
    Golden(
        "uf-urx-delayed-connect-111-tcp",
        "https://github.com/istio/istio/issues/51267",
        '[2024-05-28T18:42:53.929Z] "- - -" 0 UF,URX - - "delayed_connect_error:_111" 0 0 0 - "-" "-" "-" "-" '
        '"100.72.2.95:7801" InboundPassthroughClusterIpv4 - 100.72.2.95:7801 100.72.9.97:33948 - -',
        Verdict.UPSTREAM_CONNECTION_REFUSED, "tcp_log", H,
    ),
    # The same thread's inbound HTTP line: the server sidecar could not connect to its app.
    Golden(
        "uf-delayed-connect-111-inbound",
        "https://github.com/istio/istio/issues/51267",
        '[2024-05-28T15:12:57.143Z] "POST /plugins/high-availability/event/ref-updated HTTP/1.1" 503 UF '
        'upstream_reset_before_response_started{remote_connection_failure,delayed_connect_error:_111} - '
        '"delayed_connect_error:_111" 398 152 0 - "-" "Apache-HttpClient/4.5.14 (Java/17.0.10)" '
        '"87383523-4754-4ac6-9acd-5e63d4cebb65" "redacted.svc.cluster.local:8080" "100.72.2.83:8080" inbound|8080|| '
        "- 100.72.2.83:8080 100.72.9.85:44759 - default",
        Verdict.UPSTREAM_CONNECTION_REFUSED, "access_log", H,
    ),
    # gRPC 200 with URX,UF: gRPC answers HTTP 200 and carries the failure in the flags (refused, 111).
    Golden(
        "grpc-200-urx-uf",
        "https://github.com/istio/istio/issues/53162",
        '[2024-09-16T15:01:44.563Z] "POST /frostcore.v2.FrostCore/is_initialized HTTP/2" 200 URX,UF '
        'upstream_reset_before_response_started{remote_connection_failure,delayed_connect_error:_111} - '
        '"delayed_connect_error:_111" 12 0 37 - "10.1.81.33" "grpcurl/v1.9.1 grpc-go/1.61.0" '
        '"ad2dee26-65cf-99e9-9c66-b577a956a41a" "10.1.20.65:80" "10.66.2.21:50051" '
        "outbound|50051||frost-core-service.frostbite.svc.cluster.local - 10.66.229.180:8080 10.1.81.33:54834 - - "
        "traceID=3149b9a55a785369d6e1757fb20559ad",
        Verdict.UPSTREAM_CONNECTION_REFUSED, "access_log", H,
    ),
    # Spelling 2: `:_Connection_refused` (newer Envoy, strerror) on the HBONE tunnel line.
    Golden(
        "hbone-tunnel-connection-refused",
        "https://github.com/istio/istio/pull/52886",
        '[2024-08-27T20:00:10.142Z] "- - -" 0 UF,URX - - "delayed_connect_error:_Connection_refused" 0 0 0 - "-" '
        '"-" "-" "-" "10.244.0.17:15008" connect_originate - 10.244.0.17:80 envoy://internal_client_address/ - -',
        Verdict.UPSTREAM_CONNECTION_REFUSED, "hbone_log", H,
    ),
    # Spelling 3: the local reply's `delayed connect error: 111` (with spaces).
    Golden(
        "local-reply-delayed-connect-111",
        "https://github.com/istio/istio/issues/47067",
        "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: "
        "connection failure, transport failure reason: delayed connect error: 111",
        Verdict.UPSTREAM_CONNECTION_REFUSED, "local_reply", H,
    ),
    # errno 113 (host unreachable): firewalld was dropping the sidecar's traffic.
    Golden(
        "local-reply-delayed-connect-113",
        "https://github.com/istio/istio/issues/46431",
        "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: "
        "connection failure, transport failure reason: delayed connect error: 113",
        Verdict.UPSTREAM_CONNECT_TIMEOUT, "local_reply", H,
    ),
    Golden(
        "tls-certificate-verify-failed",
        "https://github.com/istio/istio/issues/34920",
        "upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport "
        "failure reason: TLS error: 268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED",
        Verdict.TLS_CERT_UNTRUSTED, "local_reply", M,
    ),
    Golden(
        "hbone-tunnel-certificate-verify-failed",
        "https://github.com/istio/istio/pull/52886",
        '[2024-08-27T20:00:02.995Z] "- - -" 0 UF,URX - - "TLS_error:|67108971:RSA_routines:OPENSSL_internal:'
        "BLOCK_TYPE_IS_NOT_01|67109000:RSA_routines:OPENSSL_internal:PADDING_CHECK_FAILED|184549382:X.509_"
        "certificate_routines:OPENSSL_internal:public_key_routines|268435581:SSL_routines:OPENSSL_internal:"
        'CERTIFICATE_VERIFY_FAILED:TLS_error_end" 0 0 3 - "-" "-" "-" "-" "10.244.0.17:15008" connect_originate - '
        "10.244.0.17:80 envoy://internal_client_address/ - -",
        Verdict.TLS_CERT_UNTRUSTED, "hbone_log", M,
    ),
    # Istio 1.4 global mTLS; an endpoint answered the TLS hello in plaintext (stale config).
    Golden(
        "tls-wrong-version-number",
        "https://github.com/istio/istio/issues/25062",
        '503 UF,URX "-" "TLS error: 268435703:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER"',
        Verdict.MTLS_TO_PLAINTEXT_SERVER, "access_log", M,
    ),
    # OSM (Envoy) gRPC 200 + UF: mTLS from a meshed namespace to a not-yet-meshed one.
    Golden(
        "grpc-200-uf-wrong-version-json",
        "https://github.com/openservicemesh/osm/issues/4820",
        '{"upstream_cluster":"osm-test/playground-graph-gateway-schema-builder|4500","method":"POST",'
        '"response_flags":"UF","x_forwarded_for":null,"request_id":"013e4ea3-e9b2-47b0-add0-47d616e102e0",'
        '"authority":"playground-graph-gateway-schema-builder","upstream_service_time":null,"response_code":200,'
        '"start_time":"2022-06-01T12:28:32.507Z","path":"/graph.SchemaBuilder/HealthCheck",'
        '"time_to_first_byte":null,"upstream_host":"10.162.4.241:4500","user_agent":"grpc-dotnet/2.42.0 '
        '(.NET 6.0.5; CLR 6.0.5; net6.0; linux; x64)","duration":5,"protocol":"HTTP/2","bytes_received":5,'
        '"requested_server_name":null,"response_code_details":"upstream_reset_before_response_started'
        '{connection_failure,TLS_error:_268435703:SSL_routines:OPENSSL_internal:WRONG_VERSION_NUMBER}",'
        '"bytes_sent":0}',
        Verdict.MTLS_TO_PLAINTEXT_SERVER, "access_log", M,
    ),
    # The server reported our certificate expired while the pod restarted (recovered in minutes).
    Golden(
        "tls-certificate-expired",
        "https://github.com/istio/istio/issues/46619",
        "upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport "
        "failure reason: TLS error: 268436501:SSL routines:OPENSSL_internal:SSLV3_ALERT_CERTIFICATE_EXPIRED",
        Verdict.TLS_CERT_EXPIRED, "local_reply", M,
    ),
    Golden(
        "upe-protocol-error-502",
        "https://github.com/istio/istio/issues/40104",
        "502 UPE upstream_reset_before_response_started{protocol_error}",
        Verdict.UPSTREAM_PROTOCOL_ERROR, "access_log", H,
    ),
    # gRPC through a gateway that offered only HTTP/1.1 to an h2c port: 200 UPE (cut after the duration).
    Golden(
        "upe-protocol-error-grpc-200",
        "https://github.com/istio/istio/issues/57294",
        '[2025-06-09T16:31:35.223Z] "POST /jina.JinaSingleDataRequestRPC/process_single_data HTTP/2" 200 UPE '
        'upstream_reset_before_response_started{protocol_error} - "-" 67960 0 8 -',
        Verdict.UPSTREAM_PROTOCOL_ERROR, "access_log", H,
    ),
    Golden(
        "rbac-access-denied-matched-policy",
        "https://istio.io/latest/blog/2022/egress-authz/",
        '[2022-05-10T21:51:49.396Z] "HEAD / HTTP/2" 403 - rbac_access_denied_matched_policy[ns[istio-system]-'
        'policy[external-deny-developer-yahoo-com]-rule[0]] - "-" 0 0 0 - "10.100.0.6" "curl/7.83.0-DEV" '
        '"a503ba03-f09a-914d-85a4-995a0c1d5b16" "developer.yahoo.com" "-" outbound|443||developer.yahoo.com - '
        "10.100.2.6:8080 10.100.0.6:58370 developer.yahoo.com -",
        Verdict.RBAC_DENIED, "access_log", H,
    ),
    Golden(
        "uo-overflow-json",
        "https://ssup2.github.io/blog-software/en/docs/theory-analysis/istio-sidecar-proxy-access-log",
        UO_JSON,
        Verdict.CIRCUIT_BREAKER_OVERFLOW, "access_log", H,
    ),
    Golden(
        "uo-overflow-local-reply",
        "https://github.com/istio/istio/issues/19454",
        "upstream connect error or disconnect/reset before headers. reset reason: overflow",
        Verdict.CIRCUIT_BREAKER_OVERFLOW, "local_reply", H,
    ),
    Golden(
        "ztunnel-policy-rejection",
        "https://github.com/istio/ztunnel/pull/1273",
        'error   access  connection complete     src.addr=10.244.1.6:42020 src.workload="reviews-v1-6584ddcf65-k78wz" '
        'src.namespace="default" src.identity="spiffe://cluster.local/ns/default/sa/bookinfo-reviews" '
        "dst.addr=10.244.1.9:15008 dst.hbone_addr=10.244.1.9:9080 "
        'dst.service="productpage.default.svc.cluster.local" dst.workload="productpage-v1-d5789fdfb-c5w2c" '
        'dst.namespace="default" dst.identity="spiffe://cluster.local/ns/default/sa/bookinfo-productpage" '
        'direction="inbound" bytes_sent=0 bytes_recv=0 duration="0ms" '
        'error="connection closed due to policy rejection: allow policies exist, but none allowed"',
        Verdict.RBAC_DENIED, "ztunnel_log", H,
    ),
    # Intermittent UC on a 1.17 client: the thread was not about mTLS. One line may not say it is.
    Golden(
        "uc-connection-termination-intermittent",
        "https://github.com/istio/istio/issues/45802",
        '"GET /v1/status HTTP/1.1" 503 UC upstream_reset_before_response_started{connection_termination} - "-" 0 95 '
        '0 - "10.90.16.220" "Apache-HttpClient/4.5.1 (Java/1.8.0_372)" "3a7cbcc1-af72-47fb-bbac-a7672951f50f" '
        '"health.abc.com" "10.80.47.192:8181" outbound|80||health-api.production.svc.cluster.local '
        "10.80.45.233:37132 10.80.45.233:80 10.80.46.220:59375 - -",
        Verdict.TLS_HANDSHAKE_FAILED, "access_log", L,
    ),
    # Healthy: the same HBONE request when it works (istio/istio#50321, "With hbone").
    Golden(
        "healthy-hbone-200",
        "https://github.com/istio/istio/issues/50321",
        '[2024-04-08T20:44:12.363Z] "GET / HTTP/1.1" 200 - via_upstream - "-" 0 1648 3 2 "10.244.0.1" "curl/8.7.1" '
        '"66dc2115-b7f5-45eb-96c2-2a2b221559f7" "172.18.0.101" "envoy://connect_originate/10.244.0.10:80" '
        "outbound|80||echo.default.svc.cluster.local envoy://internal_client_address/ 10.244.0.7:8080 "
        "10.244.0.1:27113 -",
        Verdict.OK, "access_log", H,
    ),
)  # fmt: skip

# The PR #52886 pair: the HTTP line's own reason (Invalid_argument) is explained by its tunnel line.
HBONE_PAIR_URL = "https://github.com/istio/istio/pull/52886"
HBONE_PAIR = (
    '[2024-08-27T20:00:10.142Z] "- - -" 0 UF,URX - - "delayed_connect_error:_Connection_refused" 0 0 0 - "-" "-" '
    '"-" "-" "10.244.0.17:15008" connect_originate - 10.244.0.17:80 envoy://internal_client_address/ - -\n'
    '[2024-08-27T20:00:10.142Z] "GET / HTTP/1.1" 503 UF upstream_reset_before_response_started'
    "{remote_connection_failure|delayed_connect_error:_Invalid_argument} - "
    '"delayed_connect_error:_Invalid_argument" 0 165 0 - "10.244.0.1" "curl/8.9.1" '
    '"58c0e2c6-fa7e-4a68-a4f1-3bae11113f7c" "172.18.0.101" "envoy://connect_originate/10.244.0.17:80" '
    "outbound|80||echo.default.svc.cluster.local - 10.244.0.7:8080 10.244.0.1:10858 - -\n"
)
