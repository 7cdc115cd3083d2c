"""Catalog of curl exit codes (libcurl CURLcode) plus the shell's 126/127, as a plain dict.

Pure data: no I/O. The classifier maps these to verdicts; its exhaustiveness test iterates
CURL_EXIT_CODES, so keep it a plain dict keyed by the exit code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CurlExit:
    code: int
    name: str  # libcurl's CURLcode name, e.g. "CURLE_COULDNT_CONNECT"
    meaning: str


_TABLE: tuple[tuple[int, str, str], ...] = (
    (0, "CURLE_OK", "success: a response was received (check the HTTP status)"),
    (1, "CURLE_UNSUPPORTED_PROTOCOL", "unsupported protocol (scheme not built into this curl)"),
    (2, "CURLE_FAILED_INIT", "curl failed to initialise"),
    (3, "CURLE_URL_MALFORMAT", "the URL was not properly formatted"),
    (4, "CURLE_NOT_BUILT_IN", "a requested feature is not built into this curl"),
    (5, "CURLE_COULDNT_RESOLVE_PROXY", "could not resolve the proxy host"),
    (6, "CURLE_COULDNT_RESOLVE_HOST", "could not resolve the host (DNS failure)"),
    (7, "CURLE_COULDNT_CONNECT", "failed to connect to the host or proxy (refused or unreachable)"),
    (8, "CURLE_WEIRD_SERVER_REPLY", "the server sent data curl could not parse"),
    (9, "CURLE_REMOTE_ACCESS_DENIED", "access denied to a remote resource"),
    (16, "CURLE_HTTP2", "a problem in the HTTP/2 framing layer"),
    (18, "CURLE_PARTIAL_FILE", "transfer ended before the announced size was received"),
    (22, "CURLE_HTTP_RETURNED_ERROR", "HTTP status >= 400 with --fail"),
    (23, "CURLE_WRITE_ERROR", "curl could not write received data (local output)"),
    (25, "CURLE_UPLOAD_FAILED", "upload failed"),
    (26, "CURLE_READ_ERROR", "curl could not read local input"),
    (27, "CURLE_OUT_OF_MEMORY", "out of memory"),
    (28, "CURLE_OPERATION_TIMEDOUT", "curl's own --max-time or connect timeout expired"),
    (33, "CURLE_RANGE_ERROR", "the server does not support range requests"),
    (35, "CURLE_SSL_CONNECT_ERROR", "TLS handshake failed (curl doing TLS itself)"),
    (43, "CURLE_BAD_FUNCTION_ARGUMENT", "internal error: bad libcurl function argument"),
    (45, "CURLE_INTERFACE_FAILED", "could not bind the requested local interface"),
    (47, "CURLE_TOO_MANY_REDIRECTS", "too many redirects"),
    (48, "CURLE_UNKNOWN_OPTION", "an option given to curl is unknown (old curl?)"),
    (49, "CURLE_SETOPT_OPTION_SYNTAX", "malformed option value"),
    (52, "CURLE_GOT_NOTHING", "the server closed the connection without sending any reply"),
    (53, "CURLE_SSL_ENGINE_NOTFOUND", "crypto engine not found"),
    (54, "CURLE_SSL_ENGINE_SETFAILED", "could not set the crypto engine as default"),
    (55, "CURLE_SEND_ERROR", "failed sending data (connection reset while sending)"),
    (56, "CURLE_RECV_ERROR", "failure receiving data (connection reset by peer)"),
    (58, "CURLE_SSL_CERTPROBLEM", "problem with the local client certificate"),
    (59, "CURLE_SSL_CIPHER", "could not use the specified TLS cipher"),
    (60, "CURLE_PEER_FAILED_VERIFICATION", "server certificate could not be verified (CA, name, date)"),
    (61, "CURLE_BAD_CONTENT_ENCODING", "unrecognised transfer encoding"),
    (63, "CURLE_FILESIZE_EXCEEDED", "maximum file size exceeded"),
    (65, "CURLE_SEND_FAIL_REWIND", "sending data required a rewind that failed"),
    (66, "CURLE_SSL_ENGINE_INITFAILED", "crypto engine initialisation failed"),
    (67, "CURLE_LOGIN_DENIED", "the server denied the login"),
    (75, "CURLE_CONV_FAILED", "character conversion failed (old curl)"),
    (77, "CURLE_SSL_CACERT_BADFILE", "problem reading the CA certificate file"),
    (78, "CURLE_REMOTE_FILE_NOT_FOUND", "the remote resource does not exist"),
    (79, "CURLE_SSH", "an SSH-layer error"),
    (80, "CURLE_SSL_SHUTDOWN_FAILED", "failed to shut down the TLS connection"),
    (81, "CURLE_AGAIN", "socket not ready, try again"),
    (82, "CURLE_SSL_CRL_BADFILE", "could not load the CRL file"),
    (83, "CURLE_SSL_ISSUER_ERROR", "TLS issuer check failed"),
    (88, "CURLE_CHUNK_FAILED", "chunk callback reported an error"),
    (89, "CURLE_NO_CONNECTION_AVAILABLE", "no connection available (internal)"),
    (90, "CURLE_SSL_PINNEDPUBKEYNOTMATCH", "server public key does not match the pinned key"),
    (91, "CURLE_SSL_INVALIDCERTSTATUS", "invalid certificate status (OCSP stapling)"),
    (92, "CURLE_HTTP2_STREAM", "stream error in the HTTP/2 framing layer (stream reset)"),
    (93, "CURLE_RECURSIVE_API_CALL", "libcurl API called from inside a callback"),
    (94, "CURLE_AUTH_ERROR", "an authentication function returned an error"),
    (95, "CURLE_HTTP3", "a problem in the HTTP/3 layer"),
    (96, "CURLE_QUIC_CONNECT_ERROR", "QUIC connection error"),
    (97, "CURLE_PROXY", "proxy handshake error"),
    (98, "CURLE_SSL_CLIENTCERT", "TLS client certificate required by the server"),
    (99, "CURLE_UNRECOVERABLE_POLL", "poll/select returned a fatal error"),
    (100, "CURLE_TOO_LARGE", "a value or data exceeded a limit"),
    # Not curl: what a shell / exec runtime returns when the command cannot run.
    (126, "SHELL_NOT_EXECUTABLE", "the command was found but is not executable (shell semantics)"),
    (127, "SHELL_COMMAND_NOT_FOUND", "command not found: curl is missing in the container"),
)

CURL_EXIT_CODES: dict[int, CurlExit] = {code: CurlExit(code, name, text) for code, name, text in _TABLE}


def describe_exit(code: int | None) -> str:
    """Human text for an exit code, e.g. "7 CURLE_COULDNT_CONNECT: failed to connect ..."."""
    if code is None:
        return "no exit code"
    entry = CURL_EXIT_CODES.get(code)
    if entry is None:
        return f"{code}: unknown exit code"
    return f"{code} {entry.name}: {entry.meaning}"
