"""Typed options of the platform charts that environments set: the containers' CPU and memory, and how the
ingress controller is exposed. Cheap to import (no cdktf): the settings import it. No defaults here on
purpose — they are environment settings and live in ``infra/settings.py`` (``platform_resources``,
``ingress_service_type``).

**Resources.** A container without requests is in the ``BestEffort`` QoS class: the scheduler reserves nothing
for it, the cluster autoscaler adds no node for it, and the kubelet evicts it first under node pressure
(https://kubernetes.io/docs/concepts/workloads/pods/pod-qos/). cert-manager and external-dns ship with
``resources: {}`` (their upstream values.yaml), so without values of ours they run BestEffort; ingress-nginx
ships CPU and memory requests but no limits. With requests set and only a memory limit, the pods are
``Burstable``: memory is capped at the container (a leak kills that container, not its neighbours), CPU is
not limited — CPU is compressible, and a CPU limit throttles a busy controller long before the node is full
(ingress-nginx's values.yaml: "Ideally, there should be no limits", with the reference to
https://github.com/kubernetes/ingress-nginx/issues/4735).

**Ingress Service type.** ``LoadBalancer`` needs a load-balancer implementation (a cloud's, or MetalLB and the
like on bare metal); without one the Service never gets an address, Helm's wait never sees it ready (helm/helm
``pkg/kube/ready.go`` ``serviceReady``: a LoadBalancer Service without ``status.loadBalancer.ingress`` is not
ready) and the atomic install rolls back at its timeout. ``NodePort`` opens the controller on a port of every node
(30000-32767 by default), for clusters where something outside Kubernetes (a lab's load balancer, DNS
pointing at the nodes) brings the traffic in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any, Literal, get_args

IngressServiceType = Literal["LoadBalancer", "NodePort"]
INGRESS_SERVICE_TYPES: tuple[str, ...] = get_args(IngressServiceType)

_CPU = re.compile(r"^([1-9][0-9]*m|[0-9]+(\.[0-9]{1,3})?)$")
_MEMORY = re.compile(r"^([1-9][0-9]*)(Ki|Mi|Gi|Ti)$")
_MEMORY_FACTORS = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}


def memory_bytes(quantity: str) -> int:
    """``128Mi`` → 134217728 (binary suffixes only: the ones Kubernetes prints back)."""
    match = _MEMORY.match(quantity)
    if match is None:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return int(match.group(1)) * _MEMORY_FACTORS[match.group(2)]


@dataclass(frozen=True, kw_only=True)
class ContainerResources:
    """One container's requests and memory limit. All fields required (defaults: ``infra/settings.py``)."""

    cpu_request: str
    """CPU the scheduler reserves: millicores (``100m``) or cores (``0.5``, ``1``)."""
    memory_request: str
    """Memory the scheduler reserves, with a binary suffix (``128Mi``, ``1Gi``)."""
    memory_limit: str
    """Memory the container may use before it is OOM-killed (≥ ``memory_request``; ``Ki``/``Mi``/``Gi``/``Ti``)."""

    def __post_init__(self) -> None:
        owner = "ContainerResources"
        if not isinstance(self.cpu_request, str) or not _CPU.match(self.cpu_request):
            raise ValueError(
                f"{owner} cpu_request = {self.cpu_request!r}; allowed: millicores such as '100m' or cores "
                "such as '0.5'"
            )
        for name in ("memory_request", "memory_limit"):
            value = getattr(self, name)
            if not isinstance(value, str) or not _MEMORY.match(value):
                raise ValueError(
                    f"{owner} {name} = {value!r}; allowed: a memory quantity with a binary suffix such as "
                    "'128Mi' or '1Gi'"
                )
        if memory_bytes(self.memory_limit) < memory_bytes(self.memory_request):
            raise ValueError(
                f"{owner} memory_limit = {self.memory_limit!r} is below memory_request = "
                f"{self.memory_request!r}; allowed: a limit ≥ the request"
            )

    def values(self) -> dict[str, Any]:
        """The Kubernetes ``resources`` object (what every chart here passes to the container verbatim)."""
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"memory": self.memory_limit},
        }


@dataclass(frozen=True, kw_only=True)
class PlatformResources:
    """Resources of every container the platform charts run. All fields required (defaults:
    ``infra/settings.py``)."""

    ingress_controller: ContainerResources
    """ingress-nginx controller (``controller.resources``)."""
    ingress_admission_jobs: ContainerResources
    """ingress-nginx admission webhook certificate Jobs, run by Helm hooks on install and upgrade
    (``controller.admissionWebhooks.createSecretJob.resources`` and ``.patchWebhookJob.resources``)."""
    cert_manager_controller: ContainerResources
    """cert-manager controller (``resources``)."""
    cert_manager_webhook: ContainerResources
    """cert-manager webhook (``webhook.resources``)."""
    cert_manager_cainjector: ContainerResources
    """cert-manager CA injector (``cainjector.resources``)."""
    cert_manager_startupapicheck: ContainerResources
    """cert-manager's post-install Job that waits for the webhook (``startupapicheck.resources``)."""
    external_dns: ContainerResources
    """external-dns (``resources``)."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, ContainerResources):
                raise ValueError(
                    f"PlatformResources {f.name} = {value!r}; allowed: a ContainerResources(cpu_request=..., "
                    "memory_request=..., memory_limit=...)"
                )
