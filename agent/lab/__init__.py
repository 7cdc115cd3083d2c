"""The local mesh lab: API-server emulator, CA, sidecar config translator, workloads, scenarios."""
