"""The lab's background process: `python -m meshlab.daemon --scenario NAME --state-dir DIR`.

`meshprober lab up` starts it detached and waits for `state.json` to say ready (or why not);
`lab down` sends SIGTERM; `lab up --foreground` runs `run()` in-process (Ctrl-C stops it).
It owns every lab process (they die with it) and writes nothing outside its state dir.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.errors import MeshproberError
from agent.signals import SignalLatch

STATE_FILE = "state.json"


def write_state(state_dir: Path, state: dict[str, Any]) -> None:
    tmp = state_dir / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    os.replace(tmp, state_dir / STATE_FILE)


def read_state(state_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((state_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def run(
    scenario: str,
    state_dir: Path,
    resources: Path | None = None,
    on_ready: Callable[[dict[str, Any]], None] | None = None,
    *,
    api_latency_ms: float = 0.0,
    exec_latency_ms: float = 0.0,
) -> int:
    """Start the lab, record its state, wait for SIGTERM/SIGINT, then stop everything.

    Must run in the main thread (signal handlers). `lab up --foreground` calls this directly, so
    Ctrl-C there stops the lab the same way `lab down` does.
    """
    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=state_dir / "lab.log",
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    latch = SignalLatch().__enter__()

    from meshlab.runtime import Lab
    from meshlab.scenario import load_scenario, load_user_resources

    base: dict[str, Any] = {"pid": os.getpid(), "state_dir": str(state_dir), "scenario": scenario}
    write_state(state_dir, {**base, "running": False, "phase": "starting"})
    try:
        try:
            extra = load_user_resources(resources) if resources else []
            lab = Lab(
                load_scenario(scenario),
                state_dir,
                extra_objects=extra,
                api_latency=api_latency_ms / 1000,
                exec_latency=exec_latency_ms / 1000,
            )
            lab.start()
        except Exception as exc:  # whatever it was, `lab up` must be told why (details in lab.log)
            reason = str(exc) if isinstance(exc, (MeshproberError, OSError, ValueError)) else repr(exc)
            write_state(state_dir, {**base, "running": False, "phase": "failed", "error": reason})
            logging.exception("lab failed to start")
            return 1
        state = {**base, **lab.describe(), "phase": "ready"}
        write_state(state_dir, state)
        try:
            if on_ready is not None:
                on_ready(state)
            latch.wait()
        finally:
            lab.stop()
            write_state(
                state_dir, {**base, "running": False, "phase": "stopped", "kubeconfig": str(lab.kubeconfig)}
            )
        return 0
    finally:
        latch.__exit__(None, None, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="meshprober-lab-daemon")
    parser.add_argument("--scenario", default="seed")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--resources", type=Path)
    parser.add_argument("--api-latency-ms", type=float, default=0.0)
    parser.add_argument("--exec-latency-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    return run(
        args.scenario,
        args.state_dir,
        args.resources,
        api_latency_ms=args.api_latency_ms,
        exec_latency_ms=args.exec_latency_ms,
    )


if __name__ == "__main__":
    raise SystemExit(main())
