"""Reading the agent config: YAML (duplicate keys rejected) -> AgentConfig, with errors that name the
file and the field path, one per line: `agent.yaml: paths[2].to.port: must be 1-65535`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from agent.config.schema import AgentConfig, FieldError
from agent.errors import ConfigError


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
        if isinstance(ctx_err, FieldError):
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
