"""Bearer-token authentication and a small RBAC table (username -> rules).

Pure; no I/O. A rule allows when verb, resource (incl. `pods/exec`), API group and namespace match;
"*" matches anything. `rbac=None` means everyone authenticated may do everything.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RbacRule:
    verbs: tuple[str, ...] = ("*",)
    resources: tuple[str, ...] = ("*",)  # "pods", "pods/exec", "destinationrules", "*"
    namespaces: tuple[str, ...] = ("*",)  # "*" = every namespace and cluster scope
    api_groups: tuple[str, ...] = ("*",)

    @classmethod
    def of(cls, rule: RbacRule | Mapping[str, Any]) -> RbacRule:
        if isinstance(rule, RbacRule):
            return rule

        def seq(key: str, alt: str) -> tuple[str, ...]:
            v = rule.get(key, rule.get(alt, ("*",)))
            return (v,) if isinstance(v, str) else tuple(v)

        return cls(
            seq("verbs", "verbs"),
            seq("resources", "resources"),
            seq("namespaces", "namespace"),
            seq("api_groups", "apiGroups"),
        )

    def allows(self, verb: str, resource: str, group: str, namespace: str | None) -> bool:
        return (
            ("*" in self.verbs or verb in self.verbs)
            and ("*" in self.resources or resource in self.resources)
            and ("*" in self.api_groups or group in self.api_groups)
            and ("*" in self.namespaces or (namespace is not None and namespace in self.namespaces))
        )


RbacTable = Mapping[str, Sequence[RbacRule | Mapping[str, Any]]]


class Authenticator:
    """Maps tokens to users and decides RBAC; thread-safe for reads, tokens added under the GIL."""

    def __init__(self, users: Mapping[str, str] | None, rbac: RbacTable | None) -> None:
        self._users: dict[str, str] = dict(users) if users else {}
        if "admin" not in self._users.values():
            self._users["admin-" + secrets.token_hex(16)] = "admin"
        self._rbac: dict[str, tuple[RbacRule, ...]] | None = (
            None if rbac is None else {u: tuple(RbacRule.of(r) for r in rules) for u, rules in rbac.items()}
        )

    def token_for(self, username: str) -> str:
        """The token of `username`, minted on first use so tests can name users freely."""
        for token, user in self._users.items():
            if user == username:
                return token
        token = f"{username.replace(':', '-')}-{secrets.token_hex(16)}"
        self._users[token] = username
        return token

    def user_for(self, authorization: str | None) -> str | None:
        """The user of an `Authorization` header; the scheme is case-insensitive (in-cluster sends `bearer`)."""
        if not authorization:
            return None
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self._users.get(token.strip())

    def allowed(self, user: str, verb: str, resource: str, group: str, namespace: str | None) -> bool:
        if self._rbac is None:
            return True
        rules: Iterable[RbacRule] = self._rbac.get(user, ())
        return any(r.allows(verb, resource, group, namespace) for r in rules)
