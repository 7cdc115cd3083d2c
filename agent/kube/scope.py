"""Namespace-scoped listing: one list per namespace instead of one cluster-wide list.

Used when the agent's RBAC is namespaced only (deploy/overlays/single-namespace). A Forbidden answer
for one namespace is logged and counted, and the other namespaces' items are kept; only when every
namespace is forbidden does the Forbidden propagate uncounted (nothing was read; the caller counts
its own failure, as for a cluster-wide list). Any other error
propagates at once. No kubernetes import here: the callers pass the per-namespace list call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from agent.errors import Forbidden, InputError
from agent.kube import objects

log = logging.getLogger(__name__)
T = TypeVar("T")

ErrorCounter = Callable[[str], None]  # called with a stage name, e.g. agent.serve.store.record_error


def normalize_scope(namespaces: Iterable[str] | None) -> tuple[str, ...] | None:
    """Validated namespace names, duplicates dropped, order kept; None (or empty) means cluster-wide."""
    if namespaces is None:
        return None
    if isinstance(namespaces, str):  # a lone string would be split into letters
        raise InputError(f"scope namespaces must be a list of names, got the string {namespaces!r}")
    out: list[str] = []
    for ns in namespaces:
        objects.validate_name("namespace", ns)
        if ns not in out:
            out.append(ns)
    return tuple(out) or None


def with_root(scope: Sequence[str], root_namespace: str) -> tuple[str, ...]:
    """The scope plus the mesh root namespace (mesh-wide policy and the mesh ConfigMap live there)."""
    return tuple(scope) if root_namespace in scope else (*scope, root_namespace)


def list_each(
    namespaces: Sequence[str],
    list_one: Callable[[str], list[T]],
    *,
    what: str,
    stage: str,
    on_error: ErrorCounter,
) -> list[T]:
    """list_one(ns) for every namespace, concatenated; a forbidden namespace is skipped and counted."""
    out: list[T] = []
    forbidden: list[tuple[str, Forbidden]] = []
    for ns in namespaces:
        try:
            out.extend(list_one(ns))
        except Forbidden as exc:
            forbidden.append((ns, exc))
    if forbidden and len(forbidden) == len(namespaces):
        raise forbidden[0][1]  # nothing was read: the caller's own failure handling counts it once
    for ns, err in forbidden:
        # Clear and counted, but not fatal: the other namespaces still give a (partial) view.
        log.warning("%s: namespace %s skipped: %s", what, ns, err)
        on_error(stage)
    return out
