"""Write deploy/constraints.txt: the agent's runtime dependency closure as installed here, pinned.

Run after changing pyproject's dependencies, in an environment where `pip install .` (no extras) was
done: `python tools/pin_constraints.py > deploy/constraints.txt`. The image installs with
`--constraint`, so two builds of one commit get the same packages.
"""

from __future__ import annotations

import importlib.metadata as md
import re

from packaging.requirements import Requirement


def closure(root: str) -> dict[str, str]:
    seen: dict[str, str] = {}

    def walk(name: str) -> None:
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            return
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            return
        seen[key] = dist.version
        for raw in dist.requires or []:
            req = Requirement(raw)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                walk(req.name)

    walk(root)
    seen.pop(root, None)
    return seen


def main() -> None:
    print("# The agent image's runtime packages, pinned (pip install --constraint): two builds of one commit")
    print(
        "# install the same versions. Regenerate with tools/pin_constraints.py after changing dependencies."
    )
    for name, version in sorted(closure("meshprober").items()):
        print(f"{name}=={version}")


if __name__ == "__main__":
    main()
