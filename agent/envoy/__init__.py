"""Envoy evidence parsers: access logs, config_dump, stats, response-flag catalog (pure)."""
