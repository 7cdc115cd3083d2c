"""`meshprober explain --json` on real public lines (golden_lines.py: each row names its source URL),
and on paste-damaged copies of them, which must give the same verdict."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from golden_lines import GOLDEN, HBONE_PAIR, HBONE_PAIR_URL, Golden
from typer.testing import CliRunner

from agent.cli import app
from agent.explain import explain_text
from agent.model import VERDICT_CATEGORY, Confidence, Verdict


def run_json(text: str) -> tuple[int, list[dict[str, object]]]:
    result = CliRunner().invoke(app, ["explain", "--json", "-"], input=text)
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else []


def check(g: Golden, objs: list[dict[str, object]]) -> None:
    assert len(objs) == 1, [o["kind"] for o in objs]
    got = objs[0]
    assert (got["verdict"], got["category"], got["kind"]) == (
        g.verdict.value,
        VERDICT_CATEGORY[g.verdict].value,
        g.kind,
    ), got["summary"]
    if g.confidence is not None:
        assert got["confidence"] == g.confidence.value
    else:
        assert got["confidence"] != Confidence.HIGH.value
    assert got["line"] == 1 and got["summary"] and got["evidence"]


@pytest.mark.parametrize("g", GOLDEN, ids=lambda g: g.id)
def test_golden_line(g: Golden) -> None:
    code, objs = run_json(g.text + "\n")
    check(g, objs)
    assert code == (0 if g.verdict is Verdict.OK else 1)


def _each_line(fn: Callable[[str], str]) -> Callable[[str], str]:
    return lambda text: "\n".join(fn(line) for line in text.splitlines())


def _smart_quotes(line: str) -> str:
    out, opening = [], True
    for ch in line:
        if ch == '"':
            out.append("“" if opening else "”")
            opening = not opening
        else:
            out.append(ch)
    return "".join(out)


def _lost_start(text: str) -> str:
    """Cut `[START_TIME] "` (or only the opening quote) off a TEXT line; other items stay whole."""
    if text.startswith("["):
        return text[text.index('"') + 1 :]
    return text[1:] if text.startswith('"') else text


def _lost_half_timestamp(text: str) -> str:
    return text[12:] if text.startswith("[20") else text


DAMAGE: dict[str, Callable[[str], str]] = {
    "crlf": lambda t: t.replace("\n", "\r\n") + "\r\n",
    "terminal-frame": _each_line(lambda line: f"│ {line} │"),
    "ascii-table-frame": _each_line(lambda line: f"| {line} |"),
    "smart-quotes": _each_line(_smart_quotes),
    "lost-timestamp-and-quote": _lost_start,
    "lost-half-timestamp": _lost_half_timestamp,
    "markdown-quote": _each_line(lambda line: f"> {line}"),
    "backticks": lambda t: f"`{t}`" if "\n" not in t else t,
    "indented": _each_line(lambda line: f"    {line}"),
}


@pytest.mark.parametrize("damage", list(DAMAGE), ids=str)
@pytest.mark.parametrize("g", GOLDEN, ids=lambda g: g.id)
def test_paste_damaged_copy_gives_the_same_verdict(g: Golden, damage: str) -> None:
    results = explain_text(DAMAGE[damage](g.text))
    assert [(r.diagnosis.verdict, r.item.kind) for r in results] == [(g.verdict, g.kind)]
    if g.confidence is not None:
        assert results[0].diagnosis.confidence is g.confidence


def test_hbone_pair_is_joined_and_the_tunnel_explains_the_503() -> None:
    # source: HBONE_PAIR_URL (istio/istio PR #52886)
    assert HBONE_PAIR_URL.endswith("52886")
    code, objs = run_json(HBONE_PAIR)
    assert code == 1
    tunnel, http = objs
    assert (tunnel["kind"], tunnel["line"], http["kind"], http["line"]) == ("hbone_log", 1, "access_log", 2)
    assert http["joined_with"] == [1] and tunnel["joined_with"] == [2]
    assert http["verdict"] == "upstream_connection_refused" and http["http_status"] == 503
    assert any("HBONE tunnel" in e and "Connection refused" in e for e in http["evidence"])  # type: ignore[union-attr]
    assert "no failure reason was recorded" not in str(http["summary"])


def test_hbone_http_line_alone_names_its_own_reason_and_stays_low() -> None:
    code, objs = run_json(HBONE_PAIR.splitlines()[1] + "\n")
    assert code == 1 and objs[0]["verdict"] == "tls_handshake_failed"
    assert objs[0]["confidence"] == "low"
    assert "Invalid argument" in str(objs[0]["summary"])
