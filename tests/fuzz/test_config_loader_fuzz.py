"""Fuzz the agent config loader (hypothesis, bounded for CI): any text, YAML-ish or not, either loads
or raises ConfigError naming the file; nothing else escapes. The curl, access-log and config-dump
parsers and the bundle loader are fuzzed next to their own tests; this covers `load_config`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.config import load_config
from agent.errors import ConfigError

GOOD = """\
defaults: {interval: 30s, timeout: 5s}
paths:
  - name: load-test-to-productpage
    from: {namespace: load-test, workload: traffic-generator}
    to: {url: "http://productpage.bookinfo.svc.cluster.local:9080/productpage"}
"""
KEYS = ["paths", "defaults", "discovery", "limits", "api", "evidence", "shard", "name", "from", "to", "url",
        "namespace", "workload", "selector", "service", "port", "path", "expect", "interval", "timeout",
        "max_paths", "min_interval", "max_concurrent_probes", "listen", "token_file", "token_env", "dir",
        "index", "count", "require_sidecar", "keep_per_path", "max_bytes", "rate_limit"]  # fmt: skip
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
    st.text(max_size=30), st.sampled_from(["30s", "0s", "-1m", "1h", "500ms", "x", "http://a:99999/", "a/b"]),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5),
    ),
    max_leaves=25,
)


def _load(tmp_path: Path, data: bytes) -> bool:
    """True when the file loads; a ConfigError must name the file; anything else escapes (a failure)."""
    path = tmp_path / "agent.yaml"
    path.write_bytes(data)
    try:
        load_config(path)
    except ConfigError as exc:
        assert str(path) in str(exc)  # the error names the file
        return False
    return True


@pytest.mark.parametrize(
    ("text", "loads"),
    [
        pytest.param(GOOD, True, id="healthy-config"),
        pytest.param("", True, id="empty-file"),
        pytest.param("paths: [", False, id="truncated"),
        pytest.param("a: &x [*x]", False, id="self-alias"),
        pytest.param("!!python/object:os.system {}", False, id="unsafe-tag"),
        pytest.param("paths: " + "[" * 200 + "]" * 200, False, id="deep-nesting"),
        pytest.param("\t- tab", False, id="tab-indent"),
    ],
)
def test_named_inputs_only_config_error(tmp_path: Path, text: str, loads: bool) -> None:
    # Each row also pins whether it loads: a rejected healthy config must fail here, not pass.
    assert _load(tmp_path, text.encode()) is loads


@SETTINGS
@given(text=st.text(max_size=300))
def test_random_text_only_config_error(tmp_path: Path, text: str) -> None:
    _load(tmp_path, text.encode("utf-8", "surrogatepass"))


@SETTINGS
@given(data=st.binary(max_size=200))
def test_random_bytes_only_config_error(tmp_path: Path, data: bytes) -> None:
    _load(tmp_path, data)


@SETTINGS
@given(doc=values)
def test_random_yaml_documents_only_config_error(tmp_path: Path, doc: object) -> None:
    _load(tmp_path, yaml.safe_dump(doc, allow_unicode=True).encode("utf-8", "surrogatepass"))


@SETTINGS
@given(cut=st.integers(0, len(GOOD)), noise=st.text(max_size=12))
def test_mutated_good_config_only_config_error(tmp_path: Path, cut: int, noise: str) -> None:
    _load(tmp_path, (GOOD[:cut] + noise + GOOD[cut:]).encode("utf-8", "surrogatepass"))
