"""Agent configuration: schema (pydantic v2, extra=forbid), YAML loader, discovery expansion.

Errors name the file and the field path (`agent.yaml: paths[2].to.port: must be 1-65535`).
No I/O apart from reading the config file (`load_config`) and the API token (`ApiConfig.read_token`).
"""

from agent.config.discovery import expand_discovery
from agent.config.fields import parse_duration
from agent.config.loader import format_validation_error, load_config, parse_config, parse_config_text
from agent.config.schema import (
    AgentConfig,
    ApiConfig,
    Defaults,
    DiscoveryRule,
    EvidenceConfig,
    Limits,
    PathConfig,
    RateLimit,
    ShardConfig,
    SourceConfig,
    TargetConfig,
)

__all__ = [
    "AgentConfig",
    "ApiConfig",
    "Defaults",
    "DiscoveryRule",
    "EvidenceConfig",
    "Limits",
    "PathConfig",
    "RateLimit",
    "ShardConfig",
    "SourceConfig",
    "TargetConfig",
    "expand_discovery",
    "format_validation_error",
    "load_config",
    "parse_config",
    "parse_config_text",
    "parse_duration",
]
