"""AksCluster: every hardening property of the cluster and its pools, the endpoint, grants, each error."""

from __future__ import annotations

import pytest

from building_blocks.aks import CLUSTER_ADMIN_ROLE, AksCluster, NodePool
from tests.blocks.azure_helpers import NAMER, SUBNET_ID, TENANT, WORKSPACE_ID, children, only, synth


def cluster(stack, **overrides):
    return AksCluster(
        stack,
        "aks",
        namer=NAMER,
        resource_group_name="rg",
        location="westeurope",
        tenant_id=TENANT,
        node_subnet_id=SUBNET_ID,
        log_analytics_workspace_id=WORKSPACE_ID,
        **overrides,
    )


@pytest.fixture(scope="module")
def defaults() -> dict:
    return synth(cluster)


@pytest.fixture(scope="module")
def aks(defaults) -> dict:
    return only(defaults, "azurerm_kubernetes_cluster")


# --- only the required inputs -------------------------------------------------------------------------------


def test_entra_id_with_azure_rbac_and_no_local_accounts(aks):
    assert aks["local_account_disabled"] is True
    assert aks["role_based_access_control_enabled"] is True
    assert aks["azure_active_directory_role_based_access_control"] == {
        "azure_rbac_enabled": True,
        "tenant_id": TENANT,
    }


def test_workload_identity_oidc_policy_and_secrets_store_with_rotation(aks):
    assert (aks["oidc_issuer_enabled"], aks["workload_identity_enabled"], aks["azure_policy_enabled"]) == (
        True,
        True,
        True,
    )
    assert aks["key_vault_secrets_provider"] == {
        "secret_rotation_enabled": True,
        "secret_rotation_interval": "2m",
    }
    assert aks["oms_agent"] == {
        "log_analytics_workspace_id": WORKSPACE_ID,
        "msi_auth_for_monitoring_enabled": True,
    }
    assert (aks["image_cleaner_enabled"], aks["image_cleaner_interval_hours"]) == (True, 48)


def test_azure_cni_overlay_powered_by_cilium(aks):
    assert aks["network_profile"] == {
        "network_plugin": "azure",
        "network_plugin_mode": "overlay",
        "network_data_plane": "cilium",
        "network_policy": "cilium",
        "pod_cidr": "192.168.0.0/16",
        "service_cidr": "172.16.0.0/16",
        "dns_service_ip": "172.16.0.10",
        "load_balancer_sku": "standard",
        "outbound_type": "loadBalancer",
    }


def test_upgrade_channels_inside_one_weekly_window(aks):
    window = {
        "frequency": "Weekly",
        "interval": 1,
        "duration": 4,
        "day_of_week": "Sunday",
        "start_time": "02:00",
        "utc_offset": "+00:00",
    }
    assert (aks["automatic_upgrade_channel"], aks["node_os_upgrade_channel"]) == ("patch", "NodeImage")
    assert aks["maintenance_window_auto_upgrade"] == window
    assert aks["maintenance_window_node_os"] == window


def test_user_assigned_control_plane_identity_with_network_contributor_on_the_subnet(defaults, aks):
    assert aks["identity"]["type"] == "UserAssigned"
    assert aks["identity"]["identity_ids"][0].startswith("${azurerm_user_assigned_identity.aks_identity_")
    assert only(defaults, "azurerm_user_assigned_identity")["name"] == "id-nwt-test-weu-aks"
    grant = children(defaults, "azurerm_role_assignment", "aks")["subnet_network_contributor"]
    assert (grant["scope"], grant["role_definition_name"], grant["principal_type"]) == (
        SUBNET_ID,
        "Network Contributor",
        "ServicePrincipal",
    )
    assert aks["depends_on"] == [
        f"azurerm_role_assignment.{k}" for k in defaults["resource"]["azurerm_role_assignment"]
    ]


def test_system_pool_runs_critical_addons_only_and_autoscales(aks):
    pool = aks["default_node_pool"]
    assert (pool["name"], pool["only_critical_addons_enabled"], pool["auto_scaling_enabled"]) == (
        "system",
        True,
        True,
    )
    assert (pool["min_count"], pool["max_count"], pool["max_pods"], pool["vm_size"]) == (
        1,
        3,
        50,
        "Standard_D4ds_v5",
    )
    assert (pool["os_disk_type"], pool["host_encryption_enabled"], pool["node_public_ip_enabled"]) == (
        "Ephemeral",
        True,
        False,
    )
    assert pool["vnet_subnet_id"] == SUBNET_ID
    assert pool["temporary_name_for_rotation"] == "systemtmp"
    assert "zones" not in pool
    assert aks["lifecycle"] == {"ignore_changes": ["default_node_pool[0].node_count"]}


def test_user_pool_is_a_separate_autoscaled_pool(defaults):
    pool = only(defaults, "azurerm_kubernetes_cluster_node_pool")
    assert (pool["name"], pool["mode"], pool["auto_scaling_enabled"]) == ("user", "User", True)
    assert (pool["min_count"], pool["max_count"], pool["vnet_subnet_id"]) == (1, 5, SUBNET_ID)
    assert (pool["os_disk_type"], pool["host_encryption_enabled"], pool["node_public_ip_enabled"]) == (
        "Ephemeral",
        True,
        False,
    )
    assert pool["lifecycle"] == {"ignore_changes": ["node_count"]}


def test_defaults_are_free_tier_public_api_server_without_restriction(aks):
    assert aks["sku_tier"] == "Free"
    assert aks["private_cluster_enabled"] is False
    assert "api_server_access_profile" not in aks
    assert aks["name"] == "aks-nwt-test-weu"
    assert aks["node_resource_group"] == "rg-nwt-test-weu-aks"


# --- production settings ------------------------------------------------------------------------------------


def test_production_settings_zones_standard_tier_and_authorized_ranges():
    out = synth(
        lambda s: cluster(
            s,
            sku_tier="Standard",
            zones=("1", "2", "3"),
            authorized_ip_ranges=["203.0.113.0/24"],
            user_pool=NodePool(min_count=3, max_count=12, max_pods=60),
            maintenance_day="Tuesday",
            maintenance_start_hour=22,
            admin_group_object_ids=["aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"],
        )
    )
    aks = only(out, "azurerm_kubernetes_cluster")
    assert aks["sku_tier"] == "Standard"
    assert aks["default_node_pool"]["zones"] == ["1", "2", "3"]
    assert only(out, "azurerm_kubernetes_cluster_node_pool")["zones"] == ["1", "2", "3"]
    assert aks["api_server_access_profile"] == {"authorized_ip_ranges": ["203.0.113.0/24"]}
    pool = only(out, "azurerm_kubernetes_cluster_node_pool")
    assert (pool["min_count"], pool["max_count"], pool["max_pods"]) == (3, 12, 60)
    assert aks["maintenance_window_node_os"]["day_of_week"] == "Tuesday"
    assert aks["maintenance_window_auto_upgrade"]["start_time"] == "22:00"
    assert aks["azure_active_directory_role_based_access_control"]["admin_group_object_ids"] == [
        "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    ]


def test_private_cluster_has_no_public_fqdn_and_no_authorized_ranges():
    aks = only(synth(lambda s: cluster(s, private_cluster=True)), "azurerm_kubernetes_cluster")
    assert (aks["private_cluster_enabled"], aks["private_cluster_public_fqdn_enabled"]) == (True, False)
    assert aks["private_dns_zone_id"] == "System"
    assert "api_server_access_profile" not in aks


# --- what the block hands out -------------------------------------------------------------------------------


def test_endpoint_resolves_to_kube_config_host_and_base64decoded_ca():
    import cdktf

    def build(stack):
        endpoint = cluster(stack).endpoint()
        cdktf.TerraformOutput(stack, "host", value=endpoint.host, sensitive=True)
        cdktf.TerraformOutput(stack, "ca", value=endpoint.cluster_ca_certificate, sensitive=True)

    outputs = synth(build)["output"]
    assert outputs["host"]["value"].startswith("${azurerm_kubernetes_cluster.aks_")
    assert outputs["host"]["value"].endswith(".kube_config[0].host}")
    assert outputs["ca"]["value"].startswith("${base64decode(azurerm_kubernetes_cluster.aks_")
    assert outputs["ca"]["value"].endswith(".kube_config[0].cluster_ca_certificate)}")


def test_grant_cluster_admin_assigns_the_rbac_cluster_admin_role_on_the_cluster():
    out = synth(lambda s: cluster(s).grant_cluster_admin("deployer", "pipeline-object-id"))
    grant = children(out, "azurerm_role_assignment", "aks")["cluster_admin_deployer"]
    assert (
        grant["role_definition_name"] == CLUSTER_ADMIN_ROLE == "Azure Kubernetes Service RBAC Cluster Admin"
    )
    assert grant["principal_id"] == "pipeline-object-id"
    assert grant["scope"].startswith("${azurerm_kubernetes_cluster.aks_") and grant["scope"].endswith(".id}")


# --- one test per error -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"system_pool": NodePool(min_count=0)},
            r"system_pool min_count = 0, max_count = 3; allowed: 1 ≤ min_count",
        ),
        ({"user_pool": NodePool(min_count=4, max_count=3)}, r"user_pool min_count = 4, max_count = 3"),
        ({"user_pool": NodePool(max_pods=20)}, r"user_pool max_pods = 20; allowed: 30 to 250"),
        ({"user_pool": NodePool(os_disk_size_gb=20)}, r"user_pool os_disk_size_gb = 20; allowed: 30 to 2048"),
        ({"user_pool": NodePool(vm_size="D4")}, r"user_pool vm_size = 'D4'; allowed: an Azure VM size"),
        ({"user_pool": NodePool(max_count="5")}, r"user_pool max_count = '5'; allowed: an integer"),
        ({"sku_tier": "Gold"}, r"sku_tier = 'Gold'; allowed: Free, Standard, Premium"),
        ({"zones": ("1", "4")}, r"zones = \['1', '4'\]; allowed: distinct zones"),
        ({"authorized_ip_ranges": ["not-a-cidr"]}, r"authorized_ip_ranges entry 'not-a-cidr'; allowed"),
        (
            {"authorized_ip_ranges": ["203.0.113.0/24"], "private_cluster": True},
            r"authorized_ip_ranges = \['203.0.113.0/24'\] with private_cluster=True; allowed: one of the two",
        ),
        (
            {"admin_group_object_ids": ["admins"]},
            r"admin_group_object_ids entry 'admins'; allowed: Entra object ids",
        ),
        ({"automatic_upgrade_channel": "nightly"}, r"automatic_upgrade_channel = 'nightly'; allowed: patch"),
        (
            {"node_os_upgrade_channel": "Weekly"},
            r"node_os_upgrade_channel = 'Weekly'; allowed: None, Unmanaged",
        ),
        (
            {"automatic_upgrade_channel": "node-image", "node_os_upgrade_channel": "SecurityPatch"},
            r"node_os_upgrade_channel = 'SecurityPatch' with automatic_upgrade_channel 'node-image'; "
            r"allowed: NodeImage",
        ),
        ({"kubernetes_version": "1.31.2"}, r"kubernetes_version = '1.31.2'; allowed: a minor version"),
        ({"maintenance_day": "Sun"}, r"maintenance_day = 'Sun'; allowed: Monday"),
        ({"maintenance_start_hour": 24}, r"maintenance_start_hour = 24; allowed: 0 to 23"),
        ({"pod_cidr": "192.168.0.0/33"}, r"pod_cidr = '192.168.0.0/33'; allowed: an IPv4 CIDR"),
        ({"service_cidr": "192.168.0.0/20"}, r"service_cidr = '192.168.0.0/20' overlaps pod_cidr"),
        ({"service_cidr": "172.16.0.0/25"}, r"service_cidr = '172.16.0.0/25'; allowed: a /24 or larger"),
    ],
)
def test_bad_props_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        synth(lambda s: cluster(s, **overrides))


def test_a_cluster_admin_grant_id_is_used_once():
    def build(stack):
        block = cluster(stack)
        block.grant_cluster_admin("deployer", "a")
        block.grant_cluster_admin("deployer", "b")

    with pytest.raises(ValueError, match=r"grant_cluster_admin id 'deployer' is already used"):
        synth(build)


def test_a_cluster_admin_principal_type_must_be_known():
    with pytest.raises(ValueError, match=r"principal_type = 'Robot'; allowed: ServicePrincipal"):
        synth(lambda s: cluster(s).grant_cluster_admin("deployer", "a", principal_type="Robot"))


# --- in the composed environments ---------------------------------------------------------------------------


def test_production_like_clusters_have_an_sla_zones_and_a_restricted_api_server(synthesized, registry):
    for env in (e for e in registry.environments if e.production_like):
        aks = next(iter(synthesized.resources(env.name, "azurerm_kubernetes_cluster").values()))
        assert aks["sku_tier"] == "Standard", env.name
        assert aks["default_node_pool"]["zones"] == ["1", "2", "3"], env.name
        restricted = aks.get("api_server_access_profile", {}).get("authorized_ip_ranges")
        assert aks["private_cluster_enabled"] or restricted == list(
            registry.config.allowed_ip_ranges(env.api_server_authorized_ip_ranges)), (
            env.name
        )
        pool = next(iter(synthesized.resources(env.name, "azurerm_kubernetes_cluster_node_pool").values()))
        assert (pool["min_count"], pool["max_count"]) == (env.user_pool.min_count, env.user_pool.max_count)


def test_kubelet_pulls_from_the_registry_and_the_deployer_administers_the_cluster(synthesized, registry):
    for env in (e for e in registry.environments if e.has_azure_cluster):
        grants = synthesized.resources(env.name, "azurerm_role_assignment")
        pull = {g["principal_id"]: g for g in grants.values() if g["role_definition_name"] == "AcrPull"}
        # The kubelet pulls images; the deployer (the pipeline) pulls the company's OCI charts.
        kubelet = [p for p in pull if p.endswith(".kubelet_identity[0].object_id}")]
        assert len(kubelet) == 1 and len(pull) == 2, env.name
        assert "${data.azurerm_client_config.client_config.object_id}" in pull, env.name
        assert all(g["scope"].startswith("${azurerm_container_registry.") for g in pull.values())
        admin = [g for g in grants.values() if g["role_definition_name"] == CLUSTER_ADMIN_ROLE]
        assert [g["principal_id"] for g in admin] == ["${data.azurerm_client_config.client_config.object_id}"]


# --- settings of the cluster (infra/settings.py) ------------------------------------------------------------


def _settings(**overrides):
    from infra.settings import EnvironmentSettings

    return EnvironmentSettings(
        **{"name": "alpha", "kind": "dev", "address_space": "10.50.0.0/16", **overrides}
    )


def test_settings_derive_the_maintenance_day_and_registry_tier_from_the_kind():
    prod = _settings(kind="production", api_server_authorized_ip_ranges=("203.0.113.0/24",))
    assert (_settings().maintenance_day, prod.maintenance_day) == ("Tuesday", "Sunday")
    assert (_settings().container_registry_sku, prod.container_registry_sku) == ("Standard", "Premium")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"cluster_admin_group_object_ids": ("admins",)},
            r"field 'cluster_admin_group_object_ids' = 'admins'",
        ),
        (
            {"aks_upgrade_channel": "node-image"},
            r"field 'aks_upgrade_channel' = 'node-image'; allowed: patch, stable",
        ),
        ({"maintenance_day": "sunday"}, r"field 'maintenance_day' = 'sunday'; allowed: Monday"),
        (
            {"maintenance_start_hour": 25},
            r"field 'maintenance_start_hour' = 25; allowed: an hour from 0 to 23",
        ),
        (
            {"container_registry_sku": "Classic"},
            r"field 'container_registry_sku' = 'Classic'; allowed: Basic",
        ),
    ],
)
def test_settings_refuse_bad_cluster_values(overrides, message):
    from infra.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        _settings(**overrides)
