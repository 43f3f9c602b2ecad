"""ingress-nginx, cert-manager and external-dns: hardened releases, their values, and every error."""

from __future__ import annotations

import json

import pytest

from building_blocks.kubernetes.helm_chart import ChartVersion
from building_blocks.kubernetes.platform_charts import (
    AzureDnsProvider,
    CertManager,
    ExternalDns,
    IngressNginx,
)
from tests.blocks.kubernetes_helpers import (
    CERT_MANAGER,
    EXTERNAL_DNS,
    INGRESS,
    SIZES,
    assert_hardened,
    new_stack,
    only,
    release_values,
    sized,
    synth,
)

AZURE = AzureDnsProvider(
    tenant_id="00000000-0000-0000-0000-000000000000",
    subscription_id="11111111-1111-1111-1111-111111111111",
    resource_group="rg-dns",
    client_id="22222222-2222-2222-2222-222222222222",
)


def _namespace_name(doc):
    return only(doc, "kubernetes_namespace_v1")["metadata"]["name"]


# --- IngressNginx ---------------------------------------------------------------------------------


def test_ingress_with_only_required_inputs():
    stack = new_stack()
    IngressNginx(stack, "ingress", chart=INGRESS, resources=SIZES)
    doc = synth(stack)
    release = only(doc, "helm_release")
    assert_hardened(release)
    assert (release["chart"], release["repository"], release["version"]) == (
        "ingress-nginx",
        "https://kubernetes.github.io/ingress-nginx",
        "4.14.5",
    )
    assert _namespace_name(doc) == "ingress-nginx"
    controller = release_values(release)["controller"]
    assert controller["replicaCount"] == 2
    assert controller["minAvailable"] == 1
    assert controller["allowSnippetAnnotations"] is False
    assert controller["config"]["allow-snippet-annotations"] == "false"
    assert controller["config"]["server-tokens"] == "false"
    assert controller["config"]["ssl-protocols"] == "TLSv1.2 TLSv1.3"
    assert controller["service"] == {"type": "LoadBalancer", "externalTrafficPolicy": "Local", "annotations": {}}
    assert controller["resources"] == sized(101) == {
        "requests": {"cpu": "101m", "memory": "101Mi"},
        "limits": {"memory": "202Mi"},
    }
    assert controller["admissionWebhooks"] == {
        "enabled": True,
        "createSecretJob": {"resources": sized(102)},
        "patchWebhookJob": {"resources": sized(102)},
    }
    assert controller["ingressClassResource"] == {"name": "nginx", "enabled": True, "default": True}
    assert controller["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"


def test_ingress_single_replica_has_no_disruption_budget_and_gets_annotations():
    stack = new_stack()
    annotation = {"service.beta.kubernetes.io/azure-load-balancer-health-probe-request-path": "/healthz"}
    IngressNginx(stack, "ingress", chart=INGRESS, resources=SIZES, replicas=1, service_annotations=annotation)
    controller = release_values(only(synth(stack), "helm_release"))["controller"]
    assert "minAvailable" not in controller and "topologySpreadConstraints" not in controller
    assert controller["service"]["annotations"] == annotation


def test_ingress_as_a_node_port():
    stack = new_stack()
    ingress = IngressNginx(
        stack, "ingress", chart=INGRESS, resources=SIZES, service_type="NodePort", external_traffic_policy="Cluster"
    )
    controller = release_values(only(synth(stack), "helm_release"))["controller"]
    assert controller["service"] == {"type": "NodePort", "externalTrafficPolicy": "Cluster", "annotations": {}}
    assert ingress.service_type == "NodePort"


def test_ingress_refuses_an_unknown_service_type():
    with pytest.raises(ValueError, match="IngressNginx service_type = 'ClusterIP'; allowed: LoadBalancer, NodePort"):
        IngressNginx(new_stack(), "ingress", chart=INGRESS, resources=SIZES, service_type="ClusterIP")  # type: ignore[arg-type]


@pytest.mark.parametrize("block", ["IngressNginx", "CertManager", "ExternalDns"])
def test_every_platform_chart_requires_resources(block):
    with pytest.raises(ValueError, match=rf"{block} resources = None; allowed: a PlatformResources"):
        if block == "IngressNginx":
            IngressNginx(new_stack(), "x", chart=INGRESS, resources=None)  # type: ignore[arg-type]
        elif block == "CertManager":
            CertManager(new_stack(), "x", chart=CERT_MANAGER, resources=None)  # type: ignore[arg-type]
        else:
            _external_dns(resources=None)


def test_ingress_refuses_a_chart_that_is_not_a_chart_version():
    with pytest.raises(ValueError, match=r"IngressNginx chart = '4.14.1'"):
        IngressNginx(new_stack(), "ingress", chart="4.14.1", resources=SIZES)  # type: ignore[arg-type]


@pytest.mark.parametrize("replicas", [0, 11, True])
def test_ingress_refuses_replicas_out_of_bounds(replicas):
    with pytest.raises(ValueError, match=r"IngressNginx replicas = .*; allowed: an integer from 1 to 10"):
        IngressNginx(new_stack(), "ingress", chart=INGRESS, resources=SIZES, replicas=replicas)


def test_ingress_refuses_an_unknown_traffic_policy():
    with pytest.raises(ValueError, match="external_traffic_policy = 'Any'"):
        IngressNginx(new_stack(), "ingress", chart=INGRESS, resources=SIZES, external_traffic_policy="Any")  # type: ignore[arg-type]


def test_ingress_refuses_non_string_annotations():
    with pytest.raises(ValueError, match="service_annotations 'a' = 1"):
        IngressNginx(new_stack(), "ingress", chart=INGRESS, resources=SIZES, service_annotations={"a": 1})  # type: ignore[dict-item]


def test_ingress_refuses_an_unpinned_chart():
    with pytest.raises(ValueError, match="version = 'latest'"):
        IngressNginx(
            new_stack(),
            "ingress",
            chart=ChartVersion(chart="ingress-nginx", version="latest", repository="https://x.example"),
            resources=SIZES,
        )


def test_ingress_refuses_the_default_namespace():
    with pytest.raises(ValueError, match="Namespace name = 'default' is reserved"):
        IngressNginx(new_stack(), "ingress", chart=INGRESS, resources=SIZES, namespace="default")


# --- CertManager ----------------------------------------------------------------------------------


def test_cert_manager_with_only_required_inputs():
    stack = new_stack()
    CertManager(stack, "cm", chart=CERT_MANAGER, resources=SIZES)
    doc = synth(stack)
    release = only(doc, "helm_release")
    assert_hardened(release)
    assert release["version"] == "v1.19.6"
    assert _namespace_name(doc) == "cert-manager"
    values = release_values(release)
    assert values["crds"] == {"enabled": True, "keep": True}
    assert "installCRDs" not in values
    assert values["global"]["leaderElection"]["namespace"] == "cert-manager"
    assert values["podDisruptionBudget"] == {"enabled": True, "minAvailable": 1}
    assert "serviceAccount" not in values
    assert values["resources"] == sized(103)
    assert values["webhook"]["resources"] == sized(104)
    assert values["cainjector"]["resources"] == sized(105)
    assert values["startupapicheck"] == {"resources": sized(106)}


def test_cert_manager_before_1_15_uses_install_crds():
    stack = new_stack()
    CertManager(
        stack,
        "cm",
        chart=ChartVersion(chart="cert-manager", repository="https://charts.jetstack.io", version="v1.14.5"),
        resources=SIZES,
    )
    values = release_values(only(synth(stack), "helm_release"))
    assert values["installCRDs"] is True and "crds" not in values


def test_cert_manager_with_workload_identity():
    stack = new_stack()
    CertManager(stack, "cm", chart=CERT_MANAGER, resources=SIZES, workload_identity_client_id=AZURE.client_id)
    values = release_values(only(synth(stack), "helm_release"))
    assert values["serviceAccount"]["labels"] == {"azure.workload.identity/use": "true"}
    assert values["podLabels"] == {"azure.workload.identity/use": "true"}


def test_cert_manager_refuses_a_client_id_that_is_not_a_guid():
    with pytest.raises(ValueError, match="workload_identity_client_id = 'me'"):
        CertManager(new_stack(), "cm", chart=CERT_MANAGER, resources=SIZES, workload_identity_client_id="me")


def test_cert_manager_refuses_replicas_out_of_bounds():
    with pytest.raises(ValueError, match="CertManager replicas = 0"):
        CertManager(new_stack(), "cm", chart=CERT_MANAGER, resources=SIZES, replicas=0)


def test_cert_manager_refuses_a_chart_that_is_not_a_chart_version():
    with pytest.raises(ValueError, match="CertManager chart = None"):
        CertManager(new_stack(), "cm", chart=None, resources=SIZES)  # type: ignore[arg-type]


# --- ExternalDns ----------------------------------------------------------------------------------


def _external_dns(**overrides):
    stack = new_stack()
    props = {
        "chart": EXTERNAL_DNS,
        "domain_filters": ["dev.northwind.example"],
        "txt_owner_id": "dev",
        "azure": AZURE,
        "resources": SIZES,
        **overrides,
    }
    ExternalDns(stack, "dns", **props)
    return synth(stack)


def test_external_dns_with_only_required_inputs():
    doc = _external_dns()
    release = only(doc, "helm_release")
    assert_hardened(release)
    values = release_values(release)
    assert values["provider"] == {"name": "azure"}
    assert values["domainFilters"] == ["dev.northwind.example"]
    assert values["policy"] == "sync"
    assert values["registry"] == "txt" and values["txtOwnerId"] == "dev"
    assert values["serviceAccount"]["name"] == "external-dns"
    assert values["serviceAccount"]["annotations"] == {"azure.workload.identity/client-id": AZURE.client_id}
    assert values["podLabels"] == {"azure.workload.identity/use": "true"}
    assert values["resources"] == sized(107)
    namespace = only(doc, "kubernetes_namespace_v1")["metadata"]
    assert namespace["name"] == "external-dns"
    assert namespace["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_external_dns_azure_config_holds_ids_only_and_comes_first():
    doc = _external_dns()
    assert "kubernetes_secret_v1" not in doc["resource"]  # ids only: nothing secret to keep
    ((config_id, config),) = doc["resource"]["kubernetes_config_map_v1"].items()
    assert json.loads(config["data"]["azure.json"]) == {
        "tenantId": AZURE.tenant_id,
        "subscriptionId": AZURE.subscription_id,
        "resourceGroup": "rg-dns",
        "useWorkloadIdentityExtension": True,
    }
    assert config["metadata"]["namespace"].startswith("${kubernetes_namespace_v1.")
    assert f"kubernetes_config_map_v1.{config_id}" in only(doc, "helm_release")["depends_on"]
    assert release_values(only(doc, "helm_release"))["extraVolumes"] == [
        {"name": "azure-config-file", "configMap": {"name": "external-dns-azure"}}
    ]


def test_external_dns_subject_for_the_federated_credential():
    assert ExternalDns.service_account_subject() == "system:serviceaccount:external-dns:external-dns"


def test_external_dns_refuses_no_domain_filter():
    with pytest.raises(ValueError, match=r"domain_filters = \[\]"):
        _external_dns(domain_filters=[])


def test_external_dns_refuses_a_bad_owner_id():
    with pytest.raises(ValueError, match="txt_owner_id = 'Dev Env'"):
        _external_dns(txt_owner_id="Dev Env")


def test_external_dns_refuses_an_unknown_policy():
    with pytest.raises(ValueError, match="policy = 'create-only'; allowed: sync, upsert-only"):
        _external_dns(policy="create-only")


def test_external_dns_refuses_a_provider_that_is_not_azure_config():
    with pytest.raises(ValueError, match=r"ExternalDns azure = {}"):
        _external_dns(azure={})


def test_external_dns_refuses_a_bad_client_id():
    with pytest.raises(ValueError, match="workload_identity_client_id = 'secret'"):
        _external_dns(
            azure=AzureDnsProvider(tenant_id="t", subscription_id="s", resource_group="r", client_id="secret")
        )
