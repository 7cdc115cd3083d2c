"""Validated scalar types of the agent config: durations, ports, status codes, names, URLs.

Hosts, paths and names end up as argv elements of a curl run inside a pod and as metric label
values, so they are checked strictly here (no whitespace, quotes or shell characters). Pure.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from agent import names
from agent.errors import InputError
from agent.probe.url import check_path, split_url

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DNS_LABEL = names.DNS_LABEL
_DNS_SUBDOMAIN = names.DNS_SUBDOMAIN
_PATH_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,126}[A-Za-z0-9])?$")
_LABEL_KEY = r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_LABEL_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?"
_SELECTOR = re.compile(rf"^{_LABEL_KEY}(==?|!=){_LABEL_VALUE}(,{_LABEL_KEY}(==?|!=){_LABEL_VALUE})*$")
LISTEN = re.compile(r"^(?P<host>[A-Za-z0-9.\-]*|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})$")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")


def parse_duration(value: object) -> float:
    """`30s`, `2m`, `500ms`, `1h` or a number of seconds -> seconds (float, > 0)."""
    if isinstance(value, bool):
        raise ValueError("must be a duration like 30s, 2m or 500ms")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.fullmatch(value.strip())):
        seconds = float(m.group(1)) * _UNIT_S[m.group(2)]
    else:
        raise ValueError(f"must be a duration like 30s, 2m or 500ms, got {value!r}")
    if seconds <= 0 or seconds > 86400:
        raise ValueError("must be > 0 and at most 24h")
    return seconds


def _check(pattern: re.Pattern[str], what: str) -> Any:
    def check(value: str) -> str:
        if why := names.name_error((pattern, what), value):
            raise ValueError(why)
        return value

    return AfterValidator(check)


def _port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError("must be 1-65535")
    return value


def _status(value: int) -> int:
    if why := names.status_error(value):
        raise ValueError(why)
    return value


def _url(value: str) -> str:
    # The one URL validator (agent.probe.url), the same the curl argv builder applies.
    try:
        split_url(value)
    except InputError as exc:
        raise ValueError(str(exc)) from None
    return value


def _url_path(value: str) -> str:
    try:
        return check_path(value, "URL path")
    except InputError as exc:
        raise ValueError(str(exc)) from None


Duration = Annotated[float, BeforeValidator(parse_duration)]
Port = Annotated[int, AfterValidator(_port)]
Status = Annotated[int, AfterValidator(_status)]
Namespace = Annotated[str, _check(*names.NAMESPACE)]
Workload = Annotated[str, _check(*names.WORKLOAD)]
Domain = Annotated[str, _check(_DNS_SUBDOMAIN, "cluster domain (DNS subdomain, e.g. cluster.local)")]
Revision = Annotated[str, _check(_DNS_LABEL, "revision (DNS-1123 label, e.g. 1-30)")]
Container = Annotated[str, _check(*names.CONTAINER)]
PathName = Annotated[str, _check(_PATH_NAME, "path name (letters, digits, - _ . ; max 128)")]
Selector = Annotated[str, _check(_SELECTOR, "label selector (key=value[,key=value])")]
UrlPath = Annotated[str, AfterValidator(_url_path)]
Url = Annotated[str, AfterValidator(_url)]


def _expect_list(value: object) -> object:
    return [value] if isinstance(value, int) and not isinstance(value, bool) else value


Expect = Annotated[tuple[Status, ...], BeforeValidator(_expect_list), Field(min_length=1)]
