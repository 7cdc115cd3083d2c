"""How long a caller waits for one check of a path: shared by the pipeline's callers and the thin
`meshprober probe --agent`, which must not import the results model to know it. Pure."""

from __future__ import annotations


def check_budget_s(probe_timeout_s: float) -> float:
    """Seconds to wait for one check whose probe has this timeout before giving up on it."""
    # The pipeline may probe twice and gather evidence after a failure: allow that, but bounded.
    return probe_timeout_s * 3 + 30.0
