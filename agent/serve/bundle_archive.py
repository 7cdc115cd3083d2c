"""The latest evidence bundle of a path, as files to list and link, and as a .tar.gz to download.

The archive holds one top-level directory (the bundle's own name), so `tar xzf` then
`meshprober diagnose DIR` works. Regular files inside the bundle only: symlinks and anything that
resolves outside it are skipped; file count and total size are bounded.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Sequence
from pathlib import Path

from agent.results import CheckResult

MAX_FILES = 200
MAX_ARCHIVE_INPUT_BYTES = 128 * 1024 * 1024  # a bundle's config dump is at most 64 MiB


def latest_bundle(history: Sequence[CheckResult]) -> Path | None:
    """The newest bundle directory among stored results that still exists on disk (old ones are pruned)."""
    for r in reversed(history):
        if r.bundle_dir is not None and r.bundle_dir.is_dir():
            return r.bundle_dir
    return None


def bundle_files(bundle: Path) -> list[Path]:
    """The bundle's regular files (relative paths, sorted), never through a symlink or outside it."""
    root = bundle.resolve()
    out: list[Path] = []
    for file in sorted(root.rglob("*")):
        if len(out) >= MAX_FILES:
            break
        if file.is_symlink() or not file.is_file() or not file.resolve().is_relative_to(root):
            continue
        out.append(file.relative_to(root))
    return out


def bundle_file(bundle: Path, relative: str) -> Path | None:
    """`relative` inside the bundle when it is one of bundle_files(); None otherwise (no traversal)."""
    wanted = Path(relative)
    if wanted.is_absolute() or ".." in wanted.parts:
        return None
    return bundle.resolve() / wanted if wanted in bundle_files(bundle) else None


def bundle_targz(bundle: Path) -> bytes:
    """The bundle as gzip'd tar bytes under its own directory name; bounded in files and bytes."""
    root = bundle.resolve()
    buf = io.BytesIO()
    used = 0
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        top = tarfile.TarInfo(root.name)
        top.type, top.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(top)
        dirs: set[Path] = set()
        for rel in bundle_files(root):
            path = root / rel
            size = path.stat().st_size
            if used + size > MAX_ARCHIVE_INPUT_BYTES:
                break
            for parent in reversed(rel.parents[:-1]):  # resources/ and the like, before their files
                if parent not in dirs:
                    dirs.add(parent)
                    info = tarfile.TarInfo(f"{root.name}/{parent.as_posix()}")
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
            info = tarfile.TarInfo(f"{root.name}/{rel.as_posix()}")
            data = path.read_bytes()[:size]
            info.size, info.mode, info.mtime = len(data), 0o644, int(path.stat().st_mtime)
            tar.addfile(info, io.BytesIO(data))
            used += len(data)
    return buf.getvalue()
