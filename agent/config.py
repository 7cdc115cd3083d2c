"""Agent configuration: pydantic v2 schema (extra=forbid), YAML loader, discovery expansion.

Errors name the file and the field path (`agent.yaml: paths[2].to.port: must be 1-65535`).
Hosts, paths and names are validated strictly because they end up as argv elements of a curl run
inside a pod and as metric label values. No I/O here apart from reading the one config file in
`load_config`; `expand_discovery` is pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Self

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from agent.errors import ConfigError
from agent.kube.cluster import ServiceInfo

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_PATH_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,126}[A-Za-z0-9])?$")
_LABEL_KEY = r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_LABEL_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?"
_SELECTOR = re.compile(rf"^{_LABEL_KEY}(==?|!=){_LABEL_VALUE}(,{_LABEL_KEY}(==?|!=){_LABEL_VALUE})*$")
_HOST = re.compile(
    r"^([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$"
)
# RFC 3986 path/query characters minus everything a shell or curl's URL globbing treats specially.
_URL_PATH = re.compile(r"^/[A-Za-z0-9\-._~%/:@!+,=?]*$")
_URL = re.compile(r"^(?P<scheme>https?)://(?P<host>[^/:?#]+)(:(?P<port>\d{1,5}))?(?P<path>/[^#]*)?$")
_LISTEN = re.compile(r"^(?P<host>[A-Za-z0-9.\-]*|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")


def parse_duration(value: object) -> float:
    """`30s`, `2m`, `500ms`, `1h` or a number of seconds -> seconds (float, > 0)."""
    if isinstance(value, bool):
        raise ValueError("must be a duration like 30s, 2m or 500ms")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value.strip())):
        seconds = float(m.group(1)) * _UNIT_S[m.group(2)]
    else:
        raise ValueError(f"must be a duration like 30s, 2m or 500ms, got {value!r}")
    if seconds <= 0 or seconds > 86400:
        raise ValueError("must be > 0 and at most 24h")
    return seconds


def _check(pattern: re.Pattern[str], what: str) -> Any:
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"{value!r} is not a valid {what}")
        return value

    return AfterValidator(check)


def _port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError("must be 1-65535")
    return value


def _status(value: int) -> int:
    if not 100 <= value <= 599:
        raise ValueError("must be an HTTP status code 100-599")
    return value


def _url(value: str) -> str:
    m = _URL.match(value)
    if not m:
        raise ValueError(f"{value!r} is not an http(s) URL (http://HOST[:PORT]/PATH, no spaces or quotes)")
    if not _HOST.match(m.group("host")):
        raise ValueError(f"{m.group('host')!r} is not a valid host name")
    if m.group("port") is not None:
        _port(int(m.group("port")))
    if m.group("path") and not _URL_PATH.match(m.group("path")):
        raise ValueError(f"path {m.group('path')!r} has characters that are not allowed")
    return value


Duration = Annotated[float, BeforeValidator(parse_duration)]
Port = Annotated[int, AfterValidator(_port)]
Status = Annotated[int, AfterValidator(_status)]
Namespace = Annotated[str, _check(_DNS_LABEL, "namespace (DNS-1123 label)")]
Workload = Annotated[str, _check(_DNS_SUBDOMAIN, "workload name (DNS-1123 subdomain)")]
Container = Annotated[str, _check(_DNS_LABEL, "container name (DNS-1123 label)")]
PathName = Annotated[str, _check(_PATH_NAME, "path name (letters, digits, - _ . ; max 128)")]
Selector = Annotated[str, _check(_SELECTOR, "label selector (key=value[,key=value])")]
UrlPath = Annotated[str, _check(_URL_PATH, "URL path (starts with /, no spaces, quotes or shell characters)")]
Url = Annotated[str, AfterValidator(_url)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _expect_list(value: object) -> object:
    return [value] if isinstance(value, int) and not isinstance(value, bool) else value


Expect = Annotated[tuple[Status, ...], BeforeValidator(_expect_list), Field(min_length=1)]


class SourceConfig(_Model):
    namespace: Namespace
    workload: Workload | None = None
    selector: Selector | None = None
    container: Container | None = None
    require_sidecar: bool = True

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.workload is None) == (self.selector is None):
            raise ValueError("give exactly one of workload or selector")
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
        return f"http://{self.service}.{self.namespace}.svc.cluster.local:{self.port}{self.path}"


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
        m = _URL.match(t.url)
        assert m is not None  # validated
        host, port = m.group("host"), m.group("port")
        port_n = int(port) if port else (443 if m.group("scheme") == "https" else 80)
        parts = host.split(".")
        if len(parts) == 1:
            return host, self.source.namespace, port_n
        if (host.endswith(".svc.cluster.local") and len(parts) == 5) or (
            host.endswith(".svc") and len(parts) == 3
        ):
            return parts[0], parts[1], port_n
        return None, None, port_n


class Defaults(_Model):
    interval: Duration = 30.0
    timeout: Duration = 10.0
    expect: Expect = (200,)
    require_sidecar: bool = True


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
    requests: int = Field(default=10, ge=1, le=100000)
    window: Duration = 60.0


class ApiConfig(_Model):
    listen: str = "127.0.0.1:9090"
    token_file: Path | None = None
    token_env: str | None = None
    allow_adhoc: bool = False
    rate_limit: RateLimit = RateLimit()

    @model_validator(mode="before")
    @classmethod
    def _no_inline_token(cls, data: Any) -> Any:
        if isinstance(data, dict) and "token" in data:
            raise ValueError("an inline token is not allowed; use token_file or token_env")
        return data

    @model_validator(mode="after")
    def _validate(self) -> Self:
        m = _LISTEN.match(self.listen)
        if not m:
            raise ValueError(f"listen {self.listen!r} must be HOST:PORT, e.g. 0.0.0.0:9090")
        if not 0 <= int(m.group("port")) <= 65535:
            raise ValueError("listen port must be 0-65535")
        if self.token_file and self.token_env:
            raise ValueError("give token_file or token_env, not both")
        if self.token_env is not None and not _ENV_NAME.match(self.token_env):
            raise ValueError(f"token_env {self.token_env!r} is not an environment variable name")
        return self

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - ":9090" means all interfaces

    def read_token(self) -> str | None:
        """The bearer token, or None when none is configured. Raises ConfigError if it cannot be read."""
        import os

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


class AgentConfig(_Model):
    paths: tuple[PathConfig, ...] = ()
    defaults: Defaults = Defaults()
    discovery: tuple[DiscoveryRule, ...] = ()
    limits: Limits = Limits()
    api: ApiConfig = ApiConfig()
    evidence: EvidenceConfig = EvidenceConfig()
    shard: ShardConfig = ShardConfig()

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
                if isinstance(src, dict) and "require_sidecar" not in src and "require_sidecar" in defaults:
                    raw["from"] = {**src, "require_sidecar": defaults["require_sidecar"]}
            merged.append(raw)
        return {**data, "paths": merged}

    @model_validator(mode="after")
    def _cross_checks(self) -> Self:
        seen: dict[str, int] = {}
        for i, p in enumerate(self.paths):
            if p.name in seen:
                raise _FieldError(
                    f"paths[{i}].name", f"duplicate path name {p.name!r} (also paths[{seen[p.name]}])"
                )
            seen[p.name] = i
            if p.interval < self.limits.min_interval:
                raise _FieldError(
                    f"paths[{i}].interval",
                    f"{p.interval:g}s is below limits.min_interval {self.limits.min_interval:g}s",
                )
            if p.timeout > p.interval:
                raise _FieldError(
                    f"paths[{i}].timeout", f"{p.timeout:g}s is longer than the interval {p.interval:g}s"
                )
        for i, r in enumerate(self.discovery):
            if r.interval is not None and r.interval < self.limits.min_interval:
                raise _FieldError(f"discovery[{i}].interval", "is below limits.min_interval")
        if len(self.paths) > self.limits.max_paths:
            raise _FieldError(
                "paths", f"{len(self.paths)} paths exceed limits.max_paths {self.limits.max_paths}"
            )
        return self


class _FieldError(ValueError):
    """A cross-field error that knows its own field path (pydantic would report it at the root)."""

    def __init__(self, loc: str, message: str) -> None:
        super().__init__(f"{loc}: {message}")
        self.loc = loc
        self.message = message


def expand_discovery(
    rules: Sequence[DiscoveryRule], services: Iterable[ServiceInfo], defaults: Defaults | None = None
) -> list[PathConfig]:
    """One PathConfig per (rule, service port) in the rule's namespaces, with stable names. Pure."""
    defaults = defaults or Defaults()
    out: dict[str, PathConfig] = {}
    ordered = sorted(services, key=lambda s: (s.namespace, s.name))
    for rule in rules:
        for svc in ordered:
            if svc.namespace not in rule.namespaces or svc.name in rule.exclude_services:
                continue
            for sp in sorted(svc.ports, key=lambda p: p.port):
                if sp.protocol.upper() != "TCP":
                    continue  # curl can only speak to TCP ports
                name = f"{rule.source.label}-to-{svc.name}.{svc.namespace}-{sp.port}"
                name = re.sub(r"[^-A-Za-z0-9_.]", "_", name)[:128]
                out.setdefault(
                    name,
                    PathConfig(  # type: ignore[call-arg]  # `source` is populated by name (alias "from")
                        name=name,
                        source=rule.source,
                        to=TargetConfig(
                            service=svc.name, namespace=svc.namespace, port=sp.port, path=rule.path
                        ),
                        expect=rule.expect or defaults.expect,
                        interval=rule.interval or defaults.interval,
                        timeout=rule.timeout or defaults.timeout,
                    ),
                )
    return list(out.values())


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    keys: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in keys:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        keys.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


_MESSAGES = {
    "extra_forbidden": "unknown field",
    "missing": "required field is missing",
    "too_short": "must not be empty",
}


def format_validation_error(source: str, exc: ValidationError) -> str:
    """All errors, one per line, as `FILE: field.path: message`."""
    lines = []
    for err in exc.errors():
        ctx_err = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_err, _FieldError):
            lines.append(f"{source}: {ctx_err.loc}: {ctx_err.message}")
            continue
        msg = _MESSAGES.get(err["type"], err["msg"])
        msg = msg.removeprefix("Value error, ")
        lines.append(f"{source}: {_loc(tuple(err['loc']))}: {msg}")
    return "\n".join(lines)


def parse_config(data: object, source: str = "config") -> AgentConfig:
    """Validate already-parsed YAML data; raises ConfigError naming `source` and the field path."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping, got {type(data).__name__}")
    try:
        return AgentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc)) from None


def parse_config_text(text: str, source: str = "config") -> AgentConfig:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}:{where}: invalid YAML: {problem}") from None
    return parse_config(data, source)


def load_config(path: str | Path) -> AgentConfig:
    """Read and validate the agent config file; ConfigError names the file and the field path."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return parse_config_text(text, str(path))
