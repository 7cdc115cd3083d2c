"""Layering rules: only agent/kube imports kubernetes; pure packages do no I/O-capable imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

AGENT = Path(__file__).resolve().parent.parent / "agent"
PURE_PACKAGES = ["probe", "envoy", "istio", "diagnose", "explain"]
PURE_MODULES = ["model.py", "evidence.py", "errors.py", "results.py", "redaction.py", "names.py", "budget.py"]
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
    "agent.check.run",
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


# --- the import graph of agent/ and meshlab/: no cycles, layers point down -------------------------

ROOT = AGENT.parent
PACKAGES = ("agent", "meshlab")
# The layer order (DESIGN.md): each layer may import its own and lower layers only.
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "agent.model", "agent.errors", "agent.evidence", "agent.results", "agent.signals", "agent.redaction",
        "agent.names", "agent.budget",  # rules shared with the schema-free `probe --agent` (pure)
        "agent.probe", "agent.envoy", "agent.istio", "agent.diagnose", "agent.explain", "agent.config",
        "agent.kube.cluster",  # the Cluster protocol and its value types: no kubernetes, no I/O
    ),
    ("agent.kube",),
    ("agent.bundle", "agent.check"),
    ("agent.serve",),
    ("agent.wiring", "agent.commands", "agent.cli", "agent.__main__", "agent"),
)  # fmt: skip
# Within a layer, edges that must not exist either (bundle is below check: check keeps bundles).
FORBIDDEN_SAME_LAYER = {("agent.bundle", "agent.check")}
LAB_IMPORTERS = ("agent.commands.demo", "agent.commands.lab")


def module_files() -> dict[str, Path]:
    mods: dict[str, Path] = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            mods[name] = path
    return mods


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports, counting every import statement (function-level and
    TYPE_CHECKING ones too); `from pkg import sub` counts as importing the submodule."""
    mods = module_files()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        edges: set[str] = set()
        for imported in imported_modules_of(path, mods):
            while imported and imported not in mods:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                edges.add(imported)
        graph[name] = edges
    return graph


def imported_modules_of(path: Path, mods: dict[str, Path]) -> set[str]:
    """Like imported_modules, for any file under ROOT; `from pkg import sub` is the submodule sub."""
    tree = ast.parse(path.read_text(), filename=str(path))
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    package = parts[:-1]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            for alias in node.names:
                names.add(f"{module}.{alias.name}" if f"{module}.{alias.name}" in mods else module)
    return names


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        pytest.param({"a": {"b"}, "b": set()}, [], id="healthy-no-cycle"),
        pytest.param({"a": {"b"}, "b": {"a"}}, [["a", "b"]], id="two-module-cycle"),
        pytest.param({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]], id="three-module-cycle"),
    ],
)  # fmt: skip
def test_cycles_finds_strongly_connected_modules(
    graph: dict[str, set[str]], expected: list[list[str]]
) -> None:
    assert cycles(graph) == expected


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles (function-level and TYPE_CHECKING imports count): " + "; ".join(
        " <-> ".join(c) for c in found
    )


def layer_of(module: str) -> tuple[int, str] | None:
    best: tuple[int, str] | None = None
    for level, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                best is None or len(prefix) > len(best[1])
            ):
                best = (level, prefix)
    return best


def test_every_agent_module_has_a_layer() -> None:
    missing = [m for m in module_files() if m.startswith("agent") and layer_of(m) is None]
    assert not missing


def test_layers_point_down() -> None:
    bad: list[str] = []
    for module, imports in import_graph().items():
        mine = layer_of(module)
        if mine is None:
            continue
        for imported in imports:
            theirs = layer_of(imported)
            if theirs is None:
                continue
            if theirs[0] > mine[0] or (mine[1], theirs[1]) in FORBIDDEN_SAME_LAYER:
                bad.append(f"{module} (layer {mine[0]}) imports {imported} (layer {theirs[0]})")
    assert not bad, "\n".join(sorted(bad))


def test_agent_imports_the_lab_only_from_demo_and_lab() -> None:
    bad = [
        f"{module} imports {imported}"
        for module, imports in import_graph().items()
        if module.startswith("agent") and module not in LAB_IMPORTERS
        for imported in imports
        if imported.split(".")[0] == "meshlab"
    ]
    assert not bad, bad


def test_the_lab_imports_only_the_agents_pure_layer() -> None:
    bad = [
        f"{module} imports {imported}"
        for module, imports in import_graph().items()
        if module.startswith("meshlab")
        for imported in imports
        if imported.startswith("agent") and (layer_of(imported) or (99, ""))[0] > 0
    ]
    assert not bad, bad
