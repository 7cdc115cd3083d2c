"""Shard selection: split paths across agent replicas by a stable hash of the path name.

Pure functions (hashlib only). sha256 rather than hash() because Python's str hash is salted per
process, and every replica must agree on who owns which path.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from typing import TypeVar

from agent.errors import InputError

T = TypeVar("T")
_ORDINAL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?-(\d+)$")


def shard_of(name: str, count: int) -> int:
    """The shard (0..count-1) that owns the path `name`."""
    if count < 1:
        raise InputError(f"shard count must be >= 1, got {count}")
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def select(items: Iterable[T], index: int, count: int, name_of: Callable[[T], str]) -> list[T]:
    """The items owned by shard `index` of `count` (`name_of` gives the stable name to hash)."""
    return [item for item in items if shard_of(name_of(item), count) == index]


def ordinal_from_hostname(hostname: str) -> int | None:
    """A StatefulSet pod's ordinal from its hostname `name-N`, else None."""
    m = _ORDINAL.match(hostname.strip())
    return int(m.group(2)) if m else None


def resolve_shard(
    cli_index: int | None, cli_count: int | None, config_index: int, config_count: int, hostname: str | None
) -> tuple[int, int]:
    """(index, count): CLI flags win, then the StatefulSet ordinal (with a count > 1), then the config."""
    count = cli_count if cli_count is not None else config_count
    if cli_index is not None:
        index = cli_index
    elif count > 1 and hostname and (ordinal := ordinal_from_hostname(hostname)) is not None:
        index = ordinal
    else:
        index = config_index
    if count < 1:
        raise InputError(f"--shard-count: must be >= 1, got {count}")
    if not 0 <= index < count:
        raise InputError(f"--shard-index: {index} must be in 0..{count - 1}")
    return index, count
