"""List the Istio policy custom resources (DR, PA, legacy Policy/MeshPolicy) at a served version.

Discovers served versions via /apis; when the server gives no usable discovery document it probes the
versions we know, newest first. One version per kind (all versions expose the same objects).
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

from agent.errors import NotFound
from agent.kube.policy_kinds import POLICY_KINDS, pick_version, served_from_group_list
from agent.kube.raw_api import RawApi
from agent.kube.rest import Rest


def served_versions(rest: Rest, api: client.ApiClient) -> dict[str, list[str]]:
    """{group: [versions, preferred first]} from /apis."""
    return served_from_group_list(rest.json("API discovery (/apis)", RawApi(api).get_api_versions))


def list_istio_policy(rest: Rest, api: client.ApiClient) -> list[dict[str, Any]]:
    """Every served DestinationRule/PeerAuthentication/(legacy) Policy/MeshPolicy, cluster-wide."""
    custom = RawApi(api)
    try:
        served: dict[str, list[str]] | None = served_versions(rest, api)
    except NotFound:
        served = None  # no usable /apis/ document: probe each known version instead
    out: list[dict[str, Any]] = []
    for kind in POLICY_KINDS:
        candidates = [pick_version(kind, served)] if served is not None else list(kind.versions)
        for version in candidates:
            if version is None:
                continue
            what = f"list {kind.plural}.{kind.group}/{version}"
            try:
                doc = rest.json(what, custom.list_cluster_custom_object, kind.group, version, kind.plural)
            except NotFound:  # this version (or the resource) is not served
                continue
            for item in doc.get("items") or []:
                item.setdefault("apiVersion", f"{kind.group}/{version}")
                item.setdefault("kind", kind.kind)
                out.append(item)
            break
    return out
