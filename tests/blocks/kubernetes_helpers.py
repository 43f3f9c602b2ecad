"""Shared helpers of the Kubernetes layer tests: a fresh stack, literal inputs, synthesis to parsed JSON."""

from __future__ import annotations

import json
import re
from typing import Any

import cdktf

from building_blocks.kubernetes.helm_chart import ChartVersion
from building_blocks.kubernetes.platform_options import ContainerResources, PlatformResources

PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ\n-----END CERTIFICATE-----\n"
HOST = "https://aks-nwt-dev.hcp.westeurope.azmk8s.io:443"
INGRESS = ChartVersion(
    chart="ingress-nginx", repository="https://kubernetes.github.io/ingress-nginx", version="4.14.5"
)
CERT_MANAGER = ChartVersion(chart="cert-manager", repository="https://charts.jetstack.io", version="v1.19.6")
EXTERNAL_DNS = ChartVersion(
    chart="external-dns", repository="https://kubernetes-sigs.github.io/external-dns/", version="1.20.0"
)



def _sized(n: int) -> ContainerResources:
    return ContainerResources(cpu_request=f"{n}m", memory_request=f"{n}Mi", memory_limit=f"{2 * n}Mi")


# Distinct sizes per container, so a test sees which value went where (test data, not the defaults: those live
# in infra/settings.py).
SIZES = PlatformResources(
    ingress_controller=_sized(101),
    ingress_admission_jobs=_sized(102),
    cert_manager_controller=_sized(103),
    cert_manager_webhook=_sized(104),
    cert_manager_cainjector=_sized(105),
    cert_manager_startupapicheck=_sized(106),
    external_dns=_sized(107),
)


def sized(n: int) -> dict:
    """The ``resources`` values of ``_sized(n)``."""
    return _sized(n).values()


def new_stack() -> cdktf.TerraformStack:
    return cdktf.TerraformStack(cdktf.App(), "test")


def synth(stack: cdktf.TerraformStack) -> dict[str, Any]:
    return json.loads(cdktf.Testing.synth(stack))


def resources(doc: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return doc.get("resource", {}).get(resource_type, {})


def only(doc: dict[str, Any], resource_type: str) -> dict[str, Any]:
    """The single resource of a type (fails when there is not exactly one)."""
    found = resources(doc, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, got {sorted(found)}"
    return next(iter(found.values()))


def release_values(release: dict[str, Any]) -> dict[str, Any]:
    """The release's values as data (exactly one JSON document)."""
    assert len(release["values"]) == 1
    return json.loads(release["values"][0])


def assert_hardened(release: dict[str, Any], *, max_history: int = 10, timeout: int = 600) -> None:
    """The rules every helm_release in this repository obeys."""
    assert release["atomic"] is True
    assert release["cleanup_on_fail"] is True
    assert release["wait"] is True
    assert release["create_namespace"] is False
    assert release["max_history"] == max_history
    assert release["timeout"] == timeout
    assert release["namespace"].startswith("${kubernetes_namespace_v1.")
    assert any(dep.startswith("kubernetes_namespace_v1.") for dep in release["depends_on"])


_EXPRESSION = re.compile(r"\$\{(.*?)\}")
_ADDRESS = re.compile(r"(?<![\w.-])((?:data\.)?[a-z][a-z0-9_]*\.[A-Za-z_][A-Za-z0-9_-]*)")
KUBERNETES_TYPES = ("helm_release", "kubernetes_")


def _addresses(doc: dict[str, Any]) -> dict[str, Any]:
    """Every object a synthesized stack declares, by Terraform address (resources, data sources, locals)."""
    objects: dict[str, Any] = {}
    for kind, items in doc.get("resource", {}).items():
        objects.update({f"{kind}.{name}": body for name, body in items.items()})
    for kind, items in doc.get("data", {}).items():
        objects.update({f"data.{kind}.{name}": body for name, body in items.items()})
    objects.update({f"local.{name}": value for name, value in doc.get("locals", {}).items()})
    return objects


def direct_dependencies(doc: dict[str, Any], body: Any) -> set[str]:
    """What one object waits for in Terraform's graph: its ``depends_on`` and every object its expressions
    reference."""
    known = _addresses(doc)
    found: set[str] = set()
    if isinstance(body, dict):
        found.update(body.get("depends_on") or [])
    for expression in _EXPRESSION.findall(json.dumps(body)):
        found.update(address for address in _ADDRESS.findall(expression) if address in known)
    return found


def waits_for(doc: dict[str, Any], address: str) -> set[str]:
    """Everything ``address`` waits for, transitively (Terraform creates all of it first)."""
    known = _addresses(doc)
    seen: set[str] = set()
    todo = [address]
    while todo:
        for dependency in direct_dependencies(doc, known[todo.pop()]):
            if dependency not in seen:
                seen.add(dependency)
                todo.append(dependency)
    return seen


def kubernetes_objects(doc: dict[str, Any]) -> list[str]:
    """The address of every helm_release and kubernetes_* resource of a synthesized stack."""
    return sorted(
        f"{kind}.{name}"
        for kind, items in doc.get("resource", {}).items()
        if kind.startswith(KUBERNETES_TYPES)
        for name in items
    )
