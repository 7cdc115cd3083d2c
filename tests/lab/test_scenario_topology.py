"""Lab scenarios load, validate, and become realistic Kubernetes objects."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from agent.errors import InputError
from meshlab.scenario import available_scenarios, load_scenario
from meshlab.topology import plan_pods, scenario_objects

SUBNET = "127.42.7"


@pytest.mark.parametrize(
    "name", ["seed", "healthy", "no-sidecar-client", "mtls-to-no-sidecar", "bad-certs", "realistic"]
)
def test_builtin_scenarios_load_and_build(name: str) -> None:
    assert name in available_scenarios()
    scenario = load_scenario(name)
    pods = plan_pods(scenario, SUBNET)
    objs = scenario_objects(scenario, pods, SUBNET)
    ips = [p.ip for p in pods]
    assert len(ips) == len(set(ips)) and all(ip.startswith(SUBNET + ".") for ip in ips)
    kinds = {o["kind"] for o in objs}
    assert {"Namespace", "Pod", "ConfigMap"} <= kinds
    for path in scenario.paths:
        ns, workload = path.from_.split("/")[:2]
        assert scenario.workload(ns, workload), f"{path.name}: source {path.from_} is not a workload"


def test_seed_pods_look_injected() -> None:
    scenario = load_scenario("seed")
    pods = plan_pods(scenario, SUBNET)
    objs = scenario_objects(scenario, pods, SUBNET)
    pod = next(o for o in objs if o["kind"] == "Pod" and o["metadata"]["namespace"] == "load-test")
    assert [c["name"] for c in pod["spec"]["containers"]] == ["traffic-generator", "istio-proxy"]
    assert pod["metadata"]["labels"]["security.istio.io/tlsMode"] == "istio"
    assert pod["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"] == "traffic-generator"
    assert pod["status"]["podIP"].startswith(SUBNET)
    svc = next(o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == "productpage")
    assert svc["spec"]["ports"] == [{"name": "http", "port": 9080, "targetPort": 9080, "protocol": "TCP"}]
    dr = next(
        o for o in objs if o["kind"] == "DestinationRule" and o["metadata"]["name"] == "destrule-productpage"
    )
    assert dr["spec"]["trafficPolicy"]["tls"]["mode"] == "DISABLE"


def test_no_sidecar_workload_has_no_proxy() -> None:
    scenario = load_scenario("no-sidecar-client")
    objs = scenario_objects(scenario, plan_pods(scenario, SUBNET), SUBNET)
    pod = next(o for o in objs if o["kind"] == "Pod" and o["metadata"]["namespace"] == "legacy")
    assert [c["name"] for c in pod["spec"]["containers"]] == ["legacy-client"]
    assert "security.istio.io/tlsMode" not in pod["metadata"]["labels"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nworkloads: [{name: A, namespace: b}]\n", "workloads.0.name"),
        ("name: x\nworkloads: []\nbogus: 1\n", "bogus"),
        (
            "name: x\nworkloads: [{name: a, namespace: b, ports: [{port: 70000}]}]\n",
            "workloads.0.ports.0.port",
        ),
        ("- just a list\n", "a scenario is a YAML mapping"),
        ("name: [unclosed\n", "invalid YAML"),
    ],
    ids=["bad-name", "unknown-field", "bad-port", "not-a-mapping", "broken-yaml"],
)
def test_bad_scenarios_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=message.replace(".", r"\.").replace("[", r"\[")):
        load_scenario(path)


def test_unknown_scenario_lists_known_ones() -> None:
    with pytest.raises(InputError, match=r"known: .*seed"):
        load_scenario("nope")


@pytest.mark.parametrize(
    "name", ["seed", "healthy", "no-sidecar-client", "mtls-to-no-sidecar", "bad-certs", "realistic"]
)
def test_every_path_targets_a_service_port_of_the_scenario(name: str) -> None:
    """`meshprober demo` probes these paths: each must name a real source and a served port."""
    scenario = load_scenario(name)
    assert scenario.paths, f"{name} has no paths to probe"
    services = {
        (w.name, w.namespace): {p.port for p in w.ports} for w in scenario.workloads if w.ports and w.service
    }
    for path in scenario.paths:
        url = urlsplit(path.to)
        svc, ns = (url.hostname or "").split(".")[:2]
        assert url.port in services.get((svc, ns), set()), f"{name}/{path.name}: {path.to} is not served"


def test_path_via_and_curl_knobs_reach_the_demo_config(tmp_path: Path) -> None:
    from agent.commands.demo import agent_config
    from agent.config import parse_config

    text = load_scenario("seed-no-curl").model_dump_json(by_alias=True)
    scenario_file = tmp_path / "via.yaml"
    import json

    data = json.loads(text)
    data["paths"][0]["via"] = "exec"
    scenario_file.write_text(json.dumps(data))
    scen = load_scenario(scenario_file)
    assert scen.workload("load-test", "traffic-generator").curl is False  # type: ignore[union-attr]
    config = parse_config(agent_config(scen, tmp_path / "evidence"))
    vias = {p.name: p.source.via for p in config.paths}
    assert vias[scen.paths[0].name] == "exec"
    assert set(vias.values()) == {"exec", "auto"}
    assert config.probe_container.enabled
