"""Decode the few protobuf request bodies kubectl's typed commands send (`create namespace`,
`create configmap|secret`, `auth can-i`) into the JSON shape the rest of the emulator uses.

Pure; no I/O. Only the fields those commands set are decoded (field numbers from Kubernetes'
generated.proto); anything else is ignored. Unknown kinds raise ValueError.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

MAGIC = b"k8s\x00"
Fields = dict[int, list[Any]]


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def fields(buf: bytes) -> Fields:
    """Wire-level decode: field number -> values (ints for varint/fixed, bytes for length-delimited)."""
    out: Fields = {}
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise ValueError("truncated field")
            value, i = buf[i : i + n], i + n
        elif wire == 1:
            value, i = int.from_bytes(buf[i : i + 8], "little"), i + 8
        elif wire == 5:
            value, i = int.from_bytes(buf[i : i + 4], "little"), i + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        out.setdefault(num, []).append(value)
    return out


def _str(f: Fields, num: int) -> str | None:
    return f[num][-1].decode() if num in f else None


def _map(f: Fields, num: int, raw: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for entry in f.get(num, []):
        e = fields(entry)
        key = _str(e, 1) or ""
        value = e.get(2, [b""])[-1]
        out[key] = base64.b64encode(value).decode() if raw else value.decode()
    return out


def _meta(buf: bytes) -> dict[str, Any]:
    f = fields(buf)
    meta: dict[str, Any] = {}
    for num, key in ((1, "name"), (2, "generateName"), (3, "namespace")):
        if (v := _str(f, num)) is not None:
            meta[key] = v
    for num, key in ((11, "labels"), (12, "annotations")):
        if num in f:
            meta[key] = _map(f, num)
    return meta


def _namespace(f: Fields) -> dict[str, Any]:
    return {"metadata": _meta(f.get(1, [b""])[-1])}


def _configmap(f: Fields) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": _meta(f.get(1, [b""])[-1]), "data": _map(f, 2)}
    if 3 in f:
        obj["binaryData"] = _map(f, 3, raw=True)
    return obj


def _secret(f: Fields) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": _meta(f.get(1, [b""])[-1]), "data": _map(f, 2, raw=True)}
    if (t := _str(f, 3)) is not None:
        obj["type"] = t
    return obj


_RESOURCE_ATTRS = (
    (1, "namespace"),
    (2, "verb"),
    (3, "group"),
    (4, "version"),
    (5, "resource"),
    (6, "subresource"),
    (7, "name"),
)


def _ssar(f: Fields) -> dict[str, Any]:
    spec_f = fields(f.get(2, [b""])[-1])
    spec: dict[str, Any] = {}
    if 1 in spec_f:
        ra = fields(spec_f[1][-1])
        spec["resourceAttributes"] = {k: v for n, k in _RESOURCE_ATTRS if (v := _str(ra, n)) is not None}
    if 2 in spec_f:
        nra = fields(spec_f[2][-1])
        spec["nonResourceAttributes"] = {k: v for n, k in ((1, "path"), (2, "verb")) if (v := _str(nra, n))}
    return {"metadata": {}, "spec": spec}


_DECODERS: dict[str, Callable[[Fields], dict[str, Any]]] = {
    "Namespace": _namespace,
    "ConfigMap": _configmap,
    "Secret": _secret,
    "SelfSubjectAccessReview": _ssar,
}


def decode(body: bytes) -> dict[str, Any]:
    """A `k8s\\0`-framed protobuf object as a JSON-shaped dict with apiVersion and kind."""
    if not body.startswith(MAGIC):
        raise ValueError("not a Kubernetes protobuf body (missing the k8s\\0 prefix)")
    unknown = fields(body[len(MAGIC) :])
    type_meta = fields(unknown.get(1, [b""])[-1])
    api_version, kind = _str(type_meta, 1) or "", _str(type_meta, 2) or ""
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise ValueError(
            f"protobuf bodies of kind {kind or '?'} are not supported; use JSON (kubectl apply -f)"
        )
    obj = decoder(fields(unknown.get(2, [b""])[-1]))
    return {"apiVersion": api_version, "kind": kind, **obj}
