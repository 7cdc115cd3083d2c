"""Remedy edge cases: the fix keeps every other setting, shadows copy what they hide, and applying it works.

One row per way a fix can go wrong (see remedy.py); each row applies the patch and re-checks the pair.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from agent.istio.engine import PolicyEngine
from tests.support.istio_builders import dr, mesh, pa, pod, svc

FQDN = "web.ns.svc.cluster.local"
WORLD = [
    svc("ns", "web", 80, 8080),
    pod("ns", "web-0", "web", port=8080),
    pod("cli", "client-0", "client"),
    pod("istio-system", "gw-0", "gw"),
]
NAKED = pod("ns", "web-1", "web", sidecar=False, port=8080)
POLICY = {
    "loadBalancer": {"simple": "LEAST_CONN"},
    "connectionPool": {"tcp": {"maxConnections": 7}},
    "outlierDetection": {"consecutive5xxErrors": 3},
    "portLevelSettings": [{"port": {"number": 9999}, "loadBalancer": {"simple": "RANDOM"}}],
}
SUBSETS = [{"name": "v1", "labels": {"version": "v1"}}]


def _full(ns: str, name: str, host: str, tls: str, **spec: Any) -> dict[str, Any]:
    obj = dr(ns, name, host)
    obj["spec"]["trafficPolicy"] = {**POLICY, "tls": {"mode": tls}}
    obj["spec"].update(spec)
    return obj


def _ref(obj: dict[str, Any]) -> str:
    return f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"


@pytest.mark.parametrize(
    ("extra", "client", "want_ref", "want_spec", "text_has"),
    [
        pytest.param([pa("ns", "default", "STRICT"), NAKED,
                      dr("ns", "web", "web", tls="DISABLE", lb="LEAST_CONN", port_level=[{"port": {"number": 80}, "loadBalancer": {"simple": "RANDOM"}}])],
                     "cli/client-0", "ns/web",
                     {"host": "web", "trafficPolicy": {"loadBalancer": {"simple": "LEAST_CONN"},
                                                       "portLevelSettings": [{"port": {"number": 80}, "loadBalancer": {"simple": "RANDOM"}}]}},
                     "removes the top-level tls (mode DISABLE)", id="auto-at-port-gap-also-drops-top-level-tls"),
        pytest.param([pa("ns", "default", "STRICT"), pa("ns", "v0", "DISABLE", selector={"version": "v0"}),
                      pod("ns", "web-1", "web", labels={"version": "v0"}, port=8080),
                      dr("ns", "web", "web", tls="ISTIO_MUTUAL", port_level=[{"port": {"number": 80}, "loadBalancer": {"simple": "RANDOM"}}])],
                     "cli/client-0", "ns/web",
                     {"host": "web", "trafficPolicy": {"portLevelSettings": [{"port": {"number": 80}, "loadBalancer": {"simple": "RANDOM"}}]}},
                     "removes the top-level tls (mode ISTIO_MUTUAL)", id="auto-at-port-gap-drops-top-level-istio-mutual-too"),
        pytest.param([pa("ns", "default", "STRICT"), _full("ns", "ns-wide", "*.ns.svc.cluster.local", "DISABLE", subsets=SUBSETS)],
                     "cli/client-0", "ns/web-mtls",
                     {"host": FQDN, "trafficPolicy": {**POLICY, "tls": {"mode": "ISTIO_MUTUAL"}}, "subsets": SUBSETS},
                     "and subsets", id="shadow-copies-policy-port-settings-and-subsets"),
        pytest.param([pa("ns", "default", "STRICT"), _full("cli", "cli-wide", "*.local", "DISABLE", exportTo=["."])],
                     "cli/client-0", "cli/web-mtls",
                     {"host": FQDN, "exportTo": ["."], "trafficPolicy": {**POLICY, "tls": {"mode": "ISTIO_MUTUAL"}}},
                     "shadow cli/cli-wide", id="shadow-in-client-namespace-keeps-its-exportTo"),
        pytest.param([pa("ns", "default", "STRICT"), _full("cli", "sel", "*.local", "DISABLE", workloadSelector={"matchLabels": {"app": "client"}})],
                     "cli/client-0", "cli/web-mtls",
                     {"host": FQDN, "workloadSelector": {"matchLabels": {"app": "client"}}, "trafficPolicy": {**POLICY, "tls": {"mode": "ISTIO_MUTUAL"}}},
                     "shadow cli/sel", id="shadow-of-selector-dr-keeps-selector"),
        pytest.param([pa("ns", "default", "STRICT"), _full("istio-system", "root-private", "*.local", "DISABLE", exportTo=["."])],
                     "istio-system/gw-0", "istio-system/web-mtls",
                     {"host": FQDN, "exportTo": ["."], "trafficPolicy": {**POLICY, "tls": {"mode": "ISTIO_MUTUAL"}}},
                     "shadow istio-system/root-private", id="shadow-root-private-for-root-proxy"),
        pytest.param([mesh(defaultDestinationRuleExportTo=["."]), pa("ns", "default", "DISABLE"), pa("ns", "web", "STRICT", selector={"app": "web"})],
                     "cli/client-0", "ns/web-mtls",
                     {"host": FQDN, "exportTo": ["*"], "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}},
                     "defaultDestinationRuleExportTo", id="new-dr-exported-under-private-mesh-default"),
        pytest.param([pa("ns", "default", "DISABLE"), pa("ns", "web", "STRICT", selector={"app": "web"}), dr("ns", "web-mtls", "other", lb="RANDOM")],
                     "cli/client-0", "ns/web-mtls-2",
                     {"host": FQDN, "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}},
                     "Create DestinationRule ns/web-mtls-2", id="new-dr-name-avoids-existing"),
        pytest.param([pa("ns", "default", "STRICT"), _full("ns", "web", "web", "SIMPLE", subsets=SUBSETS)],
                     "cli/client-0", "ns/web",
                     {"host": "web", "trafficPolicy": {**POLICY, "tls": {"mode": "ISTIO_MUTUAL"}}, "subsets": SUBSETS},
                     "every other setting is kept", id="patch-in-place-keeps-everything"),
    ],
)  # fmt: skip
def test_remedy_edges(
    extra: list[dict[str, Any]], client: str, want_ref: str, want_spec: dict[str, Any], text_has: str
) -> None:
    ns, name = client.split("/")
    objs = WORLD + extra
    v = PolicyEngine(objs).check(ns, name, "web.ns", 80)
    assert v.status == "CONFLICT", v.explanation
    assert v.remedy_text and text_has in v.remedy_text, v.remedy_text
    patch = yaml.safe_load(v.remedy_patch or "")
    assert _ref(patch) == want_ref
    assert patch["spec"] == want_spec
    fixed = [o for o in objs if not (o["kind"] == "DestinationRule" and _ref(o) == want_ref)]
    after = PolicyEngine([*fixed, patch]).check(ns, name, "web.ns", 80)
    assert after.status == "OK", after.explanation


def test_healthy_pair_has_no_remedy() -> None:
    v = PolicyEngine([*WORLD, pa("ns", "default", "STRICT")]).check("cli", "client-0", "web.ns", 80)
    assert (v.status, v.remedy_text, v.remedy_patch) == ("OK", None, None)
