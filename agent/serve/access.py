"""Who may reach the agent's HTTP listeners: pure decisions, no I/O.

- `exposure_problem`: the agent refuses to start an open API off loopback (no token) unless
  `api.insecure: true`, and refuses ad-hoc probes without a token.
- `HostCheck`: the Host header must name the listen address or a configured name, so a web page
  whose DNS name is re-bound to 127.0.0.1 (DNS rebinding) cannot talk to a developer's agent.
- `is_loopback`: peers and listen hosts on loopback (a `kubectl port-forward` arrives there too).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

WILDCARDS = frozenset({"", "0.0.0.0", "::", "*"})  # noqa: S104 - names of the wildcard address, not a bind


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 (also v4-mapped) and `localhost`; False for anything else."""
    if not host:
        return False
    if host.lower().rstrip(".") == "localhost":
        return True
    ip = _ip(host)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip is not None and ip.is_loopback


def exposure_problem(listen_host: str, has_token: bool, insecure: bool, allow_adhoc: bool) -> str | None:
    """Why the API must not start this way (a message naming the settings), or None."""
    if allow_adhoc and not has_token:
        return (
            "api.allow_adhoc: ad-hoc probes run curl with a workload's identity, so they need a bearer "
            "token; set api.token_file or api.token_env"
        )
    if not is_loopback(listen_host) and not has_token and not insecure:
        shown = listen_host or "0.0.0.0"  # noqa: S104 - how the wildcard is shown in the message
        return (
            f"api.listen: {shown} is not a loopback address and no token is configured; set "
            "api.token_file or api.token_env, listen on 127.0.0.1, or set api.insecure: true to serve "
            "the API open anyway"
        )
    return None


def split_host_header(value: str) -> str:
    """The host part of a Host header value (`name:port`, `[v6]:port`), lowercased, no trailing dot."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else value
    host = value.rsplit(":", 1)[0] if value.count(":") == 1 else value
    return host.rstrip(".")


@dataclass(frozen=True)
class HostCheck:
    """Allowed Host header values for one listener: its own address, and configured names."""

    listen_host: str
    names: frozenset[str] = frozenset()

    def allows(self, header: str | None) -> bool:
        if not header:
            return False
        host = split_host_header(header)
        if host in self.names:
            return True
        listen = self.listen_host.strip("[]").lower()
        ip = _ip(host)
        if listen in WILDCARDS:
            # Every local address answers; a rebinding page always sends its own DNS name, never an IP.
            return ip is not None or host == "localhost"
        if is_loopback(listen):
            return host == "localhost" or (ip is not None and is_loopback(host))
        return host == listen or (ip is not None and ip == _ip(listen))

    def refusal(self, header: str | None) -> str:
        allowed = sorted({self.listen_host or "the listen address", *self.names})
        return (
            f"Host header {header!r} is not this agent's address; allowed: {', '.join(allowed)} "
            "(add names to api.allowed_hosts)"
        )
