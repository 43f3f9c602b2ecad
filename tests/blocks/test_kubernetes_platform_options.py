"""Typed platform options: container resources (requests and memory limits) and the ingress Service type —
their validation, the defaults in infra/settings.py, and how each environment resolves them."""

from __future__ import annotations

import dataclasses

import pytest

from building_blocks.kubernetes.platform_options import ContainerResources
from infra.errors import ConfigError
from infra.settings import DEFAULT_PLATFORM_RESOURCES, EnvironmentSettings
from tests.blocks.kubernetes_helpers import SIZES

DEV = {"name": "lab", "kind": "dev", "address_space": "10.10.0.0/16"}


def test_container_resources_as_kubernetes_values():
    resources = ContainerResources(cpu_request="0.5", memory_request="256Mi", memory_limit="1Gi")
    assert resources.values() == {"requests": {"cpu": "0.5", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"cpu_request": "100"}, None),  # whole cores are fine
        ({"cpu_request": "100 m"}, "cpu_request = '100 m'; allowed: millicores such as '100m'"),
        ({"cpu_request": ""}, "cpu_request = ''"),
        ({"memory_request": "128MB"}, "memory_request = '128MB'; allowed: a memory quantity with a binary suffix"),
        ({"memory_limit": "512"}, "memory_limit = '512'"),
        ({"memory_limit": "64Mi"}, "memory_limit = '64Mi' is below memory_request = '128Mi'; allowed: a limit ≥"),
    ],
)
def test_container_resources_validation(fields, message):
    props = {"cpu_request": "100m", "memory_request": "128Mi", "memory_limit": "512Mi", **fields}
    if message is None:
        ContainerResources(**props)
        return
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ContainerResources(**props)


def test_platform_resources_needs_container_resources_everywhere():
    with pytest.raises(ValueError, match=r"PlatformResources external_dns = \{'cpu': '10m'\}; allowed: a "):
        dataclasses.replace(SIZES, external_dns={"cpu": "10m"})


def test_every_default_has_requests_and_a_memory_limit():
    for field in dataclasses.fields(DEFAULT_PLATFORM_RESOURCES):
        values = getattr(DEFAULT_PLATFORM_RESOURCES, field.name).values()
        assert values["requests"]["cpu"] and values["requests"]["memory"], field.name
        assert set(values["limits"]) == {"memory"}, field.name  # no CPU limit: no throttling


def test_settings_default_and_override_per_environment():
    assert EnvironmentSettings(**DEV).platform_resources is DEFAULT_PLATFORM_RESOURCES
    bigger = ContainerResources(cpu_request="500m", memory_request="512Mi", memory_limit="2Gi")
    settings = EnvironmentSettings(
        **DEV, platform_resources=dataclasses.replace(DEFAULT_PLATFORM_RESOURCES, ingress_controller=bigger)
    )
    assert settings.platform_resources.ingress_controller == bigger
    assert settings.platform_resources.external_dns == DEFAULT_PLATFORM_RESOURCES.external_dns


def test_settings_refuse_resources_that_are_not_typed():
    with pytest.raises(ConfigError, match=r"field 'platform_resources' = \{\}; allowed: a PlatformResources"):
        EnvironmentSettings(**DEV, platform_resources={})


def test_ingress_service_type_defaults_by_kind():
    assert EnvironmentSettings(**DEV).ingress_service_type == "LoadBalancer"
    external = EnvironmentSettings(name="lab", kind="external", kubeconfig_context="lab", deploy_product=False)
    assert external.ingress_service_type == "NodePort"
    with_lb = EnvironmentSettings(
        name="lab", kind="external", kubeconfig_context="lab", deploy_product=False,
        ingress_service_type="LoadBalancer",
    )
    assert with_lb.ingress_service_type == "LoadBalancer"


def test_settings_refuse_an_unknown_ingress_service_type():
    with pytest.raises(ConfigError, match=r"field 'ingress_service_type' = 'ClusterIP'; allowed: LoadBalancer, "
                                          r"NodePort, or None$"):
        EnvironmentSettings(name="lab", kind="external", kubeconfig_context="lab", deploy_product=False,
                            ingress_service_type="ClusterIP")  # type: ignore[arg-type]


def test_settings_refuse_a_node_port_on_aks():
    with pytest.raises(ConfigError, match=r"field 'ingress_service_type' = 'NodePort'; allowed: LoadBalancer for "
                                          r"kind dev \(AKS"):
        EnvironmentSettings(**DEV, ingress_service_type="NodePort")
