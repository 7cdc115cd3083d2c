"""agent.kube.proxy end to end: LiveCluster exec -> emulator -> `pilot-agent` shim -> real Envoy 1.40 admin.

Proves the cluster-name regex (percent-encoded, whole name) against Envoy's own name_regex handling,
that a miss is `{}`, that a rejected filter falls back to the full dump, and stats?filter=.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from agent.kube.live import LiveCluster
from agent.kube.proxy import fetch_clusters_config_dump, fetch_stats
from meshlab import apiserver

pytestmark = [
    pytest.mark.envoy,
    pytest.mark.timeout(60),
    pytest.mark.skipif(shutil.which("envoy") is None, reason="envoy not on PATH"),
]

FQDN = "reviews.bookinfo.svc.cluster.local"
CDS = {
    "resources": [
        {
            "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
            "name": name,
            "connect_timeout": "1s",
            "type": "STATIC",
            "load_assignment": {"cluster_name": name, "endpoints": []},
        }
        for name in (f"outbound|9080||{FQDN}", f"outbound|9080|v1|{FQDN}", f"outbound|90800||{FQDN}")
    ]
}

# pilot-agent stand-in: GET the admin path, print the body only, exit 1 on an HTTP error (like Istio's).
SHIM = """#!{python}
import sys, urllib.error, urllib.request
assert sys.argv[1:3] == ["request", "GET"], sys.argv
if {reject!r} and "name_regex" in sys.argv[3]:
    sys.stderr.write("unknown query parameter: name_regex\\n"); sys.exit(1)
try:
    sys.stdout.write(urllib.request.urlopen("http://{admin}/" + sys.argv[3], timeout=5).read().decode())
except urllib.error.HTTPError as e:
    sys.stderr.write(e.read().decode()); sys.exit(1)
"""


@pytest.fixture(scope="module")
def proxy_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("envoy")
    (root / "cds.json").write_text(json.dumps(CDS))
    (root / "envoy.json").write_text(
        json.dumps(
            {
                "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
                "node": {
                    "id": "sidecar~127.0.0.1~reviews.bookinfo~bookinfo.svc.cluster.local",
                    "cluster": "c1",
                },
                "dynamic_resources": {
                    "cds_config": {
                        "path_config_source": {"path": str(root / "cds.json")},
                        "resource_api_version": "V3",
                    }
                },
            }
        )
    )
    admin_file = root / "admin.txt"
    envoy = subprocess.Popen(
        [
            "envoy",
            "-c",
            str(root / "envoy.json"),
            "--admin-address-path",
            str(admin_file),
            "-l",
            "error",
            "--use-dynamic-base-id",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    emu = None
    try:
        for _ in range(100):
            if admin_file.is_file() and admin_file.read_text().strip():
                break
            time.sleep(0.1)
        admin = admin_file.read_text().strip()
        for reject in (False, True):
            bin_dir = root / ("old-bin" if reject else "bin")
            bin_dir.mkdir()
            shim = bin_dir / "pilot-agent"
            shim.write_text(SHIM.format(python=sys.executable, admin=admin, reject=reject))
            shim.chmod(0o755)

        def exec_context(ns: str, name: str, container: str) -> Any:
            bin_dir = root / ("old-bin" if name == "old-proxy" else "bin")
            return apiserver.ContainerContext(cwd=root, env={"PATH": f"{bin_dir}:/usr/bin:/bin"})

        pods = [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": "bookinfo"},
                "spec": {"containers": [{"name": "app"}, {"name": "istio-proxy"}]},
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
            }
            for name in ("proxy", "old-proxy")
        ]
        emu = apiserver.Emulator(pods, state_dir=root / "state", exec_context=exec_context).start()
        live = LiveCluster.from_kubeconfig(str(emu.write_kubeconfig(root / "kc")))
        yield {"live": live}
        live.close()
    finally:
        if emu is not None:
            emu.stop()
        envoy.kill()
        envoy.wait(10)


def cluster_names(body: bytes) -> list[str]:
    """Names in either shape: `resource=` answers list DynamicCluster items directly in `configs`;
    the full dump nests them under a ClustersConfigDump's dynamic_active_clusters."""
    names: list[str] = []
    for cfg in json.loads(body).get("configs", []):
        if "cluster" in cfg:
            names.append(cfg["cluster"]["name"])
        names.extend(c["cluster"]["name"] for c in cfg.get("dynamic_active_clusters", []))
    return names


@pytest.mark.parametrize(
    ("pod", "subset", "expected"),
    [
        pytest.param("proxy", None, [f"outbound|9080||{FQDN}"], id="exact-not-port-prefix-or-subset"),
        pytest.param("proxy", "v1", [f"outbound|9080|v1|{FQDN}"], id="subset"),
        pytest.param("proxy", "v9", [], id="miss-is-empty-object"),
    ],
)
def test_filtered_cluster_dump(
    proxy_world: dict[str, Any], pod: str, subset: str | None, expected: list[str]
) -> None:
    body = fetch_clusters_config_dump(proxy_world["live"], "bookinfo", pod, FQDN, 9080, subset)
    assert cluster_names(body) == expected
    if not expected:
        assert json.loads(body) == {}


def test_rejected_filter_falls_back_to_full_dump(proxy_world: dict[str, Any]) -> None:
    body = fetch_clusters_config_dump(proxy_world["live"], "bookinfo", "old-proxy", FQDN, 9080)
    assert len(cluster_names(body)) == 3  # the whole dump: every cluster, bootstrap included
    assert any("BootstrapConfigDump" in c.get("@type", "") for c in json.loads(body)["configs"])


def test_stats_filter(proxy_world: dict[str, Any]) -> None:
    text = fetch_stats(
        proxy_world["live"], "bookinfo", "proxy", r"cluster\.outbound\|9080\|v1\|.*upstream_cx_total$"
    )
    assert text.strip() == f"cluster.outbound|9080|v1|{FQDN}.upstream_cx_total: 0"
