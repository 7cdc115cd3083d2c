"""`pilot-agent request GET <path>` emulation: calls the pod's Envoy admin and prints only the body.

Accepts the same debug ports as Istio's pilot-agent (15000, 15021, 15020, 15004; default 15000).
Argv-based, loopback only. Usage: `python -m meshlab.pilot_agent --pod-ip IP request GET config_dump`.
"""

from __future__ import annotations

import argparse
import sys

from meshlab.envoy_proc import admin_request
from meshlab.loopback import is_loopback_ip

ALLOWED_PORTS = (15000, 15021, 15020, 15004)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="pilot-agent")
    p.add_argument("--pod-ip", required=True, help="the pod's loopback address (the lab sets it)")
    p.add_argument("--debug-port", type=int, default=15000)
    p.add_argument("command", choices=["request"])
    p.add_argument("method", type=str.upper, choices=["GET", "POST"])
    p.add_argument("path")
    p.add_argument("body", nargs="?", default=None)
    args = p.parse_args(argv)
    if args.debug_port not in ALLOWED_PORTS:
        print(f"Error: debug port {args.debug_port} is not allowed (one of {ALLOWED_PORTS})", file=sys.stderr)
        return 1
    if not is_loopback_ip(args.pod_ip):
        print(f"Error: --pod-ip {args.pod_ip!r} is not a loopback address", file=sys.stderr)
        return 1
    try:
        status, body = admin_request(args.pod_ip, args.debug_port, args.method, args.path, args.body)
    except OSError as exc:
        print(f"Error: failed to reach Envoy admin {args.pod_ip}:{args.debug_port}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(body)
    return 0 if status < 400 else 1


if __name__ == "__main__":
    sys.exit(main())
