"""platform-settings, global secrets, the company's services and integration services."""

from __future__ import annotations

import json

import cdktf
import pytest

from building_blocks.kubernetes.helm_chart import ChartVersion
from building_blocks.kubernetes.integration_specs import ExternalSecret, IntegrationSpec, SsoBridge
from building_blocks.kubernetes.integrations import IntegrationServices
from building_blocks.kubernetes.namespace import Namespace
from building_blocks.kubernetes.platform_settings import GlobalSecrets, PlatformSettings
from building_blocks.kubernetes.product_services import ProductServices, ServiceRelease, deep_merge
from tests.blocks.kubernetes_helpers import assert_hardened, new_stack, only, release_values, resources, synth

FACTS = {
    "environment": "dev",
    "region": "westeurope",
    "dns_domain": "dev.northwind.example",
    "component_versions": {"api": "1.42.0", "ingress-nginx": "4.14.1"},
}
REGISTRY = "crnwtdev1a2b.azurecr.io"
API = ChartVersion(chart="api", version="1.42.0", image_tag="1.42.0-abc", namespace="product")
SSO = SsoBridge(
    issuer_url="https://login.microsoftonline.com/contoso/v2.0",
    client_id="sso-bridge-contoso",
    allowed_email_domains=("contoso.com",),
)


def _secret_ref(stack):
    return cdktf.TerraformVariable(stack, "api_key", type="string", sensitive=True).string_value


# --- PlatformSettings -----------------------------------------------------------------------------


def test_platform_settings_with_only_required_inputs():
    stack = new_stack()
    PlatformSettings(stack, "settings", namespace=Namespace(stack, "ns", name="product"), **FACTS)
    config_map = only(synth(stack), "kubernetes_config_map_v1")
    assert config_map["metadata"]["name"] == "platform-settings"
    assert config_map["metadata"]["namespace"].startswith("${kubernetes_namespace_v1.")
    assert config_map["data"] == {
        "ENVIRONMENT": "dev",
        "REGION": "westeurope",
        "DNS_DOMAIN": "dev.northwind.example",
        "COMPONENT_VERSIONS": '{"api": "1.42.0", "ingress-nginx": "4.14.1"}',
    }


def test_platform_settings_extra_keys():
    stack = new_stack()
    PlatformSettings(
        stack, "s", namespace=Namespace(stack, "ns", name="product"), extra={"FEATURE_X": "on"}, **FACTS
    )
    assert only(synth(stack), "kubernetes_config_map_v1")["data"]["FEATURE_X"] == "on"


def test_platform_settings_refuses_a_namespace_string():
    with pytest.raises(ValueError, match="PlatformSettings namespace = 'default'"):
        PlatformSettings(new_stack(), "s", namespace="default", **FACTS)  # type: ignore[arg-type]


def test_platform_settings_refuses_an_empty_fact():
    stack = new_stack()
    with pytest.raises(ValueError, match="PlatformSettings region = ''"):
        PlatformSettings(stack, "s", namespace=Namespace(stack, "ns", name="p"), **{**FACTS, "region": ""})


def test_platform_settings_refuses_a_floating_version():
    stack = new_stack()
    with pytest.raises(ValueError, match="component_versions 'api' = 'latest'"):
        PlatformSettings(
            stack,
            "s",
            namespace=Namespace(stack, "ns", name="p"),
            **{**FACTS, "component_versions": {"api": "latest"}},
        )


def test_platform_settings_refuses_replacing_a_standard_key():
    stack = new_stack()
    with pytest.raises(ValueError, match="extra key 'REGION' would replace a standard key"):
        PlatformSettings(
            stack, "s", namespace=Namespace(stack, "ns", name="p"), extra={"REGION": "x"}, **FACTS
        )


def test_platform_settings_refuses_a_bad_key():
    stack = new_stack()
    with pytest.raises(ValueError, match="key 'a b'"):
        PlatformSettings(stack, "s", namespace=Namespace(stack, "ns", name="p"), extra={"a b": "x"}, **FACTS)


# --- GlobalSecrets --------------------------------------------------------------------------------


def test_global_secrets_with_only_required_inputs():
    stack = new_stack()
    GlobalSecrets(
        stack,
        "secrets",
        namespace=Namespace(stack, "ns", name="product"),
        values={"api-key": _secret_ref(stack)},
    )
    secret = only(synth(stack), "kubernetes_secret_v1")
    assert secret["metadata"]["name"] == "platform-secrets"
    assert secret["metadata"]["namespace"].startswith("${kubernetes_namespace_v1.")
    assert secret["type"] == "Opaque"
    assert secret["data"] == {"api-key": "${var.api_key}"}
    assert "data_wo" not in secret


def test_global_secrets_write_only():
    stack = new_stack()
    GlobalSecrets(
        stack,
        "secrets",
        namespace=Namespace(stack, "ns", name="product"),
        values={"api-key": _secret_ref(stack)},
        write_only_revision=3,
    )
    secret = only(synth(stack), "kubernetes_secret_v1")
    assert secret["data_wo"] == {"api-key": "${var.api_key}"}
    assert secret["data_wo_revision"] == 3
    assert "data" not in secret


def test_global_secrets_refuse_a_literal_without_echoing_it():
    stack = new_stack()
    with pytest.raises(ValueError, match="value of 'api-key' is a literal") as error:
        GlobalSecrets(
            stack, "s", namespace=Namespace(stack, "ns", name="p"), values={"api-key": "hunter2hunter2"}
        )
    assert "hunter2" not in str(error.value)


def test_global_secrets_refuse_a_literal_around_a_reference():
    stack = new_stack()
    with pytest.raises(ValueError, match="is a literal"):
        GlobalSecrets(
            stack,
            "s",
            namespace=Namespace(stack, "ns", name="p"),
            values={"dsn": "postgres://admin:" + _secret_ref(stack)},
        )


def test_global_secrets_refuse_no_values():
    stack = new_stack()
    with pytest.raises(ValueError, match=r"values = {}; allowed: at least one"):
        GlobalSecrets(stack, "s", namespace=Namespace(stack, "ns", name="p"), values={})


def test_global_secrets_refuse_a_bad_name():
    stack = new_stack()
    with pytest.raises(ValueError, match="GlobalSecrets name = 'Secrets'"):
        GlobalSecrets(
            stack,
            "s",
            namespace=Namespace(stack, "ns", name="p"),
            values={"k": _secret_ref(stack)},
            name="Secrets",
        )


def test_global_secrets_refuse_a_bad_revision():
    stack = new_stack()
    with pytest.raises(ValueError, match="write_only_revision = 0"):
        GlobalSecrets(
            stack,
            "s",
            namespace=Namespace(stack, "ns", name="p"),
            values={"k": _secret_ref(stack)},
            write_only_revision=0,
        )


def test_global_secrets_refuse_a_namespace_string():
    stack = new_stack()
    with pytest.raises(ValueError, match="namespace = 'default'"):
        GlobalSecrets(stack, "s", namespace="default", values={"k": _secret_ref(stack)})  # type: ignore[arg-type]


# --- ProductServices ------------------------------------------------------------------------------


def _product(stack, **overrides):
    props = {
        "registry": REGISTRY,
        "services": [ServiceRelease(name="api", chart=API, host="api.dev.northwind.example")],
        **FACTS,
        **overrides,
    }
    return ProductServices(stack, "product", **props)


def test_product_with_only_required_inputs():
    stack = new_stack()
    _product(stack)
    doc = synth(stack)
    release = only(doc, "helm_release")
    assert_hardened(release)
    assert release["repository"] == f"oci://{REGISTRY}/helm"
    assert (release["chart"], release["version"]) == ("api", "1.42.0")
    assert release_values(release) == {
        "image": {"registry": REGISTRY, "repository": "api", "tag": "1.42.0-abc"},
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "host": "api.dev.northwind.example",
            "tls": {"enabled": True, "secretName": "api-tls"},
        },
        "platformSettings": {"configMapName": "platform-settings", "secretName": None},
    }
    (cm_id,) = resources(doc, "kubernetes_config_map_v1")
    assert f"kubernetes_config_map_v1.{cm_id}" in release["depends_on"]
    assert resources(doc, "kubernetes_secret_v1") == {}
    assert only(doc, "kubernetes_namespace_v1")["metadata"]["name"] == "product"


def test_product_secrets_land_in_every_product_namespace_before_the_releases():
    stack = new_stack()
    worker = ServiceRelease(
        name="worker",
        chart=ChartVersion(chart="worker", version="1.0.0", image_tag="1.0.0"),
        namespace="jobs",
    )
    _product(
        stack,
        services=[ServiceRelease(name="api", chart=API), worker],
        secrets={"api-key": _secret_ref(stack)},
        cluster_issuer="letsencrypt",
    )
    doc = synth(stack)
    secrets = resources(doc, "kubernetes_secret_v1")
    assert len(secrets) == 2 and len(resources(doc, "kubernetes_config_map_v1")) == 2
    for release in resources(doc, "helm_release").values():
        assert any(d.startswith("kubernetes_secret_v1.") for d in release["depends_on"])
        assert release_values(release)["platformSettings"]["secretName"] == "platform-secrets"
        assert release_values(release)["ingress"] == {"enabled": False, "className": "nginx"}


def test_product_chart_repository_override_and_value_merge():
    stack = new_stack()
    chart = ChartVersion(
        chart="api", version="1.0.0", image_tag="1.0.0", repository="oci://other.example/charts"
    )
    _product(
        stack, services=[ServiceRelease(name="api", chart=chart, values={"image": {"pullPolicy": "Always"}})]
    )
    release = only(synth(stack), "helm_release")
    assert release["repository"] == "oci://other.example/charts"
    assert release_values(release)["image"] == {
        "registry": REGISTRY,
        "repository": "api",
        "tag": "1.0.0",
        "pullPolicy": "Always",
    }


def test_deep_merge_merges_mappings_and_replaces_the_rest():
    assert deep_merge({"a": {"b": 1, "c": [1]}}, {"a": {"c": [2]}, "d": 3}) == {
        "a": {"b": 1, "c": [2]},
        "d": 3,
    }


def test_product_refuses_a_registry_with_a_scheme():
    with pytest.raises(ValueError, match=r"registry = 'https://crnwt.azurecr.io'"):
        _product(new_stack(), registry="https://crnwt.azurecr.io")


def test_product_refuses_no_services():
    with pytest.raises(ValueError, match=r"services = \[\]"):
        _product(new_stack(), services=[])


def test_product_refuses_duplicate_names():
    with pytest.raises(ValueError, match=r"services name \['api'\] more than once"):
        _product(new_stack(), services=[ServiceRelease(name="api", chart=API)] * 2)


@pytest.mark.parametrize("tag", [None, "", "latest"])
def test_product_refuses_a_floating_image_tag(tag):
    chart = ChartVersion(chart="api", version="1.0.0", image_tag=tag)
    with pytest.raises(ValueError, match=r"image_tag = .*; allowed: an exact image tag"):
        _product(new_stack(), services=[ServiceRelease(name="api", chart=chart)])


def test_product_refuses_an_unpinned_chart():
    chart = ChartVersion(chart="api", version="1.x", image_tag="1.0.0")
    with pytest.raises(ValueError, match=r"version = '1.x'"):
        _product(new_stack(), services=[ServiceRelease(name="api", chart=chart)])


def test_product_refuses_a_bad_host():
    with pytest.raises(ValueError, match=r"host = 'API.example'"):
        _product(new_stack(), services=[ServiceRelease(name="api", chart=API, host="API.example")])


def test_product_refuses_a_bad_service_name():
    with pytest.raises(ValueError, match="service name = 'Api'"):
        _product(new_stack(), services=[ServiceRelease(name="Api", chart=API)])


def test_product_refuses_a_service_that_is_not_a_release():
    with pytest.raises(ValueError, match="service 'api'; allowed: a ServiceRelease"):
        _product(new_stack(), services=["api"])


def test_product_refuses_a_chart_that_is_not_a_chart_version():
    with pytest.raises(ValueError, match=r"chart = '1.0.0'"):
        _product(new_stack(), services=[ServiceRelease(name="api", chart="1.0.0")])  # type: ignore[arg-type]


def test_product_refuses_yaml_values():
    with pytest.raises(ValueError, match="values = str"):
        _product(new_stack(), services=[ServiceRelease(name="api", chart=API, values="a: 1")])  # type: ignore[arg-type]


def test_product_refuses_the_default_namespace():
    with pytest.raises(ValueError, match="Namespace name = 'default' is reserved"):
        _product(new_stack(), services=[ServiceRelease(name="api", chart=API, namespace="default")])


# --- Integrations ---------------------------------------------------------------------------------


def test_sso_bridge_values_come_from_its_typed_config():
    assert SSO.values() == {
        "replicaCount": 2,
        "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
        "config": {
            "oidc": {
                "issuerUrl": "https://login.microsoftonline.com/contoso/v2.0",
                "clientId": "sso-bridge-contoso",
                "clientSecretRef": {"name": "sso-bridge-oidc", "key": "client-secret"},
            },
            "allowedEmailDomains": ["contoso.com"],
            "sessionLifetimeMinutes": 480,
        },
    }


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("issuer_url", "http://login.example", "field 'issuer_url'"),
        ("client_id", "", "field 'client_id'"),
        ("allowed_email_domains", (), "field 'allowed_email_domains'"),
        ("allowed_email_domains", ["contoso.com"], "field 'allowed_email_domains'"),
        ("replicas", 0, "field 'replicas' = 0"),
        ("session_lifetime_minutes", 2000, "field 'session_lifetime_minutes' = 2000"),
        ("namespace", "default", "field 'namespace' = 'default'"),
        ("host_label", "SSO", "field 'host_label' = 'SSO'"),
    ],
)
def test_sso_bridge_refuses_bad_config(field, value, message):
    props = {
        "issuer_url": "https://login.example",
        "client_id": "x",
        "allowed_email_domains": ("contoso.com",),
        field: value,
    }
    with pytest.raises(ValueError, match=message):
        SsoBridge(**props)


def test_integration_spec_base_needs_a_component():
    with pytest.raises(ValueError, match="class attribute 'component' = ''"):
        IntegrationSpec()


SSO_VERSION = {"sso-bridge": ChartVersion(chart="sso-bridge", version="0.9.3", image_tag="0.9.3")}


def _client_secret(stack):
    return cdktf.TerraformVariable(stack, "oidc_client_secret", type="string", sensitive=True).string_value


def test_integration_services_with_only_required_inputs():
    stack = new_stack()
    IntegrationServices(
        stack,
        "integrations",
        integrations=[SSO],
        registry=REGISTRY,
        versions=SSO_VERSION,
        external_secrets={"sso-bridge-oidc-client-secret": _client_secret(stack)},
        **FACTS,
    )
    doc = synth(stack)
    release = only(doc, "helm_release")
    assert_hardened(release)
    assert (release["name"], release["version"], release["repository"]) == (
        "sso-bridge",
        "0.9.3",
        f"oci://{REGISTRY}/helm",
    )
    values = release_values(release)
    assert values["config"]["allowedEmailDomains"] == ["contoso.com"]
    assert values["ingress"]["host"] == "sso.dev.northwind.example"
    assert values["image"]["tag"] == "0.9.3"
    assert only(doc, "kubernetes_namespace_v1")["metadata"]["name"] == "integrations"
    assert json.loads(only(doc, "kubernetes_config_map_v1")["data"]["COMPONENT_VERSIONS"])["api"] == "1.42.0"
    # no product secrets; only the Secret the chart reads its OIDC client secret from
    ((secret_id, secret),) = resources(doc, "kubernetes_secret_v1").items()
    assert secret["metadata"]["name"] == values["config"]["oidc"]["clientSecretRef"]["name"] == "sso-bridge-oidc"
    assert secret["metadata"]["namespace"] == release["namespace"]
    assert secret["data"] == {"client-secret": "${var.oidc_client_secret}"}
    assert values["config"]["oidc"]["clientSecretRef"]["key"] == "client-secret"
    assert f"kubernetes_secret_v1.{secret_id}" in release["depends_on"]  # no pod starts without it


def test_sso_bridge_names_its_value_from_outside():
    (external,) = SSO.external_secrets()
    assert (external.secret_name, external.key, external.store_name) == (
        "sso-bridge-oidc", "client-secret", "sso-bridge-oidc-client-secret"
    )
    assert "identity provider" in external.description


def test_integration_services_refuse_a_missing_value_from_outside():
    with pytest.raises(ValueError, match=r"integration 'sso-bridge' needs the value from outside "
                                         r"'sso-bridge-oidc-client-secret' \(the OIDC client secret"):
        IntegrationServices(new_stack(), "i", integrations=[SSO], versions=SSO_VERSION, registry=REGISTRY, **FACTS)


def test_integration_services_refuse_a_value_no_integration_needs():
    stack = new_stack()
    with pytest.raises(ValueError, match=r"external_secrets \['typo'\] are needed by no integration; allowed: "
                                         r"sso-bridge-oidc-client-secret"):
        IntegrationServices(
            stack, "i", integrations=[SSO], versions=SSO_VERSION, registry=REGISTRY,
            external_secrets={"sso-bridge-oidc-client-secret": _client_secret(stack), "typo": "${x}"}, **FACTS,
        )


def test_integration_services_refuse_a_literal_value_from_outside():
    with pytest.raises(ValueError, match=r"value of 'client-secret' is a literal \(str\); allowed: a Terraform "
                                         r"reference only"):
        IntegrationServices(
            new_stack(), "i", integrations=[SSO], versions=SSO_VERSION, registry=REGISTRY,
            external_secrets={"sso-bridge-oidc-client-secret": "hunter2"}, **FACTS,
        )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("secret_name", "Bad_Name", "field 'secret_name' = 'Bad_Name'"),
        ("key", "a b", "field 'key' = 'a b'"),
        ("store_name", "kv/secret", "field 'store_name' = 'kv/secret'; allowed: 1-127 lowercase"),
        ("description", " ", "field 'description' = ' '"),
    ],
)
def test_external_secret_refuses_bad_fields(field, value, message):
    props = {"secret_name": "s", "key": "k", "store_name": "s-k", "description": "a value", field: value}
    with pytest.raises(ValueError, match=message):
        ExternalSecret(**props)


def test_product_services_refuse_two_secrets_with_one_name_in_a_namespace():
    stack = new_stack()
    ref = _secret_ref(stack)
    with pytest.raises(ValueError, match=r"Secret \['product/platform-secrets'\] made more than once"):
        ProductServices(
            stack, "p", registry=REGISTRY,
            services=[ServiceRelease(name="api", chart=API, secrets={"platform-secrets": {"k": ref}})],
            secrets={"api-key": ref}, **FACTS,
        )


def test_integration_services_refuse_a_missing_version():
    with pytest.raises(ValueError, match="integration 'sso-bridge' has no version"):
        IntegrationServices(new_stack(), "i", integrations=[SSO], versions={}, registry=REGISTRY, **FACTS)


def test_integration_services_refuse_no_integrations():
    with pytest.raises(ValueError, match=r"integrations = \[\]"):
        IntegrationServices(new_stack(), "i", integrations=[], versions={}, registry=REGISTRY, **FACTS)


def test_integration_services_refuse_something_that_is_not_a_spec():
    with pytest.raises(ValueError, match="integration 'sso-bridge'; allowed: an IntegrationSpec"):
        IntegrationServices(
            new_stack(), "i", integrations=["sso-bridge"], versions={}, registry=REGISTRY, **FACTS
        )
