"""Kubernetes access. The ONLY package that imports `kubernetes` (enforced by tests/test_layering.py).

`cluster.py` holds the Cluster protocol in our own types (no kubernetes import); `live.py` is the
implementation over the official client (`LiveCluster`), composed of `core_reads` (pods, services,
endpoints, mesh ConfigMap, namespace scope), `policy_list` (Istio CRs) and `logs_exec` (logs, exec);
client exceptions are mapped to agent.errors at this seam (`rest`, `exec_call`, `errors_map`).
"""
