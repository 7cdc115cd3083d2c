"""List the Istio policy custom resources (DR, PA, legacy Policy/MeshPolicy) at a served version.

Discovers served versions via /apis; when the server gives no usable discovery document it probes the
versions we know, newest first. One version per kind (all versions expose the same objects); the kinds
are listed at once (agent.kube.fanout).
Cluster-wide by default; given namespaces, one list per namespace (see agent.kube.scope).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from agent.errors import NotFound
from agent.kube.fanout import settle
from agent.kube.policy_kinds import POLICY_KINDS, PolicyKind, pick_version, served_from_group_list
from agent.kube.raw_api import RawApi
from agent.kube.rest import Rest
from agent.kube.scope import ErrorCounter, list_each


def served_versions(rest: Rest, custom: RawApi) -> dict[str, list[str]]:
    """{group: [versions, preferred first]} from /apis."""
    return served_from_group_list(rest.json("API discovery (/apis)", custom.get_api_versions))


def _in_namespace(
    rest: Rest, custom: RawApi, kind: PolicyKind, version: str, what: str
) -> Callable[[str], list[Any]]:
    def one(namespace: str) -> list[Any]:
        doc = rest.json(
            f"{what} in namespace {namespace}",
            custom.list_namespaced_custom_object,
            kind.group,
            version,
            namespace,
            kind.plural,
        )
        return list(doc.get("items") or [])

    return one


def list_istio_policy(
    rest: Rest,
    custom: RawApi,
    namespaces: Sequence[str] | None = None,
    on_error: ErrorCounter = lambda stage: None,
) -> list[dict[str, Any]]:
    """Every served DestinationRule/PeerAuthentication/(legacy) Policy/MeshPolicy, cluster-wide; or,
    given `namespaces`, the namespaced kinds in each of them (a forbidden namespace is skipped and
    counted under stage "policy"; cluster-scoped MeshPolicy is not listed). The kinds are listed in
    parallel; items come back in POLICY_KINDS order and the first failing kind's error is raised."""
    try:
        served: dict[str, list[str]] | None = served_versions(rest, custom)
    except NotFound:
        served = None  # no usable /apis/ document: probe each known version instead
    kinds = [k for k in POLICY_KINDS if namespaces is None or k.namespaced]
    outcomes = settle(
        [functools.partial(_list_kind, rest, custom, kind, served, namespaces, on_error) for kind in kinds]
    )
    return [item for outcome in outcomes for item in outcome.result()]


def _list_kind(
    rest: Rest,
    custom: RawApi,
    kind: PolicyKind,
    served: dict[str, list[str]] | None,
    namespaces: Sequence[str] | None,
    on_error: ErrorCounter,
) -> list[dict[str, Any]]:
    """One kind's objects at the served version, else at the first known version the server answers."""
    candidates = [pick_version(kind, served)] if served is not None else list(kind.versions)
    for version in candidates:
        if version is None:
            continue
        what = f"list {kind.plural}.{kind.group}/{version}"
        try:
            if namespaces is None:
                doc = rest.json(what, custom.list_cluster_custom_object, kind.group, version, kind.plural)
                items = list(doc.get("items") or [])
            else:
                one = _in_namespace(rest, custom, kind, version, what)
                items = list_each(namespaces, one, what=what, stage="policy", on_error=on_error)
        except NotFound:  # this version (or the resource) is not served
            continue
        out: list[dict[str, Any]] = []
        for item in items:
            if not isinstance(item, dict):
                continue
            item.setdefault("apiVersion", f"{kind.group}/{version}")
            item.setdefault("kind", kind.kind)
            out.append(item)
        return out
    return []
