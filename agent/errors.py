"""meshprober's own exception hierarchy.

Every error a user can meet derives from MeshproberError and carries a message that says what is
wrong and, where we know, what to do. Third-party exceptions are mapped to these at the seam that
calls the third party (`raise ... from`).
"""

from __future__ import annotations


class MeshproberError(Exception):
    """Base of all errors meshprober reports to users."""


class InputError(MeshproberError):
    """Bad user input: a malformed file, an unknown flag value, a truncated dump (exit code 2)."""


class ConfigError(InputError):
    """The agent configuration is invalid; the message names the file and field path."""


class ClusterError(MeshproberError):
    """Talking to the Kubernetes API failed."""


class ClusterUnreachable(ClusterError):
    """The API server could not be reached (after bounded retries)."""


class Forbidden(ClusterError):
    """The service account lacks a permission; the message names verb, resource and namespace."""


class NotFound(ClusterError):
    """A pod, container or other object does not exist."""


class PodNotReady(ClusterError):
    """The pod exists but is not Ready (or has no usable container)."""


class ExecError(ClusterError):
    """An exec into a container failed before the command could report an exit code."""


class ExecTimeout(ExecError):
    """The exec deadline passed; the stream was closed. Partial output is attached."""

    def __init__(self, message: str, stdout: bytes = b"", stderr: bytes = b"") -> None:
        super().__init__(message)
        self.stdout = stdout
        self.stderr = stderr


class CommandNotFound(ExecError):
    """The command (e.g. curl) is missing in the container (exit 126/127)."""


class StreamDropped(ExecError):
    """The exec websocket closed before the command's status arrived. Partial output is attached."""

    def __init__(self, message: str, stdout: bytes = b"", stderr: bytes = b"") -> None:
        super().__init__(message)
        self.stdout = stdout
        self.stderr = stderr


class OutputTruncated(ExecError):
    """The command wrote more than the exec output cap; the stream was closed. The capped output is attached."""

    def __init__(self, message: str, stdout: bytes = b"", stderr: bytes = b"") -> None:
        super().__init__(message)
        self.stdout = stdout
        self.stderr = stderr


class Unauthorized(ClusterError):
    """The API server rejected our credentials (401)."""


class ContainerNotFound(NotFound, ExecError):
    """The named container is not in the pod; the message lists the pod's containers."""


def stage_of(exc: BaseException, default: str = "check") -> str:
    """The failure stage (meshprober_errors_total{stage}) of an exception a check met.

    The one classification for the check itself and for the scheduler that runs it: a timed-out
    exec, an unreachable API server, any other exec failure; anything else is `default`."""
    if isinstance(exc, ExecTimeout):
        return "exec_timeout"
    if isinstance(exc, ClusterUnreachable):
        return "api"
    if isinstance(exc, ExecError):
        return "exec"
    return default
