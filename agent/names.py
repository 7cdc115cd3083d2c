"""Name and status-code rules shared by the config schema (agent.config.fields) and the cheap checks of
commands that must not load pydantic (`meshprober probe --agent`): one pattern and one message per
kind of name, so both say the same thing about the same bad value. Pure.
"""

from __future__ import annotations

import re

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

Rule = tuple[re.Pattern[str], str]  # (pattern, what a valid value is)
NAMESPACE: Rule = (DNS_LABEL, "namespace (DNS-1123 label)")
WORKLOAD: Rule = (DNS_SUBDOMAIN, "workload name (DNS-1123 subdomain)")
CONTAINER: Rule = (DNS_LABEL, "container name (DNS-1123 label)")


def name_error(rule: Rule, value: str) -> str | None:
    """Why `value` breaks `rule`, or None."""
    pattern, what = rule
    if pattern.fullmatch(value):  # fullmatch: `$` alone would accept a trailing newline
        return None
    return f"{value!r} is not a valid {what}"


def status_error(value: int) -> str | None:
    """Why `value` is not an HTTP status code, or None."""
    return None if 100 <= value <= 599 else "must be an HTTP status code 100-599"
