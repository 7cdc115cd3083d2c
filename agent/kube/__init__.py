"""Kubernetes access. The ONLY package that imports `kubernetes` (enforced by tests/test_layering.py).

`cluster.py` holds the Cluster protocol in our own types (no kubernetes import); `live.py` is the
implementation over the official client (`LiveCluster`), composed of `core_reads` (pods, services,
endpoints, mesh ConfigMap, namespace scope), `policy_list` (Istio CRs) and `logs_exec` (logs, exec);
client exceptions are mapped to agent.errors at this seam (`rest`, `exec_call`, `errors_map`).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys


def _defer_client_package() -> None:
    """Register the `kubernetes` package without running its __init__, which imports every subpackage
    (dynamic and its JSON-schema validator, informer, leaderelection, utils and its YAML loader):
    ~0.1 s of a one-shot command that uses none of them. `from kubernetes import client` still
    loads the submodule; any other subpackage loads on first attribute access."""
    if "kubernetes" in sys.modules:
        return
    spec = importlib.util.find_spec("kubernetes")
    if spec is None or spec.submodule_search_locations is None:
        return  # not installed: the first real import says so
    package = importlib.util.module_from_spec(spec)

    def __getattr__(name: str) -> object:  # PEP 562: looked up for missing attributes
        if name == "__version__":
            from importlib.metadata import version

            return version("kubernetes")
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return importlib.import_module(f"kubernetes.{name}")
        except ModuleNotFoundError as exc:
            raise AttributeError(f"module 'kubernetes' has no attribute {name!r}") from exc

    vars(package)["__getattr__"] = __getattr__
    sys.modules["kubernetes"] = package


_defer_client_package()
