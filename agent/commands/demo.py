"""`meshprober demo`: the local lab on the seed scenario, the agent on it, a table of diagnoses.

Starts the lab in-process with its own state dir, writes an agent config for the scenario's
paths, runs one round and prints it, then (without --once) serves metrics/API/status page and
re-probes on schedule until Ctrl-C. Everything it started is torn down on exit.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import signal
import socket
import tempfile
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from agent.commands.lab_extra import require_lab
from agent.errors import InputError, MeshproberError

DEMO_INTERVAL_S = 10


def agent_config(
    scenario: Any, evidence_dir: Path, interval: float = DEMO_INTERVAL_S, token_file: Path | None = None
) -> dict[str, Any]:
    paths = []
    for p in scenario.paths:
        ns, workload, *container = p.from_.split("/")
        source: dict[str, Any] = {"namespace": ns, "workload": workload}
        if container:
            source["container"] = container[0]
        workload_spec = scenario.workload(ns, workload)
        if workload_spec is not None and not workload_spec.sidecar:
            source["require_sidecar"] = False  # the scenario's point is a client without a sidecar
        if p.via is not None:
            source["via"] = p.via
        paths.append({"name": p.name, "from": source, "to": {"url": p.to}, "expect": list(p.expect)})
    timeout = min(5.0, interval)
    return {
        "defaults": {"interval": f"{interval:g}s", "timeout": f"{timeout:g}s"},
        "limits": {"min_interval": f"{timeout:g}s"},
        "paths": paths,
        # Ad-hoc probes stay on for the demo, behind this run's own token (they need one).
        "api": {"listen": "127.0.0.1:9090", "allow_adhoc": token_file is not None}
        | ({"token_file": str(token_file)} if token_file is not None else {}),
        "evidence": {"dir": str(evidence_dir), "keep_per_path": 3},
        # The lab's admin may add ephemeral probe containers: `auto` uses one where an app has no curl.
        "probe_container": {"enabled": True},
    }


def demo(
    once: Annotated[
        bool, typer.Option("--once", help="Exit after one round (exit 1 if any path is unhealthy).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the diagnoses as JSON.")] = False,
    listen: Annotated[
        str, typer.Option(help="HOST:PORT for metrics, API and status page.")
    ] = "127.0.0.1:9090",
    scenario: Annotated[str, typer.Option(help="Lab scenario (built-in name or YAML file).")] = "seed",
    state_dir: Annotated[
        Path | None, typer.Option(help="Lab state dir (default: a temporary one, removed on exit).")
    ] = None,
    interval: Annotated[
        float,
        typer.Option(
            min=1.0, max=3600.0, envvar="MESHPROBER_DEMO_INTERVAL", help="Re-probe interval in seconds."
        ),
    ] = DEMO_INTERVAL_S,
) -> None:
    """Start the local lab on the seed scenario and run the agent against it."""
    require_lab("demo")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The demo prints its own table of verdicts; per-probe log events (for `run`) would repeat it.
    logging.getLogger("meshprober.events").setLevel(logging.ERROR)
    from agent.commands.render import make_console, print_results
    from agent.kube.live import LiveCluster
    from agent.serve.access import is_loopback
    from agent.serve.agent import parse_listen
    from agent.wiring import build_agent, prime_policy, run_round
    from meshlab.runtime import Lab
    from meshlab.scenario import load_scenario

    console = make_console(stderr=as_json)
    try:
        scen = load_scenario(scenario)
        if not once:
            host, port = parse_listen(listen, "--listen")
            if not is_loopback(host):
                raise InputError(
                    f"--listen {listen}: the demo serves ad-hoc probes, so only on loopback; "
                    "use 127.0.0.1:PORT (deploy the agent with a token for anything else)"
                )
            _check_port_free(host, port, listen)
    except MeshproberError as exc:
        typer.echo(f"meshprober demo: {exc}", err=True)
        raise typer.Exit(2) from None
    own_dir = state_dir is None
    root = Path(tempfile.mkdtemp(prefix="meshprober-demo-")) if state_dir is None else state_dir.resolve()
    lab = Lab(scen, root / "lab")
    agent = None
    cluster = None
    ctx = None
    exit_code = 0
    try:
        with console.status(f"starting the lab ({scen.name}: real Envoy sidecars, API-server emulator) ..."):
            lab.start()
        # soft_wrap: the path must stay on one line so it can be copied (and parsed by scripts).
        console.print(
            f"lab {scen.name!r} is up: {len(lab.pods)} pods; export KUBECONFIG={lab.kubeconfig}",
            soft_wrap=True,
        )
        import yaml

        config_path = root / "agent.yaml"
        token = secrets.token_urlsafe(24)  # this run's API token: printed once, gone with the state dir
        token_file = root / "api-token"
        token_file.touch(mode=0o600)
        token_file.write_text(token + "\n")
        config_path.write_text(
            yaml.safe_dump(agent_config(scen, root / "evidence", interval, token_file), sort_keys=False)
        )
        cluster = LiveCluster.from_kubeconfig(str(lab.kubeconfig))
        agent, ctx = build_agent(config_path, cluster, reload_interval=2.0)
        # The schedule starts after the first round, so the round and a scheduled run never collide.
        # Primed before the API answers: the first scrape already shows meshprober_tls_conflict.
        agent.start(
            listen=listen, serve=not once, schedule=False, before_serving=lambda: prime_policy(agent, ctx)
        )
        with console.status("probing every path (failures are re-probed and cross-checked) ..."):
            results = run_round(agent)
        if as_json:
            typer.echo(json.dumps([r.to_json() for r in results], indent=2))
        else:
            print_results(console, results)
        exit_code = 0 if all(r.healthy for r in results) else 1
        if once:
            raise typer.Exit(exit_code)
        agent.scheduler.start()
        console.print(
            f"\nserving {agent.url}/ (status page), {agent.url}/metrics, {agent.url}/api/v1/paths; "
            f"re-probing every {interval:g}s. Try: KUBECONFIG={lab.kubeconfig} kubectl apply -f <the fix above>. "
            "Ctrl-C to stop.",
            soft_wrap=True,
        )
        console.print(
            f"API token for this run (printed once): {token}  -- e.g. "
            f"curl -H 'Authorization: Bearer {token}' {agent.url}/api/v1/paths, or "
            f"MESHPROBER_TOKEN={token} meshprober probe --agent {agent.url} --from NS/WORKLOAD --to URL",
            soft_wrap=True,
            markup=False,
        )
        _follow(agent, console, as_json)
        exit_code = 0  # served until Ctrl-C: a clean stop, whatever the paths' health was
    except MeshproberError as exc:
        typer.echo(f"meshprober demo: {exc}", err=True)
        exit_code = 2
    except KeyboardInterrupt:  # Ctrl-C before serving started (lab start, first round)
        exit_code = 130
    except typer.Exit as done:
        exit_code = done.exit_code
    finally:
        # A second Ctrl-C must not cut the teardown short and leave Envoys behind.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if _main_thread() else None
        try:
            if ctx is not None:
                # A check still in flight must not write a bundle into the dir removed below.
                ctx.close_evidence()
            if agent is not None:
                agent.stop()
            if cluster is not None:
                cluster.close()
            lab.stop()
            if own_dir:
                shutil.rmtree(root, ignore_errors=True)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
    raise typer.Exit(exit_code)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _check_port_free(host: str, port: int, listen: str) -> None:
    """Fail before the lab starts (seconds of work) when --listen's port is already taken."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # As aiohttp binds: a port in TIME_WAIT is free, one with a listener is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise InputError(
                f"--listen {listen}: cannot listen there ({exc.strerror}); "
                "pick a free address, e.g. --listen 127.0.0.1:9191"
            ) from None


def _follow(agent: Any, console: Any, as_json: bool) -> None:
    """Print the table again whenever a path's verdict changes, until SIGINT/SIGTERM."""
    from agent.commands.render import print_results

    stop = threading.Event()
    last: dict[str, str] = {}

    def watch() -> None:
        while not stop.wait(1.0):
            results = [s.latest for s in agent.store.snapshot() if s.latest is not None]
            current = {r.path: r.diagnosis.verdict.value for r in results}
            if current and current != last:
                if last:
                    if as_json:
                        typer.echo(json.dumps([r.to_json() for r in results], indent=2))
                    else:
                        print_results(console, sorted(results, key=lambda r: r.path), remedies=False)
                last.clear()
                last.update(current)

    watcher = threading.Thread(target=watch, name="demo-watch", daemon=True)
    watcher.start()
    try:
        agent.run_until_signalled(stop)
    finally:
        stop.set()
