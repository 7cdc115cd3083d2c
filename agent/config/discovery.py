"""Discovery expansion: every service port in the rule's namespaces becomes a probed path.

Pure (no cluster access): the agent re-runs it with the current services as they come and go.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from agent.config.schema import Defaults, DiscoveryRule, PathConfig, TargetConfig
from agent.kube.cluster import ServiceInfo


def expand_discovery(
    rules: Sequence[DiscoveryRule], services: Iterable[ServiceInfo], defaults: Defaults | None = None
) -> list[PathConfig]:
    """One PathConfig per (rule, service port) in the rule's namespaces, with stable names. Pure."""
    defaults = defaults or Defaults()
    out: dict[str, PathConfig] = {}
    ordered = sorted(services, key=lambda s: (s.namespace, s.name))
    for rule in rules:
        source = rule.source
        if "require_sidecar" not in source.model_fields_set:
            # as for explicit paths: defaults.require_sidecar applies unless the rule's `from` sets it
            source = source.model_copy(update={"require_sidecar": defaults.require_sidecar})
        if "via" not in source.model_fields_set:
            source = source.model_copy(update={"via": defaults.via})
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
                        source=source,
                        to=TargetConfig(
                            service=svc.name, namespace=svc.namespace, port=sp.port, path=rule.path
                        ),
                        expect=rule.expect or defaults.expect,
                        interval=rule.interval or defaults.interval,
                        timeout=rule.timeout or defaults.timeout,
                    ),
                )
    return list(out.values())
