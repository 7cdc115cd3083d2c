"""Verdict catalog: what each Envoy response flag and each curl exit code means to the ladder.

Pure tables, no I/O. Every flag in `agent.envoy.response_flags.RESPONSE_FLAGS` and every code in
`agent.probe.curl_exit.CURL_EXIT_CODES` must appear either in a mapping here or in an UNCLASSIFIED
table with the reason (tests/diagnose/test_diagnose_exhaustive.py enforces it).
"""

from __future__ import annotations

from typing import Final

from agent.model import Verdict

# Sentinels for flags/codes whose verdict depends on further evidence (the transport analysis).
TRANSPORT: Final = "transport"  # decided by reset reason, transport failure reason, cluster TLS, policy
BY_STATUS: Final = "by_status"  # the HTTP status (and who produced it) decides

# Envoy response flag -> verdict, in ladder priority order (first hit wins; see ladder.py).
FLAG_VERDICTS: Final[dict[str, Verdict | str]] = {
    "NR": Verdict.NO_ROUTE,
    "NC": Verdict.NO_ROUTE,  # route points at a cluster the sidecar does not have
    "UAEX": Verdict.RBAC_DENIED,  # external authorization denied: a policy decision too
    "UO": Verdict.CIRCUIT_BREAKER_OVERFLOW,
    "UH": Verdict.NO_HEALTHY_UPSTREAM,
    "UT": Verdict.UPSTREAM_REQUEST_TIMEOUT,
    "SI": Verdict.UPSTREAM_REQUEST_TIMEOUT,  # stream idle timeout: upstream went silent
    "DT": Verdict.UPSTREAM_REQUEST_TIMEOUT,  # max stream duration
    "UMSDR": Verdict.UPSTREAM_REQUEST_TIMEOUT,  # upstream max stream duration reached
    "UPE": Verdict.UPSTREAM_PROTOCOL_ERROR,
    "DPE": Verdict.UPSTREAM_PROTOCOL_ERROR,
    "DF": Verdict.DNS_FAILURE,  # Envoy's own DNS resolution failed (dynamic forward proxy)
    "UF": TRANSPORT,
    "UC": TRANSPORT,
    "UR": TRANSPORT,
    "LR": TRANSPORT,
    "URX": TRANSPORT,  # only "retries exhausted": the retried failure (UF, UC, a 503) decides
    "NFCF": TRANSPORT,  # server side: no filter chain matched (e.g. plaintext to STRICT)
}

# Flags deliberately not mapped to a verdict, with why (the HTTP status path handles those requests).
UNCLASSIFIED_FLAGS: Final[dict[str, str]] = {
    "DC": "downstream (curl) closed the connection: a symptom of the probe's own deadline",
    "LH": "local health check failed: informational, the status decides",
    "RL": "local rate limit: the 429 status decides",
    "RLSE": "rate-limit service error: the status decides",
    "IH": "invalid x-envoy-* request headers sent by the client: the status decides",
    "OM": "Envoy overload manager shed the request: the status decides",
    "DO": "drop overload: the status decides",
    "DI": "fault-injection delay: informational",
    "FI": "fault-injection abort: the status decides",
    "UDO": "upstream drop overload: the status decides",
    "DR": "downstream (curl) reset its own stream: a probe-side symptom",
    "RFCF": "served from Envoy's cache filter: informational, the status decides",
}

# curl exit code -> verdict (or sentinel). 0 is the normal case and never looked up.
CURL_EXIT_VERDICTS: Final[dict[int, Verdict | str]] = {
    1: Verdict.PROBE_FAILED,  # unsupported protocol
    2: Verdict.PROBE_FAILED,  # failed to initialise
    3: Verdict.PROBE_FAILED,  # malformed URL
    4: Verdict.PROBE_FAILED,  # feature not built in
    5: Verdict.DNS_FAILURE,  # proxy host did not resolve
    9: Verdict.PROBE_FAILED,  # remote access denied (FTP-era; not an HTTP probe outcome)
    25: Verdict.PROBE_FAILED,  # upload failed
    43: Verdict.PROBE_FAILED,  # internal libcurl error
    45: Verdict.PROBE_FAILED,  # could not bind the local interface
    48: Verdict.PROBE_FAILED,  # unknown option: the container's curl is too old for our argv
    49: Verdict.PROBE_FAILED,  # malformed option value
    53: Verdict.PROBE_FAILED,  # crypto engine not found
    54: Verdict.PROBE_FAILED,  # crypto engine could not be set
    63: Verdict.PROBE_FAILED,  # max file size exceeded
    65: Verdict.PROBE_FAILED,  # send rewind failed
    66: Verdict.PROBE_FAILED,  # crypto engine init failed
    67: Verdict.PROBE_FAILED,  # login denied (non-HTTP protocols)
    75: Verdict.PROBE_FAILED,  # character conversion (old curl)
    78: Verdict.PROBE_FAILED,  # remote file not found (non-HTTP protocols)
    79: Verdict.PROBE_FAILED,  # SSH layer
    81: Verdict.PROBE_FAILED,  # socket not ready (internal)
    82: Verdict.PROBE_FAILED,  # CRL file unreadable
    88: Verdict.PROBE_FAILED,  # chunk callback
    89: Verdict.PROBE_FAILED,  # no connection available (internal)
    93: Verdict.PROBE_FAILED,  # recursive API call (internal)
    94: Verdict.PROBE_FAILED,  # authentication function error
    100: Verdict.PROBE_FAILED,  # value or data too large
    6: Verdict.DNS_FAILURE,
    7: TRANSPORT,  # refused or connect timeout: only without a client sidecar (iptables always accepts)
    8: Verdict.UPSTREAM_PROTOCOL_ERROR,  # weird server reply
    16: Verdict.UPSTREAM_PROTOCOL_ERROR,  # HTTP/2 framing
    18: Verdict.UPSTREAM_RESET,  # transfer closed with bytes outstanding
    22: BY_STATUS,  # --fail on an HTTP error
    23: Verdict.PROBE_FAILED,  # write error on the probe side
    26: Verdict.PROBE_FAILED,  # read error on the probe side
    27: Verdict.PROBE_FAILED,  # out of memory
    28: Verdict.PROBE_TIMEOUT,
    33: Verdict.PROBE_FAILED,  # range request
    35: TRANSPORT,  # curl's own TLS handshake failed: stderr tells why
    47: Verdict.UNEXPECTED_STATUS,  # too many redirects
    51: Verdict.TLS_SAN_MISMATCH,  # old curls: peer certificate name mismatch
    52: TRANSPORT,  # empty reply: the peer closed without an HTTP response
    55: Verdict.UPSTREAM_RESET,  # send failure
    56: TRANSPORT,  # receive failure (reset by peer)
    58: Verdict.PROBE_FAILED,  # curl's own client certificate is unusable
    59: Verdict.TLS_HANDSHAKE_FAILED,  # cipher
    60: TRANSPORT,  # peer certificate not verified: stderr says expired / name / issuer
    61: Verdict.UPSTREAM_PROTOCOL_ERROR,  # bad content encoding
    77: Verdict.PROBE_FAILED,  # curl's CA bundle unreadable
    80: Verdict.TLS_HANDSHAKE_FAILED,  # TLS shutdown failed
    83: Verdict.TLS_CERT_UNTRUSTED,  # issuer check failed
    90: Verdict.TLS_CERT_UNTRUSTED,  # pinned public key mismatch
    91: Verdict.TLS_CERT_UNTRUSTED,  # invalid certificate status (OCSP)
    92: Verdict.UPSTREAM_PROTOCOL_ERROR,  # HTTP/2 stream error
    95: Verdict.UPSTREAM_PROTOCOL_ERROR,  # HTTP/3 layer
    96: Verdict.TLS_HANDSHAKE_FAILED,  # QUIC connect error
    97: Verdict.PROBE_FAILED,  # proxy handshake
    98: Verdict.TLS_CLIENT_CERT_REJECTED,  # server required a client certificate
    99: Verdict.PROBE_FAILED,  # unrecoverable poll/select error
    126: Verdict.PROBE_FAILED,  # shell: curl not executable
    127: Verdict.PROBE_FAILED,  # shell: curl not found
    137: Verdict.PROBE_FAILED,  # killed (SIGKILL), e.g. OOM or exec deadline
}

# curl exit codes listed on purpose without a mapping; the ladder reports probe_failed, low confidence.
UNCLASSIFIED_CURL_EXITS: Final[dict[int, str]] = {
    0: "success: never looked up, the HTTP status decides",
}


def curl_exit_handling(code: int) -> Verdict | str:
    """How the ladder treats a non-zero curl exit; unknown codes are agent-side problems."""
    return CURL_EXIT_VERDICTS.get(code, Verdict.PROBE_FAILED)
