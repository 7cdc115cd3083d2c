"""Config file watching: poll stat + content hash, apply good reloads, keep the running config on bad ones.

A Kubernetes ConfigMap update swaps the `..data` symlink rather than rewriting the file, so the
watcher stats and reads through the symlink and compares content hashes (an mtime alone can miss a
swap to a file with an older timestamp). Polling is bounded: one stat per interval (plus one read
when the target file, inode, size or mtime changed), and the thread stops within one interval of `stop()`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.config import AgentConfig, load_config, parse_config_text
from agent.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConfigStatus:
    """What /readyz and the status page say about the configuration."""

    loaded: bool
    path: str
    loaded_at: float | None
    last_error: str | None  # why the last reload was rejected (the running config was kept)
    last_error_at: float | None


class ConfigWatcher:
    """Holds the current AgentConfig and reloads it when the file changes.

    `on_change(config)` is called (in the watcher thread, or the caller of `check_once`) after a
    good reload; `on_error(message)` after a rejected one.
    """

    def __init__(
        self,
        path: str | Path,
        on_change: Callable[[AgentConfig], None],
        on_error: Callable[[str], None] = lambda message: None,
        interval: float = 5.0,
    ) -> None:
        self.path = Path(path)
        self._on_change = on_change
        self._on_error = on_error
        self._interval = min(max(interval, 0.05), 300.0)
        self._lock = threading.Lock()
        self._config: AgentConfig | None = None
        self._digest: str | None = None
        self._key: tuple[object, ...] | None = None
        self._loaded_at: float | None = None
        self._error: tuple[str, float] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def config(self) -> AgentConfig:
        with self._lock:
            if self._config is None:
                raise ConfigError(f"{self.path}: no configuration loaded")
            return self._config

    def status(self) -> ConfigStatus:
        with self._lock:
            return ConfigStatus(
                loaded=self._config is not None,
                path=str(self.path),
                loaded_at=self._loaded_at,
                last_error=self._error[0] if self._error else None,
                last_error_at=self._error[1] if self._error else None,
            )

    def load_initial(self) -> AgentConfig:
        """First load: a bad file is fatal here (ConfigError), unlike on reload."""
        key, data = self._read()
        if data is None:
            load_config(self.path)  # raises with the precise reason (missing, a directory, unreadable)
            raise ConfigError(f"{self.path}: cannot read")
        config = self._parse(data)
        with self._lock:
            self._config, self._key, self._digest = config, key, hashlib.sha256(data).hexdigest()
            self._loaded_at = time.time()
        return config

    def _stat(self) -> tuple[Path, tuple[object, ...]] | None:
        """(file, stat key) of the file the path points at now: target, inode, size, mtime; None when gone."""
        try:
            # resolve(): follow the ConfigMap's ..data symlink to the file that is current now.
            real = self.path.resolve(strict=True)
            st = real.stat()
        except OSError:
            return None
        return real, (str(real), st.st_ino, st.st_size, st.st_mtime_ns)

    def _read(self) -> tuple[tuple[object, ...] | None, bytes | None]:
        """(stat key, content) of the file the path points at now; (None, None) when it is gone."""
        current = self._stat()
        if current is None:
            return None, None
        real, key = current
        try:
            return key, real.read_bytes()
        except OSError:
            return None, None

    def _parse(self, data: bytes) -> AgentConfig:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"{self.path}: not UTF-8 text") from None
        return parse_config_text(text, str(self.path))

    def _unchanged(self) -> bool:
        """Cheap first test: same target file, inode, size and mtime as last time means no change."""
        current = self._stat()
        if current is None:
            return False
        with self._lock:
            return current[1] == self._key

    def check_once(self) -> bool:
        """Reload if the file changed (stat, then content hash). True when a new config was applied."""
        if self._unchanged():
            return False
        key, data = self._read()
        digest = hashlib.sha256(data).hexdigest() if data is not None else None
        with self._lock:
            if digest is not None and digest == self._digest:
                self._key = key  # touched or re-linked, same content
                return False
            if digest is None and self._digest is None:
                return False  # still missing: already reported once
        try:
            if data is None:
                raise ConfigError(f"{self.path}: file not found")
            if not data.strip():
                # On reload an empty file is almost always a write in progress (or truncated), not
                # "probe nothing": dropping every path on it would silence all alerts at once.
                raise ConfigError(f"{self.path}: the file is empty; to probe nothing write `paths: []`")
            config = self._parse(data)
        except ConfigError as exc:
            message = str(exc)
            log.warning("config reload rejected, keeping the running config: %s", message)
            with self._lock:
                self._key, self._digest = key, digest  # report each bad version once, not every poll
                self._error = (message, time.time())
            self._on_error(message)
            return False
        with self._lock:
            self._config, self._key, self._digest = config, key, digest
            self._loaded_at = time.time()
            self._error = None
        log.info("config reloaded from %s", self.path)
        self._on_change(config)
        return True

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="config-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._interval + 5)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.check_once()
            except Exception:  # a callback bug must not end the watching
                log.exception("config reload callback failed")
