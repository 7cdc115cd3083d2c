"""meshprober: active, mTLS-aware probes for Istio meshes."""

__version__ = "0.1.0"
