"""The lab's one loopback check: every lab listener and admin call stays on 127.0.0.0/8.

Only IP literals pass: a name such as `127.example.com` merely looks loopback and could resolve
anywhere. Pure; no I/O.
"""

from __future__ import annotations

import ipaddress

_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


def is_loopback_ip(host: str) -> bool:
    """True for an IPv4 literal inside 127.0.0.0/8."""
    try:
        return ipaddress.ip_address(host) in _LOOPBACK
    except ValueError:
        return False
