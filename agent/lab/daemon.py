"""The lab's background process: `python -m agent.lab.daemon --scenario NAME --state-dir DIR`.

`meshprober lab up` starts it detached and waits for `state.json` to say ready (or why not);
`lab down` sends SIGTERM. It owns every lab process (they die with it) and writes nothing outside
its state dir.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
from pathlib import Path
from typing import Any

from agent.errors import MeshproberError

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="meshprober-lab-daemon")
    parser.add_argument("--scenario", default="seed")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--resources", type=Path)
    args = parser.parse_args(argv)
    state_dir: Path = args.state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=state_dir / "lab.log",
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    from agent.lab.runtime import Lab
    from agent.lab.scenario import load_scenario

    base: dict[str, Any] = {"pid": os.getpid(), "state_dir": str(state_dir), "scenario": args.scenario}
    write_state(state_dir, {**base, "running": False, "phase": "starting"})
    try:
        extra: list[dict[str, Any]] = []
        if args.resources:
            from agent.istio.load import load_objects_from_dir

            loaded = load_objects_from_dir(args.resources)
            for note in loaded.notes:
                logging.warning("resources: %s", note)
            extra = loaded.objects
        lab = Lab(load_scenario(args.scenario), state_dir, extra_objects=extra)
        lab.start()
    except (MeshproberError, OSError) as exc:
        write_state(state_dir, {**base, "running": False, "phase": "failed", "error": str(exc)})
        logging.exception("lab failed to start")
        return 1
    write_state(state_dir, {**base, **lab.describe(), "phase": "ready"})
    try:
        stop.wait()
    finally:
        lab.stop()
        write_state(
            state_dir, {**base, "running": False, "phase": "stopped", "kubeconfig": str(lab.kubeconfig)}
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
