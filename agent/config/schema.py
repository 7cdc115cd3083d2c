"""The agent config schema (pydantic v2, extra=forbid, frozen).

`defaults` are merged into each path before validation, so errors still name `paths[i].field`.
Cross-field errors (duplicate names, intervals below the limit) carry their own field path.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.config.fields import (
    ENV_NAME,
    LISTEN,
    Container,
    Domain,
    Duration,
    Expect,
    Namespace,
    PathName,
    Port,
    Revision,
    Selector,
    Url,
    UrlPath,
    Workload,
)
from agent.config.probe_via import ProbeContainerConfig, sidecar_container_error
from agent.errors import ConfigError
from agent.probe.url import split_url

Via = Literal["exec", "ephemeral", "auto"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SourceConfig(_Model):
    namespace: Namespace
    workload: Workload | None = None
    selector: Selector | None = None
    container: Container | None = None
    require_sidecar: bool = True
    via: Via = "auto"  # exec in `container`, or curl in an ephemeral probe container (agent.check.via)

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.workload is None) == (self.selector is None):
            raise ValueError("give exactly one of workload or selector")
        if self.container is not None and (why := sidecar_container_error(self.container)):
            raise ValueError(why)
        return self

    @property
    def label(self) -> str:
        """A bounded name for metrics and the status page: the workload, else the selector."""
        return self.workload or self.selector or ""


class TargetConfig(_Model):
    url: Url | None = None
    service: Workload | None = None
    namespace: Namespace | None = None
    port: Port | None = None
    path: UrlPath = "/"
    # Set from `mesh.clusterDomain` by the loader; the service form's URL is built with it.
    cluster_domain: Domain = Field(default="cluster.local", alias="clusterDomain")

    @model_validator(mode="after")
    def _url_or_service(self) -> Self:
        if self.url is not None:
            if self.service or self.namespace or self.port:
                raise ValueError("give either url, or service + namespace + port, not both")
        elif not (self.service and self.namespace and self.port):
            raise ValueError("give url, or service + namespace + port (+ path)")
        return self

    @property
    def target_url(self) -> str:
        if self.url is not None:
            return self.url
        return f"http://{self.service}.{self.namespace}.svc.{self.cluster_domain}:{self.port}{self.path}"

    @property
    def host_port(self) -> tuple[str, int]:
        """The host and port the probe connects to."""
        if self.url is None:
            return f"{self.service}.{self.namespace}.svc.{self.cluster_domain}", self.port or 0
        return _url_host_port(self.url)


@functools.lru_cache(maxsize=4096)
def _url_host_port(url: str) -> tuple[str, int]:
    """(host, port) of a validated target URL. Cached by URL: destination() and the metric labels ask
    for it several times per probe and per scrape, and the config's URLs are few and fixed."""
    parts = split_url(url)  # validated when the config loaded: never raises here
    return parts.host, parts.port


class PathConfig(_Model):
    """One probed path. Values left out are filled from `defaults` by the loader."""

    name: PathName
    source: SourceConfig = Field(alias="from")
    to: TargetConfig
    expect: Expect = (200,)
    interval: Duration = 30.0
    timeout: Duration = 10.0

    def destination(self) -> tuple[str | None, str | None, int | None]:
        """(service, namespace, port) when the target names a cluster service, else Nones."""
        t = self.to
        if t.url is None:
            return t.service, t.namespace, t.port
        host, port_n = t.host_port
        parts = host.split(".")
        if len(parts) == 1:
            return host, self.source.namespace, port_n
        # <svc>.<ns>.svc.<cluster domain> (any domain, e.g. corp.internal) or <svc>.<ns>.svc
        if len(parts) >= 3 and parts[2] == "svc":
            return parts[0], parts[1], port_n
        return None, None, port_n


class Defaults(_Model):
    interval: Duration = 30.0
    timeout: Duration = 10.0
    expect: Expect = (200,)
    require_sidecar: bool = True
    via: Via = "auto"  # the agent-wide default of from.via


class DiscoveryRule(_Model):
    """Every service port in `namespaces`, probed from `from` (re-expanded as services change)."""

    source: SourceConfig = Field(alias="from")
    namespaces: tuple[Namespace, ...] = Field(min_length=1)
    path: UrlPath = "/"
    expect: Expect | None = None
    interval: Duration | None = None
    timeout: Duration | None = None
    exclude_services: tuple[Workload, ...] = ()


class Limits(_Model):
    max_concurrent_probes: int = Field(default=8, ge=1, le=256)
    min_interval: Duration = 5.0
    max_paths: int = Field(default=500, ge=1, le=100000)


class RateLimit(_Model):
    """Probe-triggering API calls: `requests` per `window` for each client, `global_requests` for all."""

    requests: int = Field(default=10, ge=1, le=100000)
    window: Duration = 60.0
    global_requests: int = Field(default=30, ge=1, le=1000000)
    max_clients: int = Field(default=1024, ge=1, le=100000)


class ApiConfig(_Model):
    """The HTTP listeners. `listen` serves the API and the status page; `metrics_listen`, when set,
    serves /metrics, /healthz and /readyz apart from them (open, for scrapers and kubelet probes).
    Off loopback the API needs a token unless `insecure: true`; ad-hoc probes always need one."""

    listen: str = "127.0.0.1:9090"
    metrics_listen: str | None = None
    token_file: Path | None = None
    token_env: str | None = None
    insecure: bool = False
    allowed_hosts: tuple[str, ...] = ()  # Host header names besides the listen address (DNS rebinding)
    allow_adhoc: bool = False
    adhoc_sources: tuple[str, ...] = ()  # NS/WORKLOAD or NS/* beyond the configured sources
    adhoc_extra_hosts: tuple[str, ...] = ()  # ad-hoc target hosts beyond in-mesh Services
    cluster_domain: str = "cluster.local"
    rate_limit: RateLimit = RateLimit()

    @model_validator(mode="before")
    @classmethod
    def _no_inline_token(cls, data: Any) -> Any:
        if isinstance(data, dict) and "token" in data:
            raise ValueError("an inline token is not allowed; use token_file or token_env")
        return data

    @model_validator(mode="after")
    def _validate(self) -> Self:
        for name, value in (("listen", self.listen), ("metrics_listen", self.metrics_listen)):
            if value is None:
                continue
            m = LISTEN.fullmatch(value)
            if not m:
                raise ValueError(f"{name} {value!r} must be HOST:PORT, e.g. 0.0.0.0:9090")
            if not 0 <= int(m.group("port")) <= 65535:
                raise ValueError(f"{name} port must be 0-65535")
        if self.allow_adhoc and not (self.token_file or self.token_env):
            raise ValueError(
                "allow_adhoc needs a bearer token (ad-hoc probes borrow a workload's identity); "
                "set token_file or token_env"
            )
        for i, src in enumerate(self.adhoc_sources):
            if not _ADHOC_SOURCE.fullmatch(src):
                raise ValueError(f"adhoc_sources[{i}] {src!r} must be NAMESPACE/WORKLOAD or NAMESPACE/*")
        for i, host in enumerate((*self.adhoc_extra_hosts, *self.allowed_hosts)):
            if not _HOSTNAME.fullmatch(host):
                raise ValueError(
                    f"{host!r} is not a host name (in adhoc_extra_hosts/allowed_hosts, item {i})"
                )
        if not _HOSTNAME.fullmatch(self.cluster_domain):
            raise ValueError(f"cluster_domain {self.cluster_domain!r} is not a DNS domain")
        if self.token_file and self.token_env:
            raise ValueError("give token_file or token_env, not both")
        if self.token_env is not None and not ENV_NAME.fullmatch(self.token_env):
            raise ValueError(f"token_env {self.token_env!r} is not an environment variable name")
        return self

    @property
    def host_port(self) -> tuple[str, int]:
        return _host_port(self.listen)

    @property
    def metrics_host_port(self) -> tuple[str, int] | None:
        return _host_port(self.metrics_listen) if self.metrics_listen else None

    def read_token(self) -> str | None:
        """The bearer token, or None when none is configured. Raises ConfigError if it cannot be read."""
        if self.token_env:
            token = os.environ.get(self.token_env, "").strip()
            if not token:
                raise ConfigError(f"api.token_env: environment variable {self.token_env} is empty or unset")
            return token
        if self.token_file:
            try:
                token = self.token_file.read_text().strip()
            except OSError as exc:
                raise ConfigError(f"api.token_file: cannot read {self.token_file}: {exc.strerror}") from exc
            if not token:
                raise ConfigError(f"api.token_file: {self.token_file} is empty")
            return token
        return None


_ADHOC_SOURCE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?/(\*|[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)")
_HOSTNAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*"
)


def _host_port(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - ":9090" means all interfaces


class EvidenceConfig(_Model):
    dir: Path = Path("/var/lib/meshprober/evidence")
    keep_per_path: int = Field(default=5, ge=0, le=1000)
    max_bytes: int = Field(default=1_000_000, ge=1024)


class ShardConfig(_Model):
    index: int = Field(default=0, ge=0)
    count: int = Field(default=1, ge=1, le=1024)

    @model_validator(mode="after")
    def _in_range(self) -> Self:
        if self.index >= self.count:
            raise ValueError(f"index {self.index} must be below count {self.count}")
        return self


class ScopeConfig(_Model):
    """The namespaces the agent lists in (one list per namespace instead of cluster-wide lists), for
    installs whose RBAC is namespaced only (deploy/overlays/single-namespace). The mesh root
    namespace is read as well for mesh-wide DestinationRules/PeerAuthentications and the mesh config."""

    namespaces: tuple[Namespace, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        seen: set[str] = set()
        for i, ns in enumerate(self.namespaces):
            if ns in seen:
                raise FieldError(f"scope.namespaces[{i}]", f"duplicate namespace {ns!r}")
            seen.add(ns)
        return self


class MeshConfigBlock(_Model):
    """`mesh:` overrides what control-plane discovery finds (agent.istio.control_plane): the namespace
    istiod runs in, its revision (ConfigMap `istio-<rev>`), the cluster domain, the root namespace."""

    istio_namespace: Namespace | None = Field(default=None, alias="istioNamespace")
    revision: Revision | None = None
    cluster_domain: Domain | None = Field(default=None, alias="clusterDomain")
    root_namespace: Namespace | None = Field(default=None, alias="rootNamespace")


def scope_gaps(config: AgentConfig, scope: tuple[str, ...]) -> list[tuple[str, str]]:
    """(field path, namespace) for each namespace the config probes from/to or discovers in that lies
    outside `scope`: the policy view would miss its DestinationRules, PeerAuthentications and pods."""
    inside = set(scope)
    gaps: list[tuple[str, str]] = []
    for i, p in enumerate(config.paths):
        if p.source.namespace not in inside:
            gaps.append((f"paths[{i}].from.namespace", p.source.namespace))
        target_ns = p.destination()[1]
        if target_ns is not None and target_ns not in inside:
            gaps.append((f"paths[{i}].to", target_ns))
    for i, r in enumerate(config.discovery):
        if r.source.namespace not in inside:
            gaps.append((f"discovery[{i}].from.namespace", r.source.namespace))
        gaps.extend((f"discovery[{i}].namespaces", ns) for ns in r.namespaces if ns not in inside)
    return gaps


class AgentConfig(_Model):
    paths: tuple[PathConfig, ...] = ()
    defaults: Defaults = Defaults()
    discovery: tuple[DiscoveryRule, ...] = ()
    limits: Limits = Limits()
    api: ApiConfig = ApiConfig()
    evidence: EvidenceConfig = EvidenceConfig()
    shard: ShardConfig = ShardConfig()
    scope: ScopeConfig | None = None  # None: cluster-wide lists (the default)
    probe_container: ProbeContainerConfig = ProbeContainerConfig()
    mesh: MeshConfigBlock = MeshConfigBlock()  # overrides of control-plane discovery

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any) -> Any:
        # Merge defaults into each path before validation so errors still point at paths[i].
        if not isinstance(data, dict) or not isinstance(data.get("paths", []), list):
            return data
        raw_defaults = data.get("defaults")
        defaults: dict[str, Any] = raw_defaults if isinstance(raw_defaults, dict) else {}
        merged = []
        for raw in data.get("paths", []):
            if isinstance(raw, dict):
                raw = dict(raw)
                for key in ("interval", "timeout", "expect"):
                    if key not in raw and key in defaults:
                        raw[key] = defaults[key]
                src = raw.get("from")
                if isinstance(src, dict):
                    for key in ("require_sidecar", "via"):
                        if key not in src and key in defaults:
                            src = {**src, key: defaults[key]}
                    raw["from"] = src
                mesh = data.get("mesh")
                domain = mesh.get("clusterDomain") if isinstance(mesh, dict) else None
                to = raw.get("to")
                if domain and isinstance(to, dict) and "url" not in to and "clusterDomain" not in to:
                    raw["to"] = {**to, "clusterDomain": domain}
            merged.append(raw)
        return {**data, "paths": merged}

    @model_validator(mode="after")
    def _cross_checks(self) -> Self:
        seen: dict[str, int] = {}
        for i, p in enumerate(self.paths):
            if p.name in seen:
                raise FieldError(
                    f"paths[{i}].name", f"duplicate path name {p.name!r} (also paths[{seen[p.name]}])"
                )
            seen[p.name] = i
            if p.interval < self.limits.min_interval:
                raise FieldError(
                    f"paths[{i}].interval",
                    f"{p.interval:g}s is below limits.min_interval {self.limits.min_interval:g}s",
                )
            if p.timeout > p.interval:
                raise FieldError(
                    f"paths[{i}].timeout", f"{p.timeout:g}s is longer than the interval {p.interval:g}s"
                )
            if p.source.via == "ephemeral" and not self.probe_container.enabled:
                raise FieldError(
                    f"paths[{i}].from.via",
                    "ephemeral needs probe_container.enabled: true (and the RBAC component "
                    "deploy/components/ephemeral-probes)",
                )
        for i, r in enumerate(self.discovery):
            if r.interval is not None and r.interval < self.limits.min_interval:
                raise FieldError(f"discovery[{i}].interval", "is below limits.min_interval")
        if len(self.paths) > self.limits.max_paths:
            raise FieldError(
                "paths", f"{len(self.paths)} paths exceed limits.max_paths {self.limits.max_paths}"
            )
        if self.scope is not None:
            for loc, ns in scope_gaps(self, self.scope.namespaces)[:1]:
                raise FieldError(loc, f"namespace {ns!r} is outside scope.namespaces; add it there")
        return self


class FieldError(ValueError):
    """A cross-field error that knows its own field path (pydantic would report it at the root)."""

    def __init__(self, loc: str, message: str) -> None:
        super().__init__(f"{loc}: {message}")
        self.loc = loc
        self.message = message
