"""Serving the agent: scheduler, result store, metrics, HTTP API, status page."""
