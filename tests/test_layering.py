"""Layering rules: only agent/kube imports kubernetes; pure packages do no I/O-capable imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

AGENT = Path(__file__).resolve().parent.parent / "agent"
PURE_PACKAGES = ["probe", "envoy", "istio", "diagnose", "explain"]
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
    "meshlab",
    "agent.serve",
    "agent.pipeline",
}


def imported_modules(path: Path, source: str | None = None) -> set[str]:
    """Absolute names of every module `path` imports; relative imports are resolved against its package
    (else `from ..kube import live` in agent/diagnose would slip past the rules)."""
    tree = ast.parse(path.read_text() if source is None else source, filename=str(path))
    package = list(path.relative_to(AGENT.parent).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            if node.module:
                names.add(".".join([*base, node.module]))
            else:  # `from . import x` imports the submodule x
                names.update(".".join([*base, alias.name]) for alias in node.names)
    return names


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("import json\nfrom agent.model import Verdict\n", {"json", "agent.model"}, id="healthy"),
        pytest.param("from ..kube.live import LiveCluster\n", {"agent.kube.live"}, id="relative-parent"),
        pytest.param("from . import ladder\n", {"agent.diagnose.ladder"}, id="relative-sibling"),
        pytest.param("import subprocess\n", {"subprocess"}, id="plain-import"),
    ],
)
def test_imported_modules_resolves_imports(source: str, expected: set[str]) -> None:
    assert imported_modules(AGENT / "diagnose" / "rules.py", source) == expected


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
