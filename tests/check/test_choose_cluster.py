"""Which of the sidecar's clusters the request used, on the real Istio 1.9 Bookinfo dump (DR `details`
with subsets v1/v2: clusters `outbound|9080||details...`, `outbound|9080|v1|...`, `outbound|9080|v2|...`)."""

from __future__ import annotations

import pytest

from agent.check.mesh_facts import choose_cluster
from agent.envoy.config_dump import parse_clusters
from agent.evidence import AccessLogEntry
from agent.istio.routing import Route
from tests.support.shared_data import REAL

DUMP = REAL / "config_dumps" / "sidecar_istio1.9_bookinfo-productpage_dr-subsets.json"
DETAILS = "details.default.svc.cluster.local"


def entry(cluster: str) -> AccessLogEntry:
    return AccessLogEntry(layout="istio-1.9", upstream_cluster=cluster)


@pytest.mark.parametrize(
    ("log", "routed", "name", "note"),
    [
        pytest.param(
            None,
            None,
            f"outbound|9080||{DETAILS}",
            "subset clusters (v1, v2)",
            id="no-evidence-default-noted",
        ),
        pytest.param(
            entry(f"outbound|9080|v2|{DETAILS}"),
            None,
            f"outbound|9080|v2|{DETAILS}",
            None,
            id="access-log-names-subset",
        ),
        pytest.param(
            None,
            Route("default/details", (("v1", 100),)),
            f"outbound|9080|v1|{DETAILS}",
            "VirtualService default/details routes this request to subset v1",
            id="virtualservice-route",
        ),
        pytest.param(
            entry(f"outbound|9080|v2|{DETAILS}"),
            Route("default/details", (("v1", 100),)),
            f"outbound|9080|v2|{DETAILS}",
            None,
            id="access-log-beats-route",
        ),
        pytest.param(
            None,
            Route("default/details", (("v1", 50), ("v2", 50))),
            f"outbound|9080||{DETAILS}",
            "splits this route",
            id="weighted-split-unknown",
        ),
    ],
)
def test_choose_cluster(
    log: AccessLogEntry | None, routed: Route | None, name: str, note: str | None
) -> None:
    clusters = parse_clusters(DUMP.read_bytes())
    chosen, said = choose_cluster(clusters, DETAILS, 9080, log, routed)
    assert chosen is not None and chosen.name == name
    assert (said is None) if note is None else (said is not None and note in said)


def test_other_cluster_domain() -> None:
    """A cluster domain other than cluster.local: the cluster is found by `<svc>.<ns>.svc.`."""
    raw = DUMP.read_text().replace("details.default.svc.cluster.local", "details.default.svc.corp.internal")
    chosen, _ = choose_cluster(parse_clusters(raw), DETAILS, 9080, None)
    assert chosen is not None and chosen.fqdn == "details.default.svc.corp.internal"
