"""Reading an evidence bundle directory for the API: {relative file name: text}.

Bounded in file count and bytes; never follows symlinks or leaves the bundle directory.
"""

from __future__ import annotations

from pathlib import Path

MAX_EVIDENCE_FILES = 100


def read_bundle(bundle: Path, max_bytes: int) -> dict[str, str]:
    """An evidence bundle as {relative file name: text}, bounded in files and bytes, inside `bundle` only."""
    out: dict[str, str] = {}
    root = bundle.resolve()
    budget = max_bytes
    if not root.is_dir():
        return out
    for file in sorted(root.rglob("*"))[: MAX_EVIDENCE_FILES * 2]:
        if len(out) >= MAX_EVIDENCE_FILES or budget <= 0:
            break
        if file.is_symlink() or not file.is_file() or not file.resolve().is_relative_to(root):
            continue
        with file.open("rb") as fh:
            data = fh.read(budget)  # only what fits: a big config dump is not read whole to keep its head
        budget -= len(data)
        out[str(file.relative_to(root))] = data.decode("utf-8", errors="replace")
    return out
