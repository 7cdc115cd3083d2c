"""Istio policy engine: resources, DR resolution, PeerAuthentication composition, tls-check (pure)."""
