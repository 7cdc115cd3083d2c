"""A Kubernetes API-server emulator that the real kubectl 1.37 and the official Python client accept.

Public API: Emulator (start/stop/url/ca_path/token_for/write_kubeconfig/store), ContainerContext,
ExecFault, RbacRule. The lab builds its world on it; tests drive kubectl and agent/kube against it.
"""

from agent.lab.apiserver.auth import RbacRule
from agent.lab.apiserver.emulator import Emulator
from agent.lab.apiserver.execws import ContainerContext, ExecFault
from agent.lab.apiserver.store import Store, load_manifests

__all__ = ["ContainerContext", "Emulator", "ExecFault", "RbacRule", "Store", "load_manifests"]
