"""ClusterIssuers: the Let's Encrypt issuers as a hardened raw-chart release after cert-manager; the layer and
the stacks wire them in and the services' Ingresses name them.
"""

from __future__ import annotations

import json

import cdktf
import pytest

from building_blocks.kubernetes.cluster_issuers import ClusterIssuers
from building_blocks.kubernetes.connection import ClusterConnection
from building_blocks.kubernetes.helm_chart import ChartVersion
from building_blocks.kubernetes.layer import KubernetesLayer
from building_blocks.kubernetes.platform_charts import CertManager
from infra.errors import ConfigError
from infra.registry import load_registry
from infra.settings import EnvironmentSettings
from infra.versions import load_release
from tests.blocks.kubernetes_helpers import (
    CERT_MANAGER,
    INGRESS,
    SIZES,
    assert_hardened,
    new_stack,
    only,
    release_values,
    resources,
    synth,
)

RAW = ChartVersion(
    chart="raw", repository="https://bedag.github.io/helm-charts/", version="2.0.2", namespace="cert-manager"
)
EMAIL = "platform-team@northwind.example"


def _issuer(name: str, server: str, ingress_class: str = "nginx") -> dict:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": name},
        "spec": {
            "acme": {
                "server": server,
                "email": EMAIL,
                "privateKeySecretRef": {"name": f"{name}-account-key"},
                "solvers": [{"http01": {"ingress": {"ingressClassName": ingress_class}}}],
            }
        },
    }


def _releases(doc: dict) -> dict[str, tuple[str, dict]]:
    """Helm release name → (logical id, body)."""
    return {body["name"]: (key, body) for key, body in resources(doc, "helm_release").items()}


def _build(**overrides):
    stack = new_stack()
    cert_manager = CertManager(stack, "cert_manager", chart=CERT_MANAGER, resources=SIZES)
    props = {"chart": RAW, "email": EMAIL, "cert_manager": cert_manager, **overrides}
    return stack, ClusterIssuers(stack, "issuers", **props)


# --- the block --------------------------------------------------------------------------------------------------


def test_issuers_with_only_required_inputs():
    stack, issuers = _build()
    doc = synth(stack)
    releases = _releases(doc)
    assert set(releases) == {"cert-manager", "cluster-issuers"}
    cert_manager_id, _ = releases["cert-manager"]
    _, release = releases["cluster-issuers"]
    assert_hardened(release, timeout=300)
    assert release["wait_for_jobs"] is True and release["reset_values"] is True
    assert (release["chart"], release["repository"], release["version"]) == (
        "raw",
        "https://bedag.github.io/helm-charts/",
        "2.0.2",
    )
    # In cert-manager's own namespace (the one namespace of this stack), after cert-manager's release.
    namespace_id = next(iter(resources(doc, "kubernetes_namespace_v1")))
    assert only(doc, "kubernetes_namespace_v1")["metadata"]["name"] == "cert-manager"
    assert release["namespace"] == f"${{kubernetes_namespace_v1.{namespace_id}.metadata[0].name}}"
    assert f"helm_release.{cert_manager_id}" in release["depends_on"]
    assert release_values(release) == {
        "resources": [
            _issuer("letsencrypt", "https://acme-v02.api.letsencrypt.org/directory"),
            _issuer("letsencrypt-staging", "https://acme-staging-v02.api.letsencrypt.org/directory"),
        ]
    }
    assert issuers.issuer_names == ("letsencrypt", "letsencrypt-staging")


def test_issuers_solve_through_the_given_ingress_class():
    stack, _ = _build(ingress_class="internal-nginx")
    _, release = _releases(synth(stack))["cluster-issuers"]
    solvers = [issuer["spec"]["acme"]["solvers"] for issuer in release_values(release)["resources"]]
    assert solvers == [[{"http01": {"ingress": {"ingressClassName": "internal-nginx"}}}]] * 2


def test_issuers_refuse_a_chart_that_is_not_a_chart_version():
    with pytest.raises(ValueError, match=r"^ClusterIssuers chart = '2.0.2'; allowed: a ChartVersion"):
        _build(chart="2.0.2")


def test_issuers_refuse_a_missing_cert_manager():
    with pytest.raises(ValueError, match=r"^ClusterIssuers cert_manager = None; allowed: the CertManager block"):
        _build(cert_manager=None)


def test_issuers_refuse_another_namespace_than_cert_managers():
    chart = ChartVersion(chart="raw", repository=RAW.repository, version="2.0.2", namespace="issuers")
    with pytest.raises(ValueError, match=r"^ClusterIssuers chart namespace = 'issuers'; allowed: cert-manager's"):
        _build(chart=chart)


@pytest.mark.parametrize(
    "email", ["", "platform-team", "team@localhost", "team @example.com", "a@b@example.com", None, "x" * 250 + "@a.io"]
)
def test_issuers_refuse_a_bad_email(email):
    with pytest.raises(ValueError, match=r"^ClusterIssuers email = .*; allowed: one email address"):
        _build(email=email)


@pytest.mark.parametrize("ingress_class", ["", "Nginx", "nginx_internal", None])
def test_issuers_refuse_a_bad_ingress_class(ingress_class):
    with pytest.raises(ValueError, match=r"^ClusterIssuers ingress_class = .*; allowed: an IngressClass name"):
        _build(ingress_class=ingress_class)


def test_issuers_refuse_an_unpinned_version():
    chart = ChartVersion(chart="raw", repository=RAW.repository, version="^2.0", namespace="cert-manager")
    with pytest.raises(ValueError, match=r"version = '\^2.0'; allowed: one exact chart version"):
        _build(chart=chart)


# --- the layer --------------------------------------------------------------------------------------------------

PLATFORM = {"ingress-nginx": INGRESS, "cert-manager": CERT_MANAGER, "cluster-issuers": RAW}
SERVICES = {"api": ChartVersion(chart="api", version="1.0.0", image_tag="1.0.0", namespace="product")}


def _layer(**overrides):
    stack = new_stack()
    path = cdktf.TerraformVariable(stack, "kubeconfig_path", type="string", default="~/.kube/config")
    props = {
        "connection": ClusterConnection.kubeconfig(config_path=path.string_value, config_context="lab"),
        "environment": "lab",
        "region": "westeurope",
        "dns_domain": "lab.northwind.example",
        "platform": PLATFORM,
        "resources": SIZES,
        "services": SERVICES,
        "registry": "registry.lab.example",
        "acme_email": EMAIL,
        **overrides,
    }
    return stack, KubernetesLayer(stack, "kubernetes", **props)


def _api_annotations(doc: dict) -> dict | None:
    _, api = _releases(doc)["api"]
    return release_values(api)["ingress"].get("annotations")


def test_layer_with_cluster_issuers_defaults_the_services_to_letsencrypt():
    stack, layer = _layer()
    doc = synth(stack)
    assert layer.cluster_issuers is not None and layer.cluster_issuer == "letsencrypt"
    assert _api_annotations(doc) == {"cert-manager.io/cluster-issuer": "letsencrypt"}
    issuers_id, _ = _releases(doc)["cluster-issuers"]
    # The product namespace (and so every release in it) waits for the issuers.
    product_ns = next(
        body for body in resources(doc, "kubernetes_namespace_v1").values() if body["metadata"]["name"] == "product"
    )
    assert f"helm_release.{issuers_id}" in product_ns["depends_on"]


def test_layer_takes_the_staging_issuer():
    stack, _ = _layer(cluster_issuer="letsencrypt-staging")
    assert _api_annotations(synth(stack)) == {"cert-manager.io/cluster-issuer": "letsencrypt-staging"}


def test_layer_without_cluster_issuers_sets_no_annotation():
    platform = {k: v for k, v in PLATFORM.items() if k != "cluster-issuers"}
    stack, layer = _layer(platform=platform, acme_email=None)
    doc = synth(stack)
    assert layer.cluster_issuers is None and layer.cluster_issuer is None
    assert "cluster-issuers" not in _releases(doc)
    assert _api_annotations(doc) is None


def test_layer_refuses_cluster_issuers_without_an_email():
    with pytest.raises(ValueError, match=r"^KubernetesLayer acme_email = None with cluster-issuers in platform"):
        _layer(acme_email=None)


def test_layer_refuses_an_issuer_it_does_not_create():
    with pytest.raises(
        ValueError,
        match=r"^KubernetesLayer cluster_issuer = 'vault'; allowed with cluster-issuers: letsencrypt, "
        "letsencrypt-staging$",
    ):
        _layer(cluster_issuer="vault")


# --- settings ---------------------------------------------------------------------------------------------------


def test_settings_tls_issuer_defaults_to_letsencrypt():
    settings = EnvironmentSettings(name="lab", kind="dev", address_space="10.10.0.0/16")
    assert settings.tls_issuer == "letsencrypt"


def test_settings_refuse_an_unknown_tls_issuer():
    allowed = r"field 'tls_issuer' = 'zerossl'; allowed: letsencrypt, letsencrypt-staging$"
    with pytest.raises(ConfigError, match=allowed):
        EnvironmentSettings(name="lab", kind="dev", address_space="10.10.0.0/16", tls_issuer="zerossl")


# --- the whole app ----------------------------------------------------------------------------------------------

ENVIRONMENTS = list(load_registry().environments)


@pytest.mark.parametrize("settings", ENVIRONMENTS, ids=lambda e: e.name)
def test_every_stack_with_cert_manager_gets_issuers_after_it(synthesized, settings):
    stack = synthesized.stacks[settings.name]
    releases = _releases(stack)
    assert "cert-manager" in releases, f"{settings.name}: no cert-manager release"
    assert "cluster-issuers" in load_release(settings.name).components
    cert_manager_id, _ = releases["cert-manager"]
    _, issuers = releases["cluster-issuers"]
    assert_hardened(issuers, timeout=300)
    assert f"helm_release.{cert_manager_id}" in issuers["depends_on"]
    owner = "platform-team@northwind.example"  # config/platform.toml [company] owner
    names = [(r["metadata"]["name"], r["spec"]["acme"]["email"]) for r in release_values(issuers)["resources"]]
    assert names == [("letsencrypt", owner), ("letsencrypt-staging", owner)]
    values = {name: json.loads(body["values"][0]) for name, (_, body) in releases.items() if body.get("values")}
    ingresses = {name: v["ingress"] for name, v in values.items() if v.get("ingress", {}).get("host")}
    if settings.deploy_product:
        assert ingresses, f"{settings.name}: no service with an Ingress"
    if settings.integrations:
        assert {spec.component for spec in settings.integrations} <= set(ingresses)
    for ingress in ingresses.values():
        assert ingress["annotations"] == {"cert-manager.io/cluster-issuer": settings.tls_issuer}
        assert ingress["tls"]["enabled"] is True
