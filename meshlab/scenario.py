"""Lab scenarios: a YAML description of workloads, Istio resources and probe paths.

A scenario names the workloads (each becomes a pod with its own loopback address, an app and,
unless `sidecar: false`, a real Envoy sidecar), the Istio resources in force, certificate
knobs, and the paths the demo agent probes. Loading validates with messages that name the file
and field. Reading the file is the only I/O here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.errors import InputError

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"  # package data: works from a wheel too
_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class PortSpec(_Strict):
    name: str = "http"
    port: int = Field(ge=1, le=65535)
    target_port: int | None = Field(default=None, alias="targetPort", ge=1, le=65535)

    @property
    def target(self) -> int:
        return self.target_port or self.port


class AppSpec(_Strict):
    """How the workload's app answers: a scenario knob per workload."""

    status: int = Field(default=200, ge=100, le=599)
    delay_ms: int = Field(default=0, alias="delayMs", ge=0, le=60_000)
    behaviour: Literal["normal", "close", "not-listening"] = "normal"


class CertSpec(_Strict):
    """Certificate knobs for the workload's sidecar (the bad-certs scenario)."""

    issuer: Literal["mesh", "other-ca"] = "mesh"
    san: str | None = None  # override the SPIFFE URI SAN
    expired: bool = False


class WorkloadSpec(_Strict):
    name: str = Field(pattern=_DNS_LABEL)
    namespace: str = Field(pattern=_DNS_LABEL)
    service_account: str | None = Field(default=None, alias="serviceAccount")
    labels: dict[str, str] = Field(default_factory=dict)
    sidecar: bool = True
    replicas: int = Field(default=1, ge=1, le=5)
    ports: list[PortSpec] = Field(default_factory=list)  # service ports; empty = client only
    service: bool = True  # create a Service named after the workload when it has ports
    app: AppSpec = Field(default_factory=AppSpec)
    cert: CertSpec = Field(default_factory=CertSpec)
    # container: istio-proxy in spec.containers; native: in spec.initContainers with restartPolicy
    # Always (Kubernetes sidecar containers), as Istio injects on Kubernetes >= 1.33 (by default
    # from 1.28, opt-in with ENABLE_NATIVE_SIDECARS or the sidecar.istio.io/nativeSidecar annotation before).
    sidecar_mode: Literal["container", "native"] = Field(default="container", alias="sidecarMode")
    curl: bool = True  # false: the app image has no curl (meshlab.lab_containers)

    @property
    def sa(self) -> str:
        return self.service_account or self.name


class PathSpec(_Strict):
    name: str
    from_: str = Field(alias="from", pattern=r"^[a-z0-9-]+/[a-z0-9-]+(/[a-z0-9-]+)?$")
    to: str
    expect: list[int] = Field(default_factory=lambda: [200])
    via: Literal["exec", "ephemeral", "auto"] | None = None  # the agent's from.via (default: auto)


class ControlPlaneSpec(_Strict):
    """Where istiod runs and how it is configured (sources: meshlab/scenarios/README.md)."""

    namespace: str = Field(default="istio-system", pattern=_DNS_LABEL)
    # A revisioned install: ConfigMap istio-<rev>, Deployment istiod-<rev>, pods labelled istio.io/rev.
    revision: str | None = Field(default=None, pattern=_DNS_LABEL, max_length=40)
    # PILOT_ENABLE_AMBIENT=true: sidecar clusters get Istio's `hbone` transport-socket matches.
    ambient_enabled: bool = Field(default=False, alias="ambientEnabled")
    # Merged into the lab's meshConfig (nested mappings key by key); {accessLogFile: ""} turns logs off.
    mesh_config: dict[str, Any] = Field(default_factory=dict, alias="meshConfig")

    @field_validator("mesh_config")
    @classmethod
    def _mesh_config_values(cls, value: dict[str, Any]) -> dict[str, Any]:
        log_file = value.get("accessLogFile", "")
        if not isinstance(log_file, str):
            raise ValueError('accessLogFile must be a string (a path, or "" for no access log)')
        root = value.get("rootNamespace")
        if root is not None and not (isinstance(root, str) and re.match(_DNS_LABEL, root)):
            raise ValueError("rootNamespace must be a namespace name")
        return value


class Scenario(_Strict):
    name: str
    description: str = ""
    # None = the control plane's namespace (Istio's chart: meshConfig.rootNamespace | default istioNamespace).
    root_namespace_override: str | None = Field(default=None, alias="rootNamespace", pattern=_DNS_LABEL)
    enable_auto_mtls: bool = Field(default=True, alias="enableAutoMtls")
    control_plane: ControlPlaneSpec = Field(default_factory=ControlPlaneSpec, alias="controlPlane")
    # The Kubernetes cluster domain: Service FQDNs `<svc>.<ns>.svc.<clusterDomain>`, cluster names, SNI.
    cluster_domain: str = Field(default="cluster.local", alias="clusterDomain", pattern=_DNS_SUBDOMAIN)
    workloads: list[WorkloadSpec]
    resources: list[dict[str, Any]] = Field(default_factory=list)
    paths: list[PathSpec] = Field(default_factory=list)

    @field_validator("resources")
    @classmethod
    def _resources_are_objects(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, obj in enumerate(value):
            if not obj.get("kind") or not obj.get("apiVersion"):
                raise ValueError(f"resources[{i}] needs apiVersion and kind")
        return value

    @property
    def root_namespace(self) -> str:
        """The mesh root namespace: meshConfig.rootNamespace, else rootNamespace, else istiod's namespace."""
        from_mesh = self.control_plane.mesh_config.get("rootNamespace")
        return str(from_mesh or self.root_namespace_override or self.control_plane.namespace)

    def namespaces(self) -> list[str]:
        found = {self.root_namespace, self.control_plane.namespace} | {w.namespace for w in self.workloads}
        found |= {r.get("metadata", {}).get("namespace", "") for r in self.resources} - {""}
        return sorted(found)

    def workload(self, namespace: str, name: str) -> WorkloadSpec | None:
        return next((w for w in self.workloads if (w.namespace, w.name) == (namespace, name)), None)


def with_knobs(
    scenario: Scenario, *, ambient_enabled: bool | None = None, sidecar_mode: str | None = None
) -> Scenario:
    """The same scenario with ambient enabled in the control plane and/or every sidecar in one mode
    (how the lab checks that each scenario's outcome survives these knobs)."""
    out = scenario
    if ambient_enabled is not None:
        cp = out.control_plane.model_copy(update={"ambient_enabled": ambient_enabled})
        out = out.model_copy(update={"control_plane": cp})
    if sidecar_mode is not None:
        if sidecar_mode not in ("container", "native"):
            raise InputError(f"sidecarMode {sidecar_mode!r}: use container or native")
        workloads = [w.model_copy(update={"sidecar_mode": sidecar_mode}) for w in out.workloads]
        out = out.model_copy(update={"workloads": workloads})
    return out


def available_scenarios() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a built-in scenario by name, or a scenario file by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = SCENARIO_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            known = ", ".join(available_scenarios())
            raise InputError(f"unknown lab scenario {str(name_or_path)!r}; known: {known}")
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise InputError(f"{path}: cannot read scenario: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path}: a scenario is a YAML mapping")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"{path}: {where}: {first['msg']}") from exc


def load_user_resources(directory: Path) -> list[dict[str, Any]]:
    """A user's own Kubernetes/Istio YAML (`lab up --resources DIR`), loaded on top of a scenario.

    Any unreadable file, YAML syntax error or document that is not a Kubernetes object is an
    InputError naming the file, so the lab never starts with half of a user's policy.
    """
    from agent.istio.load import SOURCE_KEY, load_objects_from_dir
    from meshlab.apiserver.resources import by_api_version_kind

    if not directory.is_dir():
        raise InputError(f"--resources {directory}: not a directory")
    loaded = load_objects_from_dir(directory)
    if loaded.notes:
        raise InputError(f"--resources {directory}: {loaded.notes[0]}")
    objects: list[dict[str, Any]] = []
    for obj in loaded.objects:
        where = str(obj.pop(SOURCE_KEY, directory))
        meta = obj.get("metadata")
        if not obj.get("apiVersion") or not obj.get("kind"):
            raise InputError(f"--resources {directory}: {where}: needs apiVersion and kind")
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
            raise InputError(f"--resources {directory}: {where}: needs metadata.name")
        if by_api_version_kind(str(obj["apiVersion"]), str(obj["kind"])) is None:
            raise InputError(
                f"--resources {directory}: {where}: the lab does not serve kind {obj['kind']!r}"
                f" in apiVersion {obj['apiVersion']!r}"
            )
        objects.append(obj)
    if not objects:
        raise InputError(f"--resources {directory}: no Kubernetes objects in *.yaml, *.yml or *.json files")
    return objects
