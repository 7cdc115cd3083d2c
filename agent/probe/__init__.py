"""Probing: the curl argv builder and the curl output parser (pure)."""
