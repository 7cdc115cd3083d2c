"""The page of one path (GET /paths/NAME): the current verdict and why, the fix (patch YAML, a copy
button and the `kubectl apply` line), the policy view as tls-check explains it, the last results as
a timeline of verdict changes, and links to the latest evidence bundle (its files and a .tar.gz).

Builds a view model from stored results and renders it; no I/O (the route lists bundle files).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.config import PathConfig
from agent.evidence import PolicyView
from agent.results import CheckResult
from agent.serve.status_page import env, fmt_time, result_state


@dataclass(frozen=True)
class Change:
    """A run of consecutive results with the same verdict (the timeline's unit)."""

    verdict: str
    state: str
    since: str
    until: str
    probes: int
    summary: str


@dataclass(frozen=True)
class Fix:
    text: str
    patch: str | None
    apply: str | None  # a shell line that applies the patch as it stands
    source: str  # "diagnosis" (proven by the probe) or "policy" (the policy engine's conflict)


@dataclass(frozen=True)
class PathView:
    name: str
    source: str
    target: str
    state: str
    latest: CheckResult | None
    policy: PolicyView | None
    policy_steps: list[str]
    fix: Fix | None
    changes: list[Change]
    strip: list[tuple[str, str]]  # (state, tooltip) per stored result, oldest first
    evidence_files: list[str] = field(default_factory=list)
    bundle: str | None = None  # the latest bundle's directory name


def apply_line(patch: str) -> str:
    """`kubectl apply` of the patch through a quoted here-document, so it pastes into any POSIX shell."""
    body = patch if patch.endswith("\n") else patch + "\n"
    return f"kubectl apply -f - <<'EOF'\n{body}EOF"


def timeline(history: Sequence[CheckResult]) -> list[Change]:
    """Verdict changes, newest first: consecutive results with one verdict collapse into one entry."""
    runs: list[list[CheckResult]] = []
    for r in history:
        if runs and runs[-1][-1].diagnosis.verdict is r.diagnosis.verdict:
            runs[-1].append(r)
        else:
            runs.append([r])
    return [
        Change(run[0].diagnosis.verdict.value, result_state(run[0]), fmt_time(run[0].finished_at),
               fmt_time(run[-1].finished_at), len(run), run[-1].diagnosis.summary)
        for run in reversed(runs)
    ]  # fmt: skip


def fix_of(latest: CheckResult | None, policy: PolicyView | None) -> Fix | None:
    """The probe's remedy when it has one; else the policy engine's, when it sees a conflict."""
    if latest is not None and not latest.healthy and latest.diagnosis.remedy is not None:
        r = latest.diagnosis.remedy
        return Fix(r.text, r.patch, apply_line(r.patch) if r.patch else None, "diagnosis")
    if policy is not None and policy.status == "CONFLICT" and policy.remedy_text:
        patch = policy.remedy_patch
        return Fix(policy.remedy_text, patch, apply_line(patch) if patch else None, "policy")
    return None


def path_view(
    name: str,
    cfg: PathConfig | None,
    history: Sequence[CheckResult],
    policy: PolicyView | None,
    evidence_files: Sequence[str] = (),
    bundle: str | None = None,
) -> PathView:
    latest = history[-1] if history else None
    if cfg is not None:
        source, target = f"{cfg.source.namespace}/{cfg.source.label}", cfg.to.target_url
    elif latest is not None:
        source, target = f"{latest.source.namespace}/{latest.source.workload}", latest.target
    else:
        source, target = "?", "?"
    steps = [s for s in policy.explanation.split("; ") if s] if policy is not None else []
    strip = [(result_state(r), f"{fmt_time(r.finished_at)}: {r.diagnosis.verdict.value}") for r in history]
    return PathView(
        name, source, target, result_state(latest), latest, policy, steps, fix_of(latest, policy),
        timeline(history), strip, list(evidence_files), bundle,
    )  # fmt: skip


def render_path_page(view: PathView, refresh_s: int = 15) -> str:
    return env.get_template("path.html.j2").render(
        v=view, d=view.latest.diagnosis if view.latest else None, refresh_s=max(2, refresh_s), root="../",
        finished=fmt_time(view.latest.finished_at) if view.latest else None,
    )  # fmt: skip
