"""Namespace-scoped LiveCluster against the API-server emulator with namespaced RBAC only.

The agent user may list pods/services/DRs/PAs in `bookinfo` and read the same (plus the `istio`
ConfigMap) in `istio-system`, as deploy/overlays/single-namespace grants: cluster-wide lists are
forbidden (today's behaviour without a scope), scoped lists work and return only in-scope objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.check.run import CheckContext, policy_check
from agent.config import parse_config_text
from agent.errors import ConfigError, Forbidden, InputError
from agent.kube.live import LiveCluster
from agent.wiring import apply_scope
from meshlab import apiserver
from tests.support.istio_builders import dr, mesh, pa, svc

pytestmark = pytest.mark.timeout(60)

USER = "system:serviceaccount:meshprober:meshprober"
READ = ["pods", "services", "destinationrules", "peerauthentications"]


def meta(kind: str, name: str, namespace: str, api: str = "v1", **rest: Any) -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": namespace}, **rest}


def pod(name: str, namespace: str, app: str) -> dict[str, Any]:
    doc = meta("Pod", name, namespace)
    doc["metadata"]["labels"] = {"app": app, "security.istio.io/tlsMode": "istio"}
    doc["spec"] = {"containers": [{"name": app}, {"name": "istio-proxy"}]}
    doc["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    return doc


OBJECTS: list[dict[str, Any]] = [
    *({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in ("bookinfo", "istio-system", "other", "locked")),
    pod("productpage-1", "bookinfo", "productpage"),
    pod("reviews-1", "bookinfo", "reviews"),
    svc("bookinfo", "reviews", 9080),
    dr("bookinfo", "reviews", "reviews", tls="DISABLE"),
    pa("istio-system", "default", "STRICT"),
    mesh(enableAutoMtls=True, rootNamespace="istio-system"),
    # outside the scope: must not be listed by a scoped agent
    pod("stranger-1", "other", "stranger"),
    svc("other", "stranger", 9080),
    dr("other", "all-reviews", "reviews.bookinfo.svc.cluster.local", tls="ISTIO_MUTUAL"),
    svc("locked", "vault", 9080),
]  # fmt: skip


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("scope")
    rules = [
        {"verbs": ["get", "list", "watch"], "resources": READ, "namespaces": ["bookinfo", "istio-system"]},
        {"verbs": ["get"], "resources": ["configmaps"], "namespaces": ["istio-system"]},
    ]
    e = apiserver.Emulator(OBJECTS, state_dir=root / "state", rbac={"admin": [{"verbs": ["*"]}], USER: rules})
    e.start()
    try:
        yield e
    finally:
        e.stop()


@pytest.fixture
def live(emu: Any, tmp_path: Path) -> Iterator[LiveCluster]:
    cluster = LiveCluster.from_kubeconfig(str(emu.write_kubeconfig(tmp_path / "kc", user=USER)))
    yield cluster
    cluster.close()


def names(objs: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]) for o in objs}


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.list_policy_objects(), id="policy-objects"),
        pytest.param(lambda c: c.list_services(), id="services"),
        pytest.param(lambda c: c.list_pods(), id="pods"),
    ],
)
def test_unscoped_lists_are_forbidden(live: LiveCluster, call: Any) -> None:
    """Without a scope the agent lists cluster-wide, as before: namespaced RBAC forbids it."""
    with pytest.raises(Forbidden, match="lacks permission to list"):
        call(live)


def test_scoped_policy_objects_are_the_in_scope_ones(live: LiveCluster) -> None:
    counted: list[str] = []
    live.set_scope(["bookinfo"])
    live.set_error_counter(counted.append)
    assert names(live.list_policy_objects()) == {
        ("DestinationRule", "bookinfo", "reviews"),
        ("PeerAuthentication", "istio-system", "default"),
        ("ConfigMap", "istio-system", "istio"),
        ("Service", "bookinfo", "reviews"),
        ("Pod", "bookinfo", "productpage-1"),
        ("Pod", "bookinfo", "reviews-1"),
    }
    assert counted == []


@pytest.mark.parametrize(
    ("scope", "services", "counted"),
    [
        pytest.param(["bookinfo"], {"reviews"}, [], id="one-namespace"),
        pytest.param(["bookinfo", "bookinfo"], {"reviews"}, [], id="duplicates-dropped"),
        pytest.param(["bookinfo", "locked"], {"reviews"}, ["discovery"], id="forbidden-namespace-counted"),
        pytest.param(["istio-system", "bookinfo"], {"reviews"}, [], id="two-namespaces"),
    ],
)
def test_scoped_service_listing(
    live: LiveCluster, scope: list[str], services: set[str], counted: list[str]
) -> None:
    seen: list[str] = []
    live.set_scope(scope)
    live.set_error_counter(seen.append)
    assert {s.name for s in live.list_services()} == services
    assert seen == counted


def test_forbidden_namespace_keeps_the_rest_of_the_policy_view(
    live: LiveCluster, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []
    live.set_scope(["locked", "bookinfo"])
    live.set_error_counter(seen.append)
    got = names(live.list_policy_objects())
    assert ("DestinationRule", "bookinfo", "reviews") in got and (
        "PeerAuthentication",
        "istio-system",
        "default",
    ) in got
    # DRs, PAs, services and pods each forbidden in `locked`: one count per list, all "policy"
    assert seen == ["policy"] * 4
    assert "namespace locked skipped" in caplog.text and 'in namespace "locked"' in caplog.text


def test_every_namespace_forbidden_raises(live: LiveCluster) -> None:
    seen: list[str] = []
    live.set_scope(["locked"])
    live.set_error_counter(seen.append)
    with pytest.raises(Forbidden, match='lacks permission to list "services" in namespace "locked"'):
        live.list_services()
    assert seen == []  # the caller counts its own failure once (as for a cluster-wide list)


@pytest.mark.parametrize(
    "scope",
    [pytest.param("bookinfo", id="string-not-list"), pytest.param(["Bookinfo"], id="uppercase"), pytest.param(["a/b"], id="slash")],
)  # fmt: skip
def test_bad_scope_is_an_input_error(live: LiveCluster, scope: Any) -> None:
    with pytest.raises(InputError):
        live.set_scope(scope)


AGENT_YAML = """\
scope: {namespaces: [bookinfo]}
paths:
  - name: productpage-to-reviews
    from: {namespace: bookinfo, workload: productpage}
    to: {url: "http://reviews.bookinfo.svc.cluster.local:9080/"}
"""


def test_policy_check_with_the_config_scope(live: LiveCluster) -> None:
    """The pipeline's policy-only check (meshprober_tls_conflict) works with namespaced RBAC."""
    config = parse_config_text(AGENT_YAML, "agent.yaml")
    assert apply_scope(config, None, live) == ("bookinfo",)
    view = policy_check(config.paths[0], CheckContext.for_cluster(live))
    assert view is not None
    # the bookinfo DR disables TLS while the mesh-wide PA is STRICT; the DR in `other` is not seen
    assert (view.status, view.client_mode, view.server_mode) == ("CONFLICT", "DISABLE", "STRICT")
    assert view.destination_rule is not None and "bookinfo" in view.destination_rule


def test_policy_check_without_scope_is_forbidden(live: LiveCluster) -> None:
    config = parse_config_text(AGENT_YAML.replace("scope: {namespaces: [bookinfo]}\n", ""), "agent.yaml")
    assert apply_scope(config, None, live) is None and live.scope is None
    with pytest.raises(Forbidden):
        policy_check(config.paths[0], CheckContext.for_cluster(live))


@pytest.mark.parametrize(
    ("override", "scope", "error"),
    [
        pytest.param(["bookinfo"], ("bookinfo",), None, id="override-matches"),
        pytest.param(["bookinfo", "istio-system"], ("bookinfo", "istio-system"), None, id="override-wider"),
        pytest.param(["other"], None, "paths[0].from.namespace: namespace 'bookinfo' is outside --namespace other", id="override-misses-source"),
        pytest.param(["Nope"], None, "--namespace: 'Nope' is not a valid namespace", id="override-invalid"),
    ],
)  # fmt: skip
def test_namespace_override(
    live: LiveCluster, override: list[str], scope: tuple[str, ...] | None, error: str | None
) -> None:
    config = parse_config_text(AGENT_YAML, "agent.yaml")
    if error:
        with pytest.raises(ConfigError, match=error.replace("[", r"\[").replace("]", r"\]")):
            apply_scope(config, override, live, source="agent.yaml")
        return
    assert apply_scope(config, override, live) == scope and live.scope == scope


@pytest.mark.parametrize(
    ("scope_line", "override", "conflict", "errors"),
    [
        pytest.param("", ["bookinfo"], "CONFLICT", {}, id="run-namespace-flag"),
        pytest.param("scope: {namespaces: [bookinfo]}\n", None, "CONFLICT", {}, id="config-scope"),
        pytest.param("scope: {namespaces: [bookinfo, locked]}\n", None, "CONFLICT", {"policy": 4, "discovery": 1}, id="locked-namespace-counted"),
        pytest.param("", None, None, {"policy": 1, "discovery": 1}, id="no-scope-forbidden-as-before"),
    ],
)  # fmt: skip
def test_build_agent_scopes_the_cluster(
    live: LiveCluster,
    tmp_path: Path,
    scope_line: str,
    override: list[str] | None,
    conflict: str | None,
    errors: dict[str, int],
) -> None:
    """build_agent passes the scope (or --namespace) to the cluster and wires the error counter, so
    prime_policy (meshprober_tls_conflict at start) works with namespaced RBAC. (The agent lists
    services once at start, discovery rules or not: the `discovery` count.)"""
    from agent.wiring import build_agent, prime_policy

    config_path = tmp_path / "agent.yaml"
    config_path.write_text(scope_line + AGENT_YAML.split("\n", 1)[1])
    agent, ctx = build_agent(config_path, live, evidence_dir=tmp_path / "evidence", namespaces=override)
    agent.start(serve=False, schedule=False)
    try:
        prime_policy(agent, ctx)
        [snap] = agent.store.snapshot()
        assert (snap.policy.status if snap.policy else None) == conflict
        assert {k: v for k, v in agent.store.errors().items() if v} == errors
    finally:
        agent.stop()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        pytest.param(["--namespace", "Nope"], "--namespace: 'Nope' is not a valid namespace", id="invalid"),
        pytest.param(["--namespace", "other"], "paths[0].from.namespace: namespace 'bookinfo' is outside --namespace other", id="misses-source"),
    ],
)  # fmt: skip
def test_run_namespace_flag_usage_errors(emu: Any, tmp_path: Path, flags: list[str], message: str) -> None:
    import typer
    from typer.testing import CliRunner

    from agent.commands import run

    config_path = tmp_path / "agent.yaml"
    config_path.write_text(AGENT_YAML)
    kubeconfig = emu.write_kubeconfig(tmp_path / "kc", user=USER)
    app = typer.Typer()
    app.command("run")(run.run)
    app.command("noop")(lambda: None)  # two commands, so `run` is a subcommand as in agent/cli.py
    args = ["run", "--config", str(config_path), "--kubeconfig", str(kubeconfig), *flags]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
