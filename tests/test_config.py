"""Agent config: validation errors name the file and the exact field path; discovery expansion is pure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from agent.commands import config_cmd
from agent.config import (
    Defaults,
    DiscoveryRule,
    expand_discovery,
    load_config,
    parse_config_text,
    parse_duration,
)
from agent.errors import ConfigError, InputError
from agent.kube.cluster import ServiceInfo, ServicePort

ROOT = Path(__file__).resolve().parent.parent

GOOD = """\
defaults: {interval: 30s, timeout: 5s, expect: [200]}
paths:
  - name: load-test-to-productpage
    from: {namespace: load-test, workload: traffic-generator}
    to: {url: "http://productpage.bookinfo.svc.cluster.local:9080/productpage"}
  - name: by-service
    from: {namespace: bookinfo, selector: "app=traffic-generator,version=v1", container: app}
    to: {service: productpage, namespace: bookinfo, port: 9080, path: /productpage}
    expect: 302
    interval: 2m
limits: {min_interval: 10s}
"""


def path_yaml(**fields: str) -> str:
    """One path with the given raw YAML fields overriding a valid baseline."""
    base = {
        "name": "p",
        "from": "{namespace: ns, workload: w}",
        "to": '{url: "http://svc.ns.svc.cluster.local:8080/"}',
    }
    base.update(fields)
    lines = "\n".join(f"    {k}: {v}" for k, v in base.items())
    return "paths:\n  - " + lines.strip() + "\n"


BAD = [
    ("port-out-of-range", path_yaml(to="{service: s, namespace: n, port: 70000}"), "paths[0].to.port: must be 1-65535"),
    ("port-zero", path_yaml(to="{service: s, namespace: n, port: 0}"), "paths[0].to.port: must be 1-65535"),
    ("bad-duration", path_yaml(interval="3x"), "paths[0].interval: must be a duration like 30s"),
    ("negative-timeout", path_yaml(timeout="-1"), "paths[0].timeout: must be > 0"),
    ("unknown-field", path_yaml(colour="red"), "paths[0].colour: unknown field"),
    ("unknown-source-field", path_yaml(**{"from": "{namespace: ns, workload: w, pod: x}"}), "paths[0].from.pod: unknown field"),
    ("missing-name", "paths:\n  - {from: {namespace: a, workload: b}, to: {url: 'http://a/'}}\n", "paths[0].name: required field is missing"),
    ("missing-to", "paths:\n  - {name: x, from: {namespace: a, workload: b}}\n", "paths[0].to: required field is missing"),
    ("url-and-service", path_yaml(to="{url: 'http://a/', service: s}"), "paths[0].to: give either url"),
    ("neither-url-nor-service", path_yaml(to="{path: /x}"), "paths[0].to: give url, or service"),
    ("workload-and-selector", path_yaml(**{"from": "{namespace: ns, workload: w, selector: a=b}"}), "paths[0].from: give exactly one"),
    ("no-workload", path_yaml(**{"from": "{namespace: ns}"}), "paths[0].from: give exactly one"),
    ("url-shell-semicolon", path_yaml(to="{url: 'http://a/x;rm -rf /'}"), "paths[0].to.url: URL 'http://a/x;rm -rf /': contains whitespace"),
    ("url-command-subst", path_yaml(to="{url: 'http://a/$(id)'}"), "paths[0].to.url: URL 'http://a/$(id)': path or query has characters"),
    ("url-whitespace", path_yaml(to="{url: 'http://a/ b'}"), "paths[0].to.url: URL 'http://a/ b': contains whitespace"),
    ("url-backtick-host", path_yaml(to="{url: 'http://a`id`/'}"), "paths[0].to.url: URL 'http://a`id`/': bad host name"),
    ("url-file-scheme", path_yaml(to="{url: 'file:///etc/passwd'}"), "paths[0].to.url: URL 'file:///etc/passwd': scheme must be http or https"),
    ("url-option-injection", path_yaml(to="{url: '-o/tmp/x'}"), "paths[0].to.url: URL '-o/tmp/x': scheme must be http or https"),
    ("url-bad-port", path_yaml(to="{url: 'http://a:99999/'}"), "paths[0].to.url: URL 'http://a:99999/': port must be a number in 1-65535"),
    ("url-trailing-newline", path_yaml(to='{url: "http://a/p\\n"}'), "paths[0].to.url: URL 'http://a/p\\n': contains whitespace"),
    ("namespace-trailing-newline", path_yaml(**{"from": '{namespace: "ns\\n", workload: w}'}), "paths[0].from.namespace: 'ns\\n' is not a valid namespace"),
    ("listen-trailing-newline", 'api: {listen: "127.0.0.1:9090\\n"}\n', "api: listen '127.0.0.1:9090\\n' must be HOST:PORT"),
    ("namespace-uppercase", path_yaml(**{"from": "{namespace: Prod, workload: w}"}), "paths[0].from.namespace: 'Prod' is not a valid namespace"),
    ("selector-spaces", path_yaml(**{"from": "{namespace: ns, selector: 'app = x'}"}), "paths[0].from.selector: 'app = x' is not a valid label selector"),
    ("service-path-no-slash", path_yaml(to="{service: s, namespace: n, port: 80, path: x}"), "paths[0].to.path: URL path 'x': must start with /"),
    ("expect-bad-status", path_yaml(expect="[200, 999]"), "paths[0].expect[1]: must be an HTTP status code 100-599"),
    ("expect-empty", path_yaml(expect="[]"), "paths[0].expect: must not be empty"),
    ("duplicate-name", path_yaml() + "  - {name: p, from: {namespace: a, workload: b}, to: {url: 'http://a/'}}\n", "paths[1].name: duplicate path name 'p' (also paths[0])"),
    ("below-min-interval", path_yaml(interval="1s", timeout="1s"), "paths[0].interval: 1s is below limits.min_interval 5s"),
    ("timeout-longer-than-interval", path_yaml(interval="10s", timeout="20s"), "paths[0].timeout: 20s is longer than the interval 10s"),
    ("bad-default", "defaults: {interval: soon}\n", "defaults.interval: must be a duration"),
    ("inline-token", "api: {token: s3cret}\n", "api: an inline token is not allowed"),
    ("token-file-and-env", "api: {token_file: /t, token_env: TOKEN}\n", "api: give token_file or token_env, not both"),
    ("token-env-bad-name", "api: {token_env: 'my token'}\n", "api: token_env 'my token' is not an environment variable name"),
    ("listen-no-port", "api: {listen: localhost}\n", "api: listen 'localhost' must be HOST:PORT"),
    ("rate-limit-zero", "api: {rate_limit: {requests: 0}}\n", "api.rate_limit.requests: Input should be greater than or equal to 1"),
    ("shard-index-too-big", "shard: {index: 2, count: 2}\n", "shard: index 2 must be below count 2"),
    ("limits-concurrency-zero", "limits: {max_concurrent_probes: 0}\n", "limits.max_concurrent_probes: Input should be greater than or equal to 1"),
    ("max-paths-exceeded", "limits: {max_paths: 1}\n" + path_yaml() + "  - {name: q, from: {namespace: a, workload: b}, to: {url: 'http://a/'}}\n", "paths: 2 paths exceed limits.max_paths 1"),
    ("discovery-no-namespaces", "discovery:\n  - {from: {namespace: a, workload: b}, namespaces: []}\n", "discovery[0].namespaces: must not be empty"),
    ("discovery-below-min-interval", "discovery:\n  - {from: {namespace: a, workload: b}, namespaces: [x], interval: 1s}\n", "discovery[0].interval: is below limits.min_interval"),
    ("evidence-unknown", "evidence: {keep: 3}\n", "evidence.keep: unknown field"),
    ("scope-empty", "scope: {namespaces: []}\n", "scope.namespaces: must not be empty"),
    ("scope-missing-namespaces", "scope: {}\n", "scope.namespaces: required field is missing"),
    ("scope-bad-namespace", "scope: {namespaces: [bookinfo, Prod]}\n", "scope.namespaces[1]: 'Prod' is not a valid namespace"),
    ("scope-duplicate", "scope: {namespaces: [a, b, a]}\n", "scope.namespaces[2]: duplicate namespace 'a'"),
    ("scope-unknown-field", "scope: {namespaces: [a], root: istio-system}\n", "scope.root: unknown field"),
    ("scope-not-a-list", "scope: {namespaces: bookinfo}\n", "scope.namespaces: Input should be a valid tuple"),
    ("scope-misses-source", "scope: {namespaces: [n]}\n" + path_yaml(to="{service: s, namespace: n, port: 80}"), "paths[0].from.namespace: namespace 'ns' is outside scope.namespaces"),
    ("scope-misses-target", "scope: {namespaces: [ns]}\n" + path_yaml(to="{service: s, namespace: n, port: 80}"), "paths[0].to: namespace 'n' is outside scope.namespaces"),
    ("scope-misses-discovery", "scope: {namespaces: [a]}\ndiscovery:\n  - {from: {namespace: a, workload: b}, namespaces: [a, x]}\n", "discovery[0].namespaces: namespace 'x' is outside scope.namespaces"),
    ("from-istio-proxy", path_yaml(**{"from": "{namespace: ns, workload: w, container: istio-proxy}"}), "paths[0].from: container istio-proxy cannot be a probe source: its traffic would bypass the sidecar: Istio's iptables rules exclude UID 1337"),
    ("probe-container-uid-1337", "probe_container: {run_as_user: 1337}\n", "probe_container.run_as_user: must not be 1337"),
    ("probe-container-uid-root", "probe_container: {run_as_user: 0}\n", "probe_container.run_as_user: Input should be greater than or equal to 1"),
    ("probe-image-unpinned", "probe_container: {image: curlimages/curl}\n", "probe_container.image: 'curlimages/curl' has no tag or digest"),
    ("probe-image-shell", "probe_container: {image: 'curl;id'}\n", "probe_container.image: 'curl;id' is not an image reference"),
    ("via-unknown", path_yaml(**{"from": "{namespace: ns, workload: w, via: ssh}"}), "paths[0].from.via: Input should be 'exec', 'ephemeral' or 'auto'"),
    ("default-via-unknown", "defaults: {via: kubectl}\n", "defaults.via: Input should be 'exec', 'ephemeral' or 'auto'"),
    ("via-ephemeral-disabled", "probe_container: {enabled: false}\n" + path_yaml(**{"from": "{namespace: ns, workload: w, via: ephemeral}"}), "paths[0].from.via: ephemeral needs probe_container.enabled: true"),
    ("top-level-list", "- a\n- b\n", "the top level must be a mapping"),
    ("duplicate-yaml-key", "limits: {}\nlimits: {}\n", "line 2, column 1: invalid YAML: duplicate key 'limits'"),
    ("broken-yaml", "paths: [\n", "line 2, column 1: invalid YAML"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        pytest.param(
            "http://search.web.svc.cluster.local:8080/q?term=mesh&page=2&sort=asc",
            True,
            id="query-with-ampersand",
        ),
        pytest.param("https://api.example.com/v1/items?ids=1,2,3&x=%2F", True, id="query-comma-percent"),
        pytest.param("http://a/p\n", False, id="trailing-newline"),
        pytest.param("http://a/p?x=$(id)", False, id="command-substitution"),
        pytest.param("http://a/p#frag", False, id="fragment"),
        pytest.param("http://a/{1,2}", False, id="curl-glob"),
    ],
)
def test_config_and_argv_share_one_url_validator(url: str, ok: bool) -> None:
    """The config used to reject `&` (no real query strings) and accept a trailing newline."""
    from agent.probe.argv import build_curl_argv

    text = f"paths:\n  - {{name: p, from: {{namespace: a, workload: b}}, to: {{url: {json.dumps(url)}}}}}\n"
    try:
        config_ok = bool(parse_config_text(text, "agent.yaml"))
    except ConfigError:
        config_ok = False
    try:
        argv_ok = bool(build_curl_argv(url, request_id="r", timeout_s=1))
    except InputError:
        argv_ok = False
    assert config_ok == argv_ok == ok


@pytest.mark.parametrize(("text", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_config_names_file_and_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config_text(text, "agent.yaml")
    assert f"agent.yaml: {message}" in str(exc.value), str(exc.value)


def test_good_config_fills_defaults_and_targets() -> None:
    cfg = parse_config_text(GOOD, "agent.yaml")
    first, second = cfg.paths
    assert (first.interval, first.timeout, first.expect) == (30.0, 5.0, (200,))
    assert first.source.require_sidecar is True
    assert first.destination() == ("productpage", "bookinfo", 9080)
    assert (second.interval, second.expect, second.source.container) == (120.0, (302,), "app")
    assert second.to.target_url == "http://productpage.bookinfo.svc.cluster.local:9080/productpage"
    assert second.destination() == ("productpage", "bookinfo", 9080)


def test_empty_file_is_a_valid_config() -> None:
    assert parse_config_text("", "agent.yaml").paths == ()


@pytest.mark.parametrize(
    ("url", "namespace", "expected", "host"),
    [
        ("http://productpage:9080/", "bookinfo", ("productpage", "bookinfo", 9080), "productpage"),
        (
            "http://productpage.bookinfo.svc:9080/",
            "x",
            ("productpage", "bookinfo", 9080),
            "productpage.bookinfo.svc",
        ),
        ("https://example.com/", "x", (None, None, 443), "example.com"),
        ("http://10.0.0.1/", "x", (None, None, 80), "10.0.0.1"),
    ],
    ids=["short-name", "svc-suffix", "external-https", "ip"],
)
def test_destination_from_url(url: str, namespace: str, expected: tuple[object, ...], host: str) -> None:
    text = f"paths:\n  - {{name: p, from: {{namespace: {namespace}, workload: w}}, to: {{url: '{url}'}}}}\n"
    path = parse_config_text(text).paths[0]
    assert path.destination() == expected
    assert path.to.host_port == (host, expected[2])  # what destination() and the metric labels read


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("30s", 30.0), ("2m", 120.0), ("500ms", 0.5), ("1h", 3600.0), (15, 15.0), ("1.5s", 1.5)],
    ids=["seconds", "minutes", "millis", "hours", "bare-number", "fraction"],
)
def test_parse_duration(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


def test_load_config_reports_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: file not found"):
        load_config(tmp_path / "nope.yaml")


def test_example_config_is_valid() -> None:
    cfg = load_config(ROOT / "config" / "agent.example.yaml")
    assert cfg.paths and cfg.discovery and cfg.api.allow_adhoc is False


@pytest.mark.parametrize(
    ("text", "scope"),
    [
        pytest.param(GOOD, None, id="no-scope-is-cluster-wide"),
        pytest.param("scope: {namespaces: [load-test, bookinfo]}\n" + GOOD, ("load-test", "bookinfo"), id="scope-covers-sources-and-targets"),
        pytest.param("scope: {namespaces: [ns]}\n" + path_yaml(to="{url: 'http://example.com/'}"), ("ns",), id="external-target-needs-no-namespace"),
        pytest.param("scope:\n  namespaces:\n    - istio-system\n", ("istio-system",), id="block-style-no-paths"),
    ],
)  # fmt: skip
def test_scope(text: str, scope: tuple[str, ...] | None) -> None:
    cfg = parse_config_text(text, "agent.yaml")
    assert (cfg.scope.namespaces if cfg.scope else None) == scope


SERVICES = [
    ServiceInfo("bookinfo", "productpage", (ServicePort(9080, name="http"),)),
    ServiceInfo("bookinfo", "reviews", (ServicePort(9080), ServicePort(9443))),
    ServiceInfo("bookinfo", "details", (ServicePort(9080),)),
    ServiceInfo("bookinfo", "dns", (ServicePort(53, protocol="UDP"),)),
    ServiceInfo("other", "elsewhere", (ServicePort(80),)),
]
RULE = {"from": {"namespace": "load-test", "workload": "gen"}, "namespaces": ["bookinfo"], "path": "/health"}


@pytest.mark.parametrize(
    ("rule", "services", "names"),
    [
        (RULE, [], []),
        (
            RULE,
            SERVICES,
            [
                "gen-to-details.bookinfo-9080",
                "gen-to-productpage.bookinfo-9080",
                "gen-to-reviews.bookinfo-9080",
                "gen-to-reviews.bookinfo-9443",
            ],
        ),
        (
            {**RULE, "exclude_services": ["details", "reviews"]},
            SERVICES,
            ["gen-to-productpage.bookinfo-9080"],
        ),
        ({**RULE, "namespaces": ["other"]}, SERVICES, ["gen-to-elsewhere.other-80"]),
        ({**RULE, "namespaces": ["missing"]}, SERVICES, []),
    ],
    ids=["no-services", "every-tcp-port", "excluded", "other-namespace", "namespace-without-services"],
)
def test_expand_discovery(rule: dict[str, object], services: list[ServiceInfo], names: list[str]) -> None:
    paths = expand_discovery([DiscoveryRule.model_validate(rule)], services)
    assert sorted(p.name for p in paths) == names
    for p in paths:
        assert p.to.target_url.endswith(":" + p.name.rsplit("-", 1)[1] + "/health")
        assert p.source.namespace == "load-test"


@pytest.mark.parametrize(
    ("rule_sidecar", "default_sidecar", "expected"),
    [(None, True, True), (None, False, False), (True, False, True), (False, True, False)],
    ids=["defaults-true", "defaults-false", "rule-true-wins", "rule-false-wins"],
)
def test_discovered_paths_take_require_sidecar_from_defaults_unless_the_rule_sets_it(
    rule_sidecar: bool | None, default_sidecar: bool, expected: bool
) -> None:
    rule = dict(RULE)
    if rule_sidecar is not None:
        rule["from"] = {**rule["from"], "require_sidecar": rule_sidecar}  # type: ignore[dict-item]
    paths = expand_discovery(
        [DiscoveryRule.model_validate(rule)], SERVICES[:1], Defaults(require_sidecar=default_sidecar)
    )
    assert paths and all(p.source.require_sidecar is expected for p in paths)


def test_discovery_follows_services_coming_and_going() -> None:
    rule = DiscoveryRule.model_validate(RULE)
    before = {p.name for p in expand_discovery([rule], SERVICES[:1])}
    after = {p.name for p in expand_discovery([rule], SERVICES[1:3])}
    assert before == {"gen-to-productpage.bookinfo-9080"}
    assert "gen-to-productpage.bookinfo-9080" not in after and "gen-to-details.bookinfo-9080" in after


@pytest.mark.parametrize(
    ("content", "code", "output"),
    [
        (GOOD, 0, "2 paths"),
        ("scope: {namespaces: [load-test, bookinfo]}\n" + GOOD, 0, "2 paths"),
        (
            "scope: {namespaces: [bookinfo]}\n" + GOOD,
            2,
            "paths[0].from.namespace: namespace 'load-test' is outside",
        ),
        (path_yaml(to="{url: 'http://a/$(id)'}"), 2, "paths[0].to.url"),
        (
            "api: {token_env: MESHPROBER_TEST_UNSET_TOKEN}\n",
            2,
            "MESHPROBER_TEST_UNSET_TOKEN is empty or unset",
        ),
    ],
    ids=["valid", "valid-scoped", "scope-misses-source", "invalid-url", "token-env-unset"],
)
def test_config_validate_command(tmp_path: Path, content: str, code: int, output: str) -> None:
    file = tmp_path / "agent.yaml"
    file.write_text(content)
    # Mounted like agent/cli.py does, without importing the other commands (not under test here).
    app = typer.Typer()
    app.add_typer(config_cmd.app, name="config")
    result = CliRunner().invoke(app, ["config", "validate", str(file)])
    assert result.exit_code == code, result.output
    assert output in result.output
    assert "Traceback" not in result.output


def test_via_defaults_and_the_probe_container() -> None:
    cfg = parse_config_text(
        "defaults: {via: ephemeral}\n"
        + path_yaml()
        + "  - {name: q, from: {namespace: a, workload: b, via: exec}, to: {url: 'http://a/'}}\n"
        + "discovery:\n  - {from: {namespace: a, workload: b}, namespaces: [x]}\n",
        "agent.yaml",
    )
    assert [p.source.via for p in cfg.paths] == ["ephemeral", "exec"]
    assert cfg.probe_container.image.startswith("curlimages/curl:")
    assert cfg.probe_container.run_as_user not in (0, 1337)
    found = expand_discovery(cfg.discovery, [ServiceInfo("x", "s", (ServicePort(80),))], cfg.defaults)
    assert [p.source.via for p in found] == ["ephemeral"]
    assert parse_config_text(path_yaml(), "agent.yaml").paths[0].source.via == "auto"
