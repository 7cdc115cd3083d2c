"""The live probe of one path: `context` (what every check shares), `gather` (cross-check evidence
fetched in parallel), `run` (pick a source pod, probe, re-probe, diagnose, keep the bundle).

Imports the pure packages, kube/ and bundle/; never serve/ (serve consumes agent.results).
"""
