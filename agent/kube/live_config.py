"""Build a private kubernetes Configuration from a kubeconfig or the in-cluster service account.

Never touches the client's process-wide default Configuration. Bad files become ConfigError naming
the file; which client errors are worth retrying is decided in `transport_errors`.
"""

from __future__ import annotations

import os
from pathlib import Path

import websocket
from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import InClusterConfigLoader

from agent.errors import ConfigError

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
HANDSHAKE_TIMEOUT = 10.0  # seconds; websocket-client otherwise connects and handshakes with no timeout
# Reads are issued in parallel (agent.kube.fanout) next to probes and log reads; the client's default
# (5 per CPU) would discard, with a warning on stderr, connections opened beyond it on a small machine.
MIN_POOL_SIZE = 16


def _fresh_configuration() -> client.Configuration:
    # type.__call__ as the client itself does: a brand-new object, not a copy of the global default.
    cfg: client.Configuration = type.__call__(client.Configuration)
    # No urllib3-level retries: ours (agent.kube.retry) are bounded in time and add jitter.
    cfg.retries = 0
    cfg.connection_pool_maxsize = max(cfg.connection_pool_maxsize or 0, MIN_POOL_SIZE)
    if websocket.getdefaulttimeout() is None:
        # The exec websocket's connect/handshake would otherwise block forever on a hung server.
        websocket.setdefaulttimeout(HANDSHAKE_TIMEOUT)
    return cfg


def kubeconfig_configuration(
    path: str | None, context: str | None
) -> tuple[client.Configuration, str | None]:
    """(Configuration, the context's namespace) from a kubeconfig file; ConfigError names the file."""
    where = path or os.environ.get("KUBECONFIG") or "~/.kube/config"
    if path is not None and not Path(path).is_file():
        raise ConfigError(f"kubeconfig {path}: file not found (--kubeconfig)")
    cfg = _fresh_configuration()
    try:
        config.load_kube_config(
            config_file=path, context=context, client_configuration=cfg, persist_config=False
        )
        contexts, active = config.list_kube_config_contexts(config_file=path)
    except (ConfigException, OSError, ValueError, TypeError) as exc:
        hint = f" (context {context!r})" if context else ""
        raise ConfigError(f"kubeconfig {where}{hint}: {exc}") from exc
    chosen = next((c for c in contexts if c.get("name") == context), active) if context else active
    namespace = ((chosen or {}).get("context") or {}).get("namespace")
    return cfg, namespace


def running_in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and (SA_DIR / "token").is_file()


def incluster_configuration(
    token_path: str | None,
    ca_path: str | None,
    namespace_path: str | None,
    environ: dict[str, str] | None,
) -> tuple[client.Configuration, str]:
    """(Configuration, the pod's namespace) from the mounted service-account token and CA."""
    cfg = _fresh_configuration()
    token = token_path or str(SA_DIR / "token")
    try:
        InClusterConfigLoader(
            token_filename=token,
            cert_filename=ca_path or str(SA_DIR / "ca.crt"),
            environ=environ if environ is not None else os.environ,
        ).load_and_set(cfg)
    except (ConfigException, OSError) as exc:
        raise ConfigError(f"in-cluster config (service account token {token}): {exc}") from exc
    ns_file = Path(namespace_path or SA_DIR / "namespace")
    namespace = ns_file.read_text().strip() if ns_file.is_file() else "default"
    return cfg, namespace or "default"
