"""The Kubernetes layer as composed into every environment (whole app, synthesized once per session)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from infra.errors import ConfigError
from infra.versions import load_release
from tests.blocks.kubernetes_helpers import assert_hardened, kubernetes_objects, release_values, waits_for
from tests.conftest import stack_names

ENVIRONMENTS = [name for name in stack_names() if name != "bootstrap"]
KUBERNETES_KINDS_WITH_NAMESPACE = ("kubernetes_config_map_v1", "kubernetes_secret_v1")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_release_is_hardened(synthesized, environment):
    releases = synthesized.resources(environment, "helm_release")
    assert releases, f"{environment} deploys no chart"
    for release in releases.values():
        assert_hardened(release, timeout=release["timeout"])
        assert 1 <= release["max_history"] <= 20
        assert 60 <= release["timeout"] <= 3600


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_nothing_goes_into_the_default_namespace(synthesized, environment):
    namespaces = {
        body["metadata"]["name"]
        for body in synthesized.resources(environment, "kubernetes_namespace_v1").values()
    }
    assert "default" not in namespaces and not any(n.startswith("kube-") for n in namespaces)
    for kind in KUBERNETES_KINDS_WITH_NAMESPACE:
        for body in synthesized.resources(environment, kind).values():
            assert body["metadata"]["namespace"].startswith("${kubernetes_namespace_v1."), body["metadata"]


@pytest.mark.parametrize("environment", [e for e in ENVIRONMENTS if e != "onprem"])
def test_every_kubernetes_object_waits_for_the_user_node_pool(synthesized, environment):
    # The system pool is tainted CriticalAddonsOnly=true:NoSchedule (only_critical_addons_enabled: azurerm
    # v4.55.0 internal/services/containers/kubernetes_nodepool.go) and no chart tolerates it: on a new cluster
    # nothing may be created before the user pool, or pods stay Pending against the atomic timeouts.
    (cluster,) = synthesized.resources(environment, "azurerm_kubernetes_cluster").values()
    assert cluster["default_node_pool"]["only_critical_addons_enabled"] is True
    (pool_id,) = synthesized.resources(environment, "azurerm_kubernetes_cluster_node_pool")
    pool = f"azurerm_kubernetes_cluster_node_pool.{pool_id}"
    assert synthesized.resources(environment, "azurerm_kubernetes_cluster_node_pool")[pool_id]["mode"] == "User"
    stack = synthesized.stacks[environment]
    objects = kubernetes_objects(stack)
    assert len(objects) > 10
    late = [address for address in objects if pool not in waits_for(stack, address)]
    assert not late, f"{environment}: created before the user node pool: {late}"


@pytest.mark.parametrize("environment", [e for e in ENVIRONMENTS if e != "onprem"])
def test_every_kubernetes_object_waits_until_the_deployer_roles_are_in_effect(synthesized, environment):
    # azurerm's role assignment returns before the role is in effect (v4.55.0 internal/services/authorization/
    # role_assignment_resource.go:393-408); AKS: "New role assignments can take up to five minutes to propagate"
    # (learn.microsoft.com/azure/aks/manage-azure-rbac). So the layer waits for a time_sleep after the deployer's
    # cluster-admin and the AcrPull assignments, not for the assignments alone.
    stack = synthesized.stacks[environment]
    assignments = synthesized.resources(environment, "azurerm_role_assignment")
    needed = {f"azurerm_role_assignment.{key}" for key, body in assignments.items()
              if body["role_definition_name"] in ("Azure Kubernetes Service RBAC Cluster Admin", "AcrPull")}
    assert len(needed) >= 3, needed  # the deployer's cluster admin, the kubelet's and the deployer's AcrPull
    waits = [f"time_sleep.{key}" for key, body in stack["resource"].get("time_sleep", {}).items()
             if needed <= set(body["depends_on"]) and int(body["create_duration"].removesuffix("s")) >= 300]
    assert waits, f"{environment}: no wait of at least 300 s after {sorted(needed)}"
    late = [address for address in kubernetes_objects(stack)
            if not any(wait in waits_for(stack, address) for wait in waits)]
    assert not late, f"{environment}: created before the deployer's roles are in effect: {late}"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_ingress_service_type_follows_the_environment(synthesized, registry, environment):
    settings = registry.get(environment)
    (ingress,) = [b for b in synthesized.resources(environment, "helm_release").values()
                  if b["name"] == "ingress-nginx"]
    service = release_values(ingress)["controller"]["service"]
    if settings.has_azure_cluster:
        assert service["type"] == "LoadBalancer" and service["externalTrafficPolicy"] == "Local"
        assert service["annotations"], "the Azure health-probe annotation"
    else:
        assert service == {"type": "NodePort", "externalTrafficPolicy": "Cluster", "annotations": {}}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_no_platform_container_is_best_effort(synthesized, registry, environment):
    sizes = registry.get(environment).platform_resources
    releases = {b["name"]: release_values(b) for b in synthesized.resources(environment, "helm_release").values()}
    ingress = releases["ingress-nginx"]["controller"]
    assert ingress["resources"] == sizes.ingress_controller.values()
    for job in ("createSecretJob", "patchWebhookJob"):
        assert ingress["admissionWebhooks"][job]["resources"] == sizes.ingress_admission_jobs.values()
    cert_manager = releases["cert-manager"]
    assert cert_manager["resources"] == sizes.cert_manager_controller.values()
    assert cert_manager["webhook"]["resources"] == sizes.cert_manager_webhook.values()
    assert cert_manager["cainjector"]["resources"] == sizes.cert_manager_cainjector.values()
    assert cert_manager["startupapicheck"]["resources"] == sizes.cert_manager_startupapicheck.values()
    if "external-dns" in releases:
        assert releases["external-dns"]["resources"] == sizes.external_dns.values()
    for values in (ingress["resources"], cert_manager["resources"]):
        assert values["requests"]["cpu"] and values["requests"]["memory"] and values["limits"]["memory"]


def _secret_refs(values, path=()):
    """(path, Secret name) of every ``...SecretRef: {name: ...}`` and ``platformSettings.secretName`` in chart
    values: Secrets the chart's pods read and that something must create (TLS ``secretName``s are cert-manager's
    to create)."""
    if isinstance(values, dict):
        for key, value in values.items():
            if key.endswith("SecretRef") and isinstance(value, dict) and "name" in value:
                yield (*path, key), value["name"]
            elif path[-1:] == ("platformSettings",) and key == "secretName" and value:
                yield (*path, key), value
            else:
                yield from _secret_refs(value, (*path, key))


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_secret_a_release_reads_is_created_before_it(synthesized, environment):
    stack = synthesized.stacks[environment]
    secrets = {
        (body["metadata"]["namespace"], body["metadata"]["name"]): f"kubernetes_secret_v1.{key}"
        for key, body in synthesized.resources(environment, "kubernetes_secret_v1").items()
    }
    checked = 0
    for key, release in synthesized.resources(environment, "helm_release").items():
        for path, name in _secret_refs(release_values(release)):
            address = secrets.get((release["namespace"], name))
            assert address, f"{environment}: {release['name']} reads Secret {name!r} ({'.'.join(path)}); none is made"
            assert address in waits_for(stack, f"helm_release.{key}"), f"{release['name']} does not wait for {name}"
            checked += 1
    assert checked > 0


def test_the_sso_bridge_client_secret_comes_from_the_key_vault_once_an_operator_put_it_there(synthesized):
    stack = synthesized.stacks["enterprise-contoso"]
    (secret,) = [b for b in synthesized.resources("enterprise-contoso", "kubernetes_secret_v1").values()
                 if b["metadata"]["name"] == "sso-bridge-oidc"]
    ((data_id, data),) = stack["data"]["azurerm_key_vault_secret"].items()
    assert secret["data"] == {"client-secret": f"${{data.azurerm_key_vault_secret.{data_id}.value}}"}
    (vault_id,) = synthesized.resources("enterprise-contoso", "azurerm_key_vault")
    vault_name = synthesized.resources("enterprise-contoso", "azurerm_key_vault")[vault_id]["name"]
    assert data["name"] == "sso-bridge-oidc-client-secret"
    assert data["key_vault_id"] == f"${{azurerm_key_vault.{vault_id}.id}}"
    (precondition,) = data["lifecycle"]["precondition"]
    assert "data.azurerm_key_vault_secrets." in precondition["condition"]
    assert (f"az keyvault secret set --vault-name {vault_name} --name sso-bridge-oidc-client-secret --file"
            in precondition["error_message"])
    # the read waits for the deployer's Secrets Officer role on the (RBAC) vault, through the wait after it
    # (data-plane RBAC lags behind ARM; building_blocks/key_vault.py `data_plane_ready`)
    (wait,) = [dep.removeprefix("time_sleep.") for dep in data["depends_on"] if dep.startswith("time_sleep.")]
    assert any(dep.startswith("azurerm_role_assignment.key_vault_role_deployer")
               for dep in stack["resource"]["time_sleep"][wait]["depends_on"])
    for environment in ENVIRONMENTS:
        if environment != "enterprise-contoso":
            assert "azurerm_key_vault_secret" not in synthesized.stacks[environment].get("data", {}), environment


def test_onprem_deploys_through_a_kubeconfig_context_and_creates_no_cluster(synthesized):
    stack = synthesized.stacks["onprem"]
    expected = {"config_path": "${var.kubeconfig_path}", "config_context": "onprem-lab"}
    assert stack["provider"]["kubernetes"] == [expected]
    assert stack["provider"]["helm"] == [{"kubernetes": expected}]
    assert stack["variable"]["kubeconfig_path"]["default"] == "~/.kube/config"
    assert not synthesized.resources("onprem", "azurerm_kubernetes_cluster")
    assert not synthesized.resources("onprem", "azurerm_virtual_network")
    assert not synthesized.resources("onprem", "azurerm_dns_zone")
    names = {body["name"] for body in synthesized.resources("onprem", "helm_release").values()}
    assert names == set(load_release("onprem").components)
    assert "external-dns" not in names


@pytest.mark.parametrize("environment", [e for e in ENVIRONMENTS if e != "onprem"])
def test_aks_environments_connect_with_kubelogin_to_their_own_cluster(synthesized, environment):
    stack = synthesized.stacks[environment]
    (cluster_id,) = synthesized.resources(environment, "azurerm_kubernetes_cluster")
    provider = stack["provider"]["kubernetes"][0]
    assert provider["host"] == f"${{azurerm_kubernetes_cluster.{cluster_id}.kube_config[0].host}}"
    assert provider["cluster_ca_certificate"] == (
        f"${{base64decode(azurerm_kubernetes_cluster.{cluster_id}.kube_config[0].cluster_ca_certificate)}}"
    )
    assert provider["exec"][0]["command"] == "kubelogin"
    # The login mode is the stack's variable (azurecli by default; the pipelines pass azurepipelines).
    assert provider["exec"][0]["args"] == [
        "get-token",
        "--login",
        "${var.kubelogin_login_mode}",
        "--server-id",
        "6dae42f8-4368-4678-94ff-3960e28e3630",
    ]
    assert stack["variable"]["kubelogin_login_mode"]["default"] == "azurecli"
    assert stack["provider"]["helm"][0]["kubernetes"]["exec"]["command"] == "kubelogin"
    assert stack["provider"]["helm"][0]["kubernetes"]["exec"]["args"] == provider["exec"][0]["args"]
    assert not {"token", "client_key", "password", "config_path"} & set(provider)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_no_absolute_path_in_the_kubernetes_providers(synthesized, environment):
    text = json.dumps(synthesized.stacks[environment].get("provider", {}))
    assert '"/' not in text and "/home/" not in text and "C:\\\\" not in text


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_platform_settings_in_each_product_namespace_list_the_release(synthesized, environment):
    release = load_release(environment)
    product_namespaces = {
        c.namespace for c in release.components.values() if c.kind in ("service", "integration")
    }
    maps = {}
    for body in synthesized.resources(environment, "kubernetes_config_map_v1").values():
        if body["metadata"]["name"] == "platform-settings":
            maps[body["metadata"]["namespace"]] = body["data"]
    assert len(maps) == len(product_namespaces)
    for data in maps.values():
        assert data["ENVIRONMENT"] == environment
        assert json.loads(data["COMPONENT_VERSIONS"]) == release.as_mapping()


def test_only_enterprise_contoso_runs_sso_bridge(synthesized):
    for environment in ENVIRONMENTS:
        names = {body["name"] for body in synthesized.resources(environment, "helm_release").values()}
        assert ("sso-bridge" in names) == (environment == "enterprise-contoso"), environment


def test_external_dns_identity_is_federated_with_its_service_account(synthesized):
    (credential,) = synthesized.resources("dev", "azurerm_federated_identity_credential").values()
    assert credential["subject"] == "system:serviceaccount:external-dns:external-dns"
    assert credential["audience"] == ["api://AzureADTokenExchange"]
    roles = [
        r
        for r in synthesized.resources("dev", "azurerm_role_assignment").values()
        if r["role_definition_name"] == "DNS Zone Contributor"
    ]
    assert len(roles) == 1 and roles[0]["scope"].startswith("${azurerm_dns_zone.")


def test_global_secrets_in_the_product_namespace_are_references(synthesized):
    (secret,) = synthesized.resources("dev", "kubernetes_secret_v1").values()
    assert secret["data"] and all(v.startswith("${") for v in secret["data"].values())


def test_integrations_must_match_the_release(registry):
    import cdktf

    from infra.stacks import EnvironmentStack

    contoso = next(e for e in registry.environments if e.name == "enterprise-contoso")
    without = dataclasses.replace(contoso, integrations=())
    with pytest.raises(
        ConfigError, match=r"integrations \[\] and the integration components \['sso-bridge'\]"
    ):
        EnvironmentStack(cdktf.App(), settings=without, config=registry.config,
                         release=load_release(without.name))
