"""Shared helpers of the Kubernetes layer tests: a fresh stack, literal inputs, synthesis to parsed JSON."""

from __future__ import annotations

import json
from typing import Any

import cdktf

from building_blocks.kubernetes.helm_chart import ChartVersion

PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ\n-----END CERTIFICATE-----\n"
HOST = "https://aks-nwt-dev.hcp.westeurope.azmk8s.io:443"
INGRESS = ChartVersion(
    chart="ingress-nginx", repository="https://kubernetes.github.io/ingress-nginx", version="4.14.1"
)
CERT_MANAGER = ChartVersion(chart="cert-manager", repository="https://charts.jetstack.io", version="v1.19.1")
EXTERNAL_DNS = ChartVersion(
    chart="external-dns", repository="https://kubernetes-sigs.github.io/external-dns/", version="1.20.0"
)


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
