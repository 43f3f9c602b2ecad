"""KubernetesLayer: the whole layer from a literal connection and plain data, and every error it raises."""

from __future__ import annotations

import cdktf
import pytest

from building_blocks.kubernetes.connection import ClusterConnection, kubelogin
from building_blocks.kubernetes.helm_chart import ChartVersion
from building_blocks.kubernetes.integration_specs import SsoBridge
from building_blocks.kubernetes.layer import KubernetesLayer
from building_blocks.kubernetes.platform_charts import AzureDnsProvider
from tests.blocks.kubernetes_helpers import (
    CERT_MANAGER,
    EXTERNAL_DNS,
    HOST,
    INGRESS,
    PEM,
    SIZES,
    assert_hardened,
    kubernetes_objects,
    new_stack,
    release_values,
    resources,
    synth,
    waits_for,
)

PLATFORM = {"ingress-nginx": INGRESS, "cert-manager": CERT_MANAGER}
SERVICES = {
    name: ChartVersion(chart=name, version="1.0.0", image_tag="1.0.0", namespace="product")
    for name in ("api", "web", "worker")
}
FACTS = {"environment": "lab", "region": "westeurope", "dns_domain": "lab.northwind.example"}
AZURE = AzureDnsProvider(
    tenant_id="t", subscription_id="s", resource_group="rg", client_id="22222222-2222-2222-2222-222222222222"
)


def _kubeconfig(stack):
    path = cdktf.TerraformVariable(stack, "kubeconfig_path", type="string", default="~/.kube/config")
    return ClusterConnection.kubeconfig(config_path=path.string_value, config_context="lab")


def _layer(stack, **overrides):
    props = {"connection": _kubeconfig(stack), "platform": PLATFORM, "resources": SIZES, **FACTS, **overrides}
    return KubernetesLayer(stack, "kubernetes", **props)


def test_layer_with_only_required_inputs():
    stack = new_stack()
    layer = _layer(stack)
    doc = synth(stack)
    releases = {body["name"]: body for body in resources(doc, "helm_release").values()}
    assert set(releases) == {"ingress-nginx", "cert-manager"}
    for release in releases.values():
        assert_hardened(release)
    assert layer.external_dns is None and layer.product is None and layer.integrations is None
    assert doc["provider"]["kubernetes"] == [
        {"config_path": "${var.kubeconfig_path}", "config_context": "lab"}
    ]


def test_layer_full_composition_on_a_kubeconfig_cluster():
    stack = new_stack()
    secret = cdktf.TerraformVariable(stack, "api_key", type="string", sensitive=True).string_value
    sso = SsoBridge(
        issuer_url="https://login.example/v2.0", client_id="x", allowed_email_domains=("contoso.com",)
    )
    _layer(
        stack,
        platform={**PLATFORM, "external-dns": EXTERNAL_DNS},
        external_dns=AZURE,
        services=SERVICES,
        registry="registry.lab.example:5000",
        secrets={"api-key": secret},
        integrations=[sso],
        integration_versions={
            "sso-bridge": ChartVersion(chart="sso-bridge", version="0.9.3", image_tag="0.9.3")
        },
        external_secrets={"sso-bridge-oidc-client-secret": secret},
    )
    doc = synth(stack)
    releases = {body["name"]: body for body in resources(doc, "helm_release").values()}
    assert set(releases) == {
        "ingress-nginx",
        "cert-manager",
        "external-dns",
        "api",
        "web",
        "worker",
        "sso-bridge",
    }
    for release in releases.values():
        assert_hardened(release)
    assert release_values(releases["api"])["ingress"]["host"] == "api.lab.northwind.example"
    assert release_values(releases["worker"])["ingress"] == {"enabled": False, "className": "nginx"}
    assert releases["api"]["repository"] == "oci://registry.lab.example:5000/helm"
    namespaces = {ns["metadata"]["name"]: ns for ns in resources(doc, "kubernetes_namespace_v1").values()}
    assert set(namespaces) == {"ingress-nginx", "cert-manager", "external-dns", "product", "integrations"}
    # the company's services wait for the ingress controller and cert-manager (through their namespace)
    ingress_id = next(k for k, v in resources(doc, "helm_release").items() if v["name"] == "ingress-nginx")
    assert f"helm_release.{ingress_id}" in namespaces["product"]["depends_on"]
    settings = [
        cm
        for cm in resources(doc, "kubernetes_config_map_v1").values()
        if cm["metadata"]["name"] == "platform-settings"
    ]
    assert len(settings) == 2  # product and integrations
    secrets = {body["metadata"]["name"] for body in resources(doc, "kubernetes_secret_v1").values()}
    assert secrets == {"platform-secrets", "sso-bridge-oidc"}  # product's; the integration's own


def test_layer_namespaces_wait_for_the_given_dependencies():
    stack = new_stack()
    gate = cdktf.TerraformVariable(stack, "gate", type="string")
    prerequisite = cdktf.TerraformLocal(stack, "prerequisite", gate.string_value)
    _layer(stack, depends_on=[prerequisite])
    for namespace in resources(synth(stack), "kubernetes_namespace_v1").values():
        assert namespace["depends_on"] == ["local.prerequisite"]


def test_every_object_of_the_layer_waits_for_the_given_dependencies():
    # GIVEN an opaque prerequisite (on AKS: the user node pool) and the fullest composition
    stack = new_stack()
    gate = cdktf.TerraformVariable(stack, "gate", type="string")
    prerequisite = cdktf.TerraformLocal(stack, "prerequisite", gate.string_value)
    secret = cdktf.TerraformVariable(stack, "api_key", type="string", sensitive=True).string_value
    _layer(
        stack,
        platform={**PLATFORM, "external-dns": EXTERNAL_DNS},
        external_dns=AZURE,
        services=SERVICES,
        registry="registry.lab.example",
        secrets={"api-key": secret},
        depends_on=[prerequisite],
    )
    doc = synth(stack)
    # THEN every helm_release and kubernetes_* object is created after it (directly or through its namespace)
    objects = kubernetes_objects(doc)
    assert len(objects) > 15
    assert [address for address in objects if "local.prerequisite" not in waits_for(doc, address)] == []


@pytest.mark.parametrize(
    ("service_type", "policy"), [("LoadBalancer", "Local"), ("NodePort", "Cluster")]
)
def test_layer_ingress_service_type(service_type, policy):
    stack = new_stack()
    _layer(stack, ingress_service_type=service_type)
    (ingress,) = [b for b in resources(synth(stack), "helm_release").values() if b["name"] == "ingress-nginx"]
    service = release_values(ingress)["controller"]["service"]
    assert (service["type"], service["externalTrafficPolicy"]) == (service_type, policy)


def test_layer_refuses_an_unknown_ingress_service_type():
    with pytest.raises(ValueError, match="ingress_service_type = 'ClusterIP'; allowed: LoadBalancer, NodePort"):
        _layer(new_stack(), ingress_service_type="ClusterIP")


def test_layer_refuses_missing_resources():
    with pytest.raises(ValueError, match="KubernetesLayer resources = None; allowed: a PlatformResources"):
        _layer(new_stack(), resources=None)


def test_layer_on_aks_style_connection():
    stack = new_stack()
    _layer(
        stack,
        connection=ClusterConnection.api_server(
            host=HOST, cluster_ca_certificate=PEM, exec_auth=kubelogin(login="workloadidentity")
        ),
    )
    helm = synth(stack)["provider"]["helm"][0]["kubernetes"]
    assert helm["exec"]["args"][2] == "workloadidentity" and helm["host"] == HOST


def test_layer_refuses_a_platform_without_ingress():
    with pytest.raises(ValueError, match=r"platform lacks \['ingress-nginx'\]"):
        _layer(new_stack(), platform={"cert-manager": CERT_MANAGER})


def test_layer_refuses_an_unknown_platform_component():
    with pytest.raises(ValueError, match=r"unknown components \['traefik'\]"):
        _layer(new_stack(), platform={**PLATFORM, "traefik": INGRESS})


def test_layer_refuses_external_dns_without_a_provider():
    with pytest.raises(ValueError, match="external-dns in platform = True but external_dns = None"):
        _layer(new_stack(), platform={**PLATFORM, "external-dns": EXTERNAL_DNS})


def test_layer_refuses_a_provider_without_external_dns():
    with pytest.raises(ValueError, match="external-dns in platform = False"):
        _layer(new_stack(), external_dns=AZURE)


def test_layer_refuses_services_without_a_registry():
    with pytest.raises(ValueError, match="registry = None with services"):
        _layer(new_stack(), services=SERVICES)


def test_layer_refuses_values_from_outside_without_integrations():
    with pytest.raises(ValueError, match=r"external_secrets \['x'\] without integrations"):
        _layer(new_stack(), external_secrets={"x": "${var.x}"})


def test_layer_refuses_integrations_in_a_product_namespace():
    sso = SsoBridge(
        issuer_url="https://login.example",
        client_id="x",
        allowed_email_domains=("contoso.com",),
        namespace="product",
    )
    with pytest.raises(ValueError, match=r"integrations use product namespaces \['product'\]"):
        _layer(
            new_stack(),
            services=SERVICES,
            registry="registry.lab.example",
            integrations=[sso],
            integration_versions={
                "sso-bridge": ChartVersion(chart="sso-bridge", version="0.9.3", image_tag="0.9.3")
            },
        )
