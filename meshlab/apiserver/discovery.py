"""Legacy discovery documents (/api, /apis, /api/v1, /apis/{g}/{v}) built from the resource registry.

Pure; no I/O. Legacy discovery is answered even when kubectl asks for the aggregated form: it then
falls back to per-group/version requests, which is what a plain JSON answer means to it.
"""

from __future__ import annotations

from typing import Any

from meshlab.apiserver.resources import POD_SUBRESOURCES, RESOURCE_TYPES

VERSION_INFO = {
    "major": "1",
    "minor": "37",
    "gitVersion": "v1.37.1",
    "gitCommit": "0" * 40,
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.25.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _groups() -> dict[str, tuple[str, ...]]:
    groups: dict[str, tuple[str, ...]] = {}
    for rt in RESOURCE_TYPES:
        if rt.group and rt.group not in groups:
            groups[rt.group] = rt.versions
    return groups


def _group_doc(name: str, versions: tuple[str, ...]) -> dict[str, Any]:
    vs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": vs, "preferredVersion": vs[0]}


def api_group_list() -> dict[str, Any]:
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_doc(g, vs) for g, vs in _groups().items()],
    }


def api_group(group: str) -> dict[str, Any] | None:
    versions = _groups().get(group)
    if versions is None:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(group, versions)}


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    """APIResourceList for one group/version, or None if it is not served."""
    resources: list[dict[str, Any]] = []
    for rt in RESOURCE_TYPES:
        if rt.group != group or version not in rt.versions:
            continue
        entry: dict[str, Any] = {
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": list(rt.verbs),
        }
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        resources.append(entry)
        if rt.plural == "pods":
            for sub, (kind, verbs) in POD_SUBRESOURCES.items():
                resources.append(
                    {
                        "name": f"pods/{sub}",
                        "singularName": "",
                        "namespaced": True,
                        "kind": kind,
                        "verbs": list(verbs),
                    }
                )
    if not resources:
        return None
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}
