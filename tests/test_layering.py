"""Layering rules: only agent/kube imports kubernetes; pure packages do no I/O-capable imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

AGENT = Path(__file__).resolve().parent.parent / "agent"
PURE_PACKAGES = ["probe", "envoy", "istio", "diagnose"]
PURE_MODULES = ["model.py", "evidence.py", "errors.py", "drift.py"]
# Modules whose import means network, processes or a cluster client.
IO_MODULES = {
    "kubernetes",
    "subprocess",
    "socket",
    "http",
    "urllib",
    "httpx",
    "aiohttp",
    "requests",
    "asyncio",
    "multiprocessing",
    "ssl",
    "websocket",
    "apscheduler",
    "prometheus_client",
    "agent.kube",
    "agent.lab",
    "agent.serve",
    "agent.pipeline",
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _hits(names: set[str], banned: set[str]) -> set[str]:
    return {n for n in names if any(n == b or n.startswith(b + ".") for b in banned)}


def all_agent_files() -> list[Path]:
    return sorted(AGENT.rglob("*.py"))


@pytest.mark.parametrize("path", all_agent_files(), ids=lambda p: str(p.relative_to(AGENT)))
def test_only_agent_kube_imports_kubernetes(path: Path) -> None:
    if path.is_relative_to(AGENT / "kube"):
        return
    assert not _hits(imported_modules(path), {"kubernetes"}), f"{path} imports kubernetes"


def pure_files() -> list[Path]:
    files = [AGENT / m for m in PURE_MODULES]
    for pkg in PURE_PACKAGES:
        files.extend(sorted((AGENT / pkg).rglob("*.py")))
    files.append(AGENT / "kube" / "cluster.py")
    return files


@pytest.mark.parametrize("path", pure_files(), ids=lambda p: str(p.relative_to(AGENT)))
def test_pure_modules_do_no_io_imports(path: Path) -> None:
    bad = _hits(imported_modules(path), IO_MODULES)
    assert not bad, f"{path.relative_to(AGENT)} imports {sorted(bad)}"
