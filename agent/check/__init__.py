"""The live probe of one path: `context` (what every check shares), `gather` (cross-check evidence
fetched in parallel), `run` (pick a source pod, probe, re-probe, diagnose, keep the bundle), `via` (exec in the source
container or in an ephemeral probe container).

Imports the pure packages, kube/ and bundle/; never serve/ (serve consumes agent.results).
"""
