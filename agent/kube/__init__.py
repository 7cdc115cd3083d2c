"""Kubernetes access. The ONLY package that imports `kubernetes` (enforced by tests/test_layering.py).

`cluster.py` holds the Cluster protocol in our own types (no kubernetes import); `live.py` is the
implementation over the official client; its exceptions are mapped to agent.errors at this seam.
"""
