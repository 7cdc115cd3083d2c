"""Every Envoy response flag and every curl exit code is mapped by the ladder or listed as unclassified."""

from __future__ import annotations

import pytest

from agent.diagnose import catalog
from agent.envoy.response_flags import RESPONSE_FLAGS
from agent.model import Verdict
from agent.probe.curl_exit import CURL_EXIT_CODES


@pytest.mark.parametrize("flag", sorted(RESPONSE_FLAGS), ids=str)
def test_every_response_flag_is_handled(flag: str) -> None:
    mapped = flag in catalog.FLAG_VERDICTS
    unclassified = flag in catalog.UNCLASSIFIED_FLAGS
    assert mapped != unclassified, f"{flag} must be in exactly one of FLAG_VERDICTS / UNCLASSIFIED_FLAGS"


@pytest.mark.parametrize("code", sorted(CURL_EXIT_CODES), ids=str)
def test_every_curl_exit_is_handled(code: int) -> None:
    mapped = code in catalog.CURL_EXIT_VERDICTS
    unclassified = code in catalog.UNCLASSIFIED_CURL_EXITS
    assert mapped != unclassified, f"curl exit {code} must be in exactly one table"


@pytest.mark.parametrize(
    "handling",
    [*catalog.FLAG_VERDICTS.values(), *catalog.CURL_EXIT_VERDICTS.values()],
    ids=str,
)
def test_handling_is_a_verdict_or_a_known_sentinel(handling: object) -> None:
    assert isinstance(handling, Verdict) or handling in (catalog.TRANSPORT, catalog.BY_STATUS)


def test_no_stale_entries() -> None:
    # Entries for flags/codes the catalogs do not know would hide a typo.
    assert set(catalog.FLAG_VERDICTS) | set(catalog.UNCLASSIFIED_FLAGS) <= set(RESPONSE_FLAGS)
    extra = set(catalog.CURL_EXIT_VERDICTS) - set(CURL_EXIT_CODES)
    assert extra <= {51, 137}, extra  # 51: old curls' name mismatch; 137: killed by SIGKILL (shell)
