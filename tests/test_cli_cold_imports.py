"""A cold `meshprober` run imports only what its subcommand uses (issue 16).

`probe --agent URL` hands the work to a running agent: it must not load the kubernetes client, the
config schema, YAML or the policy engine (it posts with httpx, the project's HTTP client). Each case
runs a fresh interpreter (as a user's shell does) and lists the modules it loaded; the agent URL is a
closed loopback port.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NOT_FOR_AGENT = ("kubernetes", "yaml", "agent.kube", "agent.config", "agent.istio", "agent.check")
NOT_FOR_PROBE = (
    "agent.commands.demo",
    "agent.commands.lab",
    "agent.commands.tls_check",
    "kubernetes.dynamic",
)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed once this returns: connecting is refused


def _loaded(*argv: str) -> tuple[int, str, set[str]]:
    """(exit code, stderr, modules loaded) of `meshprober ARGV` in a fresh interpreter."""
    script = (
        "import json, sys\n"
        "from agent.cli import main\n"
        f"sys.argv = ['meshprober', *{list(argv)!r}]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
        "print(json.dumps({'code': code, 'modules': sorted(sys.modules)}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return int(out["code"] or 0), proc.stderr, set(out["modules"])


def _offending(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


def test_probe_via_agent_imports_no_cluster_client_schema_or_engine() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    code, err, modules = _loaded(
        "probe", "--from", "load-test/gen", "--to", "http://a.b:9080/", "--agent", url
    )
    assert code == 2 and "unreachable" in err, err
    assert _offending(modules, NOT_FOR_AGENT) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--from", "no-slash", "--to", "http://x"], "--from: must be NS/WORKLOAD", id="from-shape"),
        pytest.param(["--from", "A/b", "--to", "http://x"], "--from.namespace: 'A' is not a valid namespace", id="ns"),
        pytest.param(["--from", "a/b", "--to", "ftp://x"], "--to.url: URL 'ftp://x': scheme must be http", id="url"),
        pytest.param(["--from", "a/b", "--to", "http://x", "--expect", "9"], "--expect[0]: must be an HTTP", id="expect"),
    ],
)  # fmt: skip
def test_bad_flags_read_the_same_with_and_without_agent(argv: list[str], message: str) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    local_code, local_err, _ = _loaded("probe", *argv, "--kubeconfig", "/nonexistent")
    agent_code, agent_err, modules = _loaded("probe", *argv, "--agent", url)
    assert local_code == agent_code == 2
    assert message in local_err and local_err == agent_err  # checked before any request
    assert _offending(modules, NOT_FOR_AGENT) == []


def test_local_probe_loads_only_its_own_command() -> None:
    code, err, modules = _loaded("probe", "--from", "a/b", "--to", "http://x", "--kubeconfig", "/nonexistent")
    assert code == 2 and "file not found" in err, err
    assert _offending(modules, NOT_FOR_PROBE) == []
