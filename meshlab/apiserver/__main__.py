"""`python -m meshlab.apiserver --objects DIR --state-dir DIR [--host H] [--port P]
[--api-latency-ms N] [--exec-latency-ms N]`.

Prints one JSON ready line (url, kubeconfig, ca, pid) on stdout and serves until SIGTERM/SIGINT.
Bad arguments: a message on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from agent.signals import SignalLatch
from meshlab.apiserver.emulator import Emulator
from meshlab.apiserver.store import load_manifests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m meshlab.apiserver")
    parser.add_argument("--objects", type=Path, help="file or directory of YAML/JSON manifests")
    parser.add_argument("--state-dir", type=Path, required=True, help="CA, certs and kubeconfig go here")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-latency-ms", type=float, default=0.0, help="injected delay per API call")
    parser.add_argument("--exec-latency-ms", type=float, default=0.0, help="injected delay per exec, on top")
    args = parser.parse_args(argv)
    try:
        if args.objects and not args.objects.exists():
            raise ValueError(f"--objects {args.objects}: no such file or directory")
        objects = load_manifests(args.objects) if args.objects else []
        emu = Emulator(
            objects,
            state_dir=args.state_dir,
            api_latency=args.api_latency_ms / 1000,
            exec_latency=args.exec_latency_ms / 1000,
        )
        emu.start(args.host, args.port)
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    latch = SignalLatch().__enter__()
    kubeconfig = emu.write_kubeconfig(args.state_dir / "kubeconfig")
    print(
        json.dumps(
            {
                "url": emu.url,
                "kubeconfig": str(kubeconfig),
                "ca": str(emu.ca_path),
                "pid": os.getpid(),
            }
        ),
        flush=True,
    )
    try:
        latch.wait()
    finally:
        latch.__exit__(None, None, None)
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
