"""`meshprober tls-check` end to end on the seed resources (Typer CliRunner, no subprocess)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.commands.tls_check import render_table
from agent.evidence import PolicyView
from tests.support.shared_data import REAL

SEED = str(Path(__file__).resolve().parents[1] / "testdata/policy/seed")
LOAD = "load-test/load-test-client-84d6b9c7f-q4w8z"
TG = "traffic-generator/traffic-generator-7b9c6d5f4-h7m2p"


@pytest.mark.parametrize(
    ("args", "code", "out_has"),
    [
        pytest.param(["--from", LOAD, "productpage.bookinfo:9080"], 1, "CONFLICT", id="seed-conflict-table"),
        pytest.param(
            ["--from", TG, "productpage.bookinfo:9080"],
            0,
            "traffic-generator/named-destrule",
            id="healthy-ok",
        ),
        pytest.param(
            ["--from", LOAD], 1, "details.bookinfo.svc.cluster.local:9080", id="all-services-of-client"
        ),
        pytest.param(
            ["--from", TG, "productpage.bookinfo"],
            0,
            "productpage.bookinfo.svc.cluster.local:9080",
            id="host-without-port",
        ),
        pytest.param(["--all"], 1, "FROM", id="audit"),
    ],
)
def test_tls_check(args: list[str], code: int, out_has: str) -> None:
    result = CliRunner().invoke(app, ["tls-check", *args, "--resources", SEED])
    assert result.exit_code == code, result.output
    assert out_has in result.stdout
    if code == 0:
        assert "CONFLICT" not in result.stdout
    else:
        assert (
            "HOST:PORT" in result.stdout
            and "AUTHN POLICY" in result.stdout
            and "DESTINATION RULE" in result.stdout
        )


def test_tls_check_json_contract() -> None:
    result = CliRunner().invoke(
        app, ["tls-check", "--from", LOAD, "productpage.bookinfo:9080", "--resources", SEED, "--json"]
    )
    assert result.exit_code == 1
    (row,) = json.loads(result.stdout)
    assert {
        k: row[k]
        for k in (
            "host",
            "port",
            "status",
            "client_mode",
            "client_mode_source",
            "server_mode",
            "destination_rule",
            "peer_authentication",
        )
    } == {
        "host": "productpage.bookinfo.svc.cluster.local",
        "port": 9080,
        "status": "CONFLICT",
        "client_mode": "DISABLE",
        "client_mode_source": "destination_rule",
        "server_mode": "STRICT",
        "destination_rule": "bookinfo/destrule-productpage",
        "peer_authentication": "bookinfo/default",
    }
    assert "LEAST_CONN" in row["remedy"]["patch"] and "ISTIO_MUTUAL" in row["remedy"]["patch"]
    assert row["remedy"]["text"] and row["symptom"] and row["explanation"]


@pytest.mark.parametrize(
    ("args", "err_has"),
    [
        pytest.param(["--from", "no-slash", "--resources", SEED], "--from 'no-slash'", id="bad-from"),
        pytest.param(["--from", "Bad/Pod", "--resources", SEED], "--from", id="uppercase-from"),
        pytest.param(
            ["--from", LOAD, "productpage:99999", "--resources", SEED], "port must be 1-65535", id="bad-port"
        ),
        pytest.param(["--from", LOAD, "x;rm -rf /", "--resources", SEED], "not a valid host", id="bad-host"),
        pytest.param(["--from", LOAD, "nope", "--resources", SEED], "not a known Service", id="unknown-host"),
        pytest.param(
            ["--from", "load-test/ghost", "--resources", SEED],
            "pod load-test/ghost not found",
            id="unknown-pod",
        ),
        pytest.param(
            ["--from", LOAD, "--resources", "/nonexistent/dir"],
            "--resources /nonexistent/dir",
            id="missing-dir",
        ),
        pytest.param(["--resources", SEED], "--from NAMESPACE/POD is required", id="no-from"),
        pytest.param(
            ["--all", "--from", LOAD, "--resources", SEED], "--all cannot be combined", id="all-with-from"
        ),
    ],
)
def test_tls_check_bad_input(args: list[str], err_has: str) -> None:
    result = CliRunner().invoke(app, ["tls-check", *args])
    assert result.exit_code == 2
    assert err_has in result.stderr
    assert "Traceback" not in result.output


def test_tls_check_notes_go_to_stderr(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text(
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p, namespace: ns}\nspec: {mtls: {mode: NOPE}}\n"
        "---\napiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: ns}\nspec: {ports: [{port: 80}]}\n"
    )
    result = CliRunner().invoke(app, ["tls-check", "--all", "--resources", str(tmp_path)])
    assert result.exit_code == 0
    assert "x.yaml#1: PeerAuthentication ns/p: invalid: spec.mtls.mode 'NOPE'" in result.stderr


GOLDEN = REAL / "istioctl_golden"
if not GOLDEN.is_dir():
    GOLDEN = Path(__file__).resolve().parents[3] / "shared/fixtures/istio-real/istioctl_golden"


def _golden_view(n: int) -> PolicyView:
    return PolicyView(
        f"host{n}",
        n,
        "OK",
        "HTTP",
        "default",
        "HTTP",
        f"destination-rule{n}/namespace{n}",
        f"auth-policy{n}/namespace{n}",
    )


@pytest.mark.parametrize(
    ("golden", "views"),
    [
        pytest.param("authn_tls-check_1.4_singleAuth.txt", [_golden_view(2)], id="istioctl-1.4-singleAuth"),
        pytest.param(
            "authn_tls-check_1.4_multiAuth.txt",
            [_golden_view(1), _golden_view(2)],
            id="istioctl-1.4-multiAuth",
        ),
    ],
)
def test_table_layout_matches_istioctl_golden(golden: str, views: list[PolicyView]) -> None:
    """Same columns and tabwriter layout (padding 5) as istioctl 1.4's TLSCheckWriter."""
    assert render_table([(None, v) for v in views]) == (GOLDEN / golden).read_text()


def test_live_cluster_path_is_used_without_resources(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.istio.load import load_objects_from_dir
    from agent.kube import live

    calls: list[tuple[object, object]] = []
    closed: list[bool] = []

    class FakeCluster:  # STAND-IN for LiveCluster: no API server in this unit test
        def list_policy_objects(self) -> list[dict[str, object]]:
            return load_objects_from_dir(Path(SEED)).objects

        def __enter__(self) -> FakeCluster:
            return self

        def __exit__(self, *exc: object) -> None:
            closed.append(True)

    def fake_from_kubeconfig(
        cls: object = None, context: object = None, namespace: object = None
    ) -> FakeCluster:
        calls.append((context, namespace))
        return FakeCluster()

    monkeypatch.setattr(live.LiveCluster, "from_kubeconfig", classmethod(fake_from_kubeconfig))
    result = CliRunner().invoke(app, ["tls-check", "--from", TG, "productpage.bookinfo:9080"])
    assert result.exit_code == 0, result.output
    assert calls == [(None, None)]
    assert closed == [True]  # the client is closed once the resources are read
