"""The local mesh lab (installed by the `lab` extra): API-server emulator, CA, sidecar config
translator, workloads and the built-in scenarios (package data in `meshlab/scenarios/`).

The lab depends on the agent's pure packages (policy engine, errors, curl argv); the agent imports
the lab only from its `demo` and `lab` commands.
"""
