"""`meshprober lab up|down|status`: the local mesh lab as a background process with a state dir."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from agent.commands.lab_extra import require_lab

app = typer.Typer(
    help="The local mesh lab: real Envoy sidecars and an API-server emulator.", no_args_is_help=True
)

DEFAULT_STATE_DIR = Path.home() / ".meshprober" / "lab"
UP_TIMEOUT_S = 90.0


@app.callback()
def _lab_installed() -> None:
    """The local mesh lab: real Envoy sidecars, SPIFFE certificates and a Kubernetes API-server emulator."""
    require_lab("lab")


StateDir = Annotated[
    Path, typer.Option("--state-dir", help="Where the lab keeps its kubeconfig, logs and pids.")
]


def _alive(pid: int) -> bool:
    from meshlab.processes import pid_alive

    return pid_alive(pid)


def _state(state_dir: Path) -> dict[str, Any] | None:
    from meshlab.daemon import read_state

    return read_state(state_dir)


def _running(state: dict[str, Any] | None) -> bool:
    if not state or state.get("phase") != "ready":
        return False
    pid = state.get("pid")
    return isinstance(pid, int) and _alive(pid)


def _export_line(state: dict[str, Any], scenario: str) -> None:
    typer.echo(f"lab {scenario!r} is up: {len(state.get('pods') or [])} pods")
    typer.echo(f"export KUBECONFIG={state['kubeconfig']}")


@app.command()
def up(
    scenario: Annotated[str, typer.Option(help="Built-in scenario name or a scenario YAML file.")] = "seed",
    resources: Annotated[
        Path | None, typer.Option(help="A directory of your own Istio/Kubernetes YAML loaded on top.")
    ] = None,
    state_dir: StateDir = DEFAULT_STATE_DIR,
    foreground: Annotated[
        bool, typer.Option("--foreground", help="Run in this terminal until Ctrl-C instead of detaching.")
    ] = False,
    api_latency_ms: Annotated[
        float,
        typer.Option(
            "--api-latency-ms", min=0, max=10000, help="Injected delay per API call (model a remote cluster)."
        ),
    ] = 0.0,
    exec_latency_ms: Annotated[
        float,
        typer.Option("--exec-latency-ms", min=0, max=10000, help="Injected delay per exec, on top of it."),
    ] = 0.0,
) -> None:
    """Start the lab in the background and print the KUBECONFIG to use."""
    from agent.errors import InputError
    from meshlab.scenario import load_scenario, load_user_resources

    # Validate everything the user gave before starting anything: bad input is exit 2.
    try:
        load_scenario(scenario)
        if resources is not None:
            load_user_resources(resources)
    except InputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    state_dir = state_dir.expanduser().resolve()
    if _running(_state(state_dir)):
        typer.echo(
            f"error: a lab already runs with state dir {state_dir}; `meshprober lab down` first", err=True
        )
        raise typer.Exit(2)
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "state.json").unlink(missing_ok=True)
    if foreground:
        from meshlab.daemon import run

        def ready(state: dict[str, Any]) -> None:
            _export_line(state, scenario)
            typer.echo("Ctrl-C stops the lab.")

        code = run(
            scenario,
            state_dir,
            resources.resolve() if resources else None,
            on_ready=ready,
            api_latency_ms=api_latency_ms,
            exec_latency_ms=exec_latency_ms,
        )
        if code != 0:
            reason = (_state(state_dir) or {}).get("error") or f"see {state_dir / 'lab.log'}"
            typer.echo(f"error: lab failed to start: {reason}", err=True)
            raise typer.Exit(1)
        typer.echo("lab stopped")
        return
    argv = [sys.executable, "-m", "meshlab.daemon", "--scenario", scenario, "--state-dir", str(state_dir)]
    if resources is not None:
        argv += ["--resources", str(resources.resolve())]
    if api_latency_ms or exec_latency_ms:
        argv += ["--api-latency-ms", f"{api_latency_ms:g}", "--exec-latency-ms", f"{exec_latency_ms:g}"]
    with (state_dir / "daemon.out").open("ab") as out:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )
    try:
        _wait_ready(proc, state_dir, scenario)
    except KeyboardInterrupt:
        # Ctrl-C while waiting: do not leave a half-started lab behind.
        proc.terminate()
        proc.wait(15)
        typer.echo("interrupted; lab stopped", err=True)
        raise typer.Exit(130) from None


def _wait_ready(proc: subprocess.Popen[bytes], state_dir: Path, scenario: str) -> None:
    from agent.commands.progress import status

    started = time.monotonic()
    deadline = started + UP_TIMEOUT_S
    what = f"starting the lab {scenario!r}: real Envoy sidecars, certificates, the API-server emulator"
    with status(what + " ...") as line:
        while time.monotonic() < deadline:
            state = _state(state_dir)
            if state and state.get("phase") == "ready":
                break
            if (state and state.get("phase") == "failed") or proc.poll() is not None:
                reason = (state or {}).get("error") or f"daemon exited; see {state_dir / 'daemon.out'}"
                typer.echo(f"error: lab failed to start: {reason}", err=True)
                raise typer.Exit(1)
            line.update(f"{what} ... {time.monotonic() - started:.0f}s")
            time.sleep(0.1)
    if state and state.get("phase") == "ready":
        _export_line(state, scenario)
        return
    proc.terminate()
    typer.echo(f"error: lab not ready after {UP_TIMEOUT_S:.0f}s; see {state_dir / 'lab.log'}", err=True)
    raise typer.Exit(1)


@app.command()
def down(state_dir: StateDir = DEFAULT_STATE_DIR) -> None:
    """Stop everything the lab started."""
    state_dir = state_dir.expanduser().resolve()
    state = _state(state_dir)
    pid = state.get("pid") if state else None
    if not isinstance(pid, int) or not _alive(pid):
        typer.echo("lab is not running")
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    if _alive(pid):
        # The daemon's children die with it (PDEATHSIG); SIGKILL is the last resort.
        with contextlib.suppress(ProcessLookupError):
            detached = os.getpgid(pid) == pid  # `lab up` made it a session (and group) leader
            os.killpg(pid, signal.SIGKILL) if detached else os.kill(pid, signal.SIGKILL)
    typer.echo("lab stopped")


@app.command()
def status(
    state_dir: StateDir = DEFAULT_STATE_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show whether the lab runs, its kubeconfig and pods."""
    state_dir = state_dir.expanduser().resolve()
    state = _state(state_dir) or {}
    running = _running(state)
    out = {
        "running": running,
        "kubeconfig": state.get("kubeconfig") or str(state_dir / "kubeconfig"),
        "pods": state.get("pods") or [] if running else [],
        "scenario": state.get("scenario"),
        "state_dir": str(state_dir),
    }
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    if not running:
        typer.echo(f"lab is not running (state dir {state_dir})")
        return
    typer.echo(f"lab {out['scenario']!r} running; export KUBECONFIG={out['kubeconfig']}")
    for pod in state.get("pods") or []:
        typer.echo(f"  {pod}")
