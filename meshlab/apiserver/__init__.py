"""A Kubernetes API-server emulator that the real kubectl 1.37 and the official Python client accept.

Public API: Emulator (start/stop/url/ca_path/token_for/write_kubeconfig/store), ContainerContext,
ExecFault, RbacRule. The lab builds its world on it; tests drive kubectl and agent/kube against it.
"""

from meshlab.apiserver.auth import RbacRule
from meshlab.apiserver.emulator import Emulator
from meshlab.apiserver.execws import ContainerContext, ExecFault
from meshlab.apiserver.store import Store, load_manifests

__all__ = ["ContainerContext", "Emulator", "ExecFault", "RbacRule", "Store", "load_manifests"]
