"""Golden capture: run scenarios on real Envoy sidecars and record their output as test data.

Not part of any installed package; run from a checkout (`python -m tools.golden_capture.capture`).
"""
