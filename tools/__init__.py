"""Developer tooling that does not ship: golden-data capture against real Envoy sidecars."""
