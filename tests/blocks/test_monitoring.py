"""LogAnalytics: a per-GB workspace with local authentication off and a bounded retention."""

from __future__ import annotations

import json

import pytest

from building_blocks.monitoring import LogAnalytics
from tests.blocks.azure_helpers import only, synth


def workspace(stack, **overrides):
    return LogAnalytics(
        stack,
        "log_analytics",
        name="log-nwt-test-weu",
        resource_group_name="rg",
        location="westeurope",
        **overrides,
    )


def test_required_inputs_make_a_workspace_without_shared_keys():
    body = only(synth(workspace), "azurerm_log_analytics_workspace")
    assert body["name"] == "log-nwt-test-weu"
    assert body["sku"] == "PerGB2018"
    assert body["retention_in_days"] == 30
    assert body["local_authentication_enabled"] is False
    assert "daily_quota_gb" not in body  # no cap: logs are never dropped


def test_retention_and_quota_are_passed_through():
    body = only(
        synth(lambda s: workspace(s, retention_in_days=90, daily_quota_gb=5)),
        "azurerm_log_analytics_workspace",
    )
    assert (body["retention_in_days"], body["daily_quota_gb"]) == (90, 5)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"retention_in_days": 7}, r"retention_in_days = 7; allowed: an integer from 30 to 730"),
        ({"retention_in_days": 731}, r"retention_in_days = 731; allowed: an integer from 30 to 730"),
        ({"daily_quota_gb": 0}, r"daily_quota_gb = 0; allowed: a positive number of GB, or None"),
    ],
)
def test_bad_props_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        synth(lambda s: workspace(s, **overrides))


def test_settings_derive_retention_from_the_kind_and_refuse_out_of_range_values():
    from infra.errors import ConfigError
    from infra.settings import EnvironmentSettings

    def settings(**overrides):
        return EnvironmentSettings(
            **{"name": "alpha", "kind": "dev", "address_space": "10.50.0.0/16", **overrides}
        )

    assert settings().log_retention_days == 30
    assert (
        settings(kind="production", api_server_authorized_ip_ranges=("203.0.113.0/24",)).log_retention_days
        == 90
    )
    with pytest.raises(
        ConfigError, match=r"field 'log_retention_days' = 14; allowed: an integer from 30 to 730"
    ):
        settings(log_retention_days=14)


def test_collect_sends_the_given_log_categories_to_the_workspace():
    def build(stack):
        block = workspace(stack)
        block.collect("vault", name="diag-vault", target_resource_id="/vault/id", category_groups=["audit"])
        block.collect(
            "aks", name="diag-aks", target_resource_id="/aks/id", categories=["kube-audit-admin", "guard"]
        )

    settings = {
        body["name"]: body for body in synth(build)["resource"]["azurerm_monitor_diagnostic_setting"].values()
    }
    assert settings["diag-vault"]["target_resource_id"] == "/vault/id"
    assert settings["diag-vault"]["enabled_log"] == [{"category_group": "audit"}]
    assert settings["diag-aks"]["enabled_log"] == [{"category": "kube-audit-admin"}, {"category": "guard"}]
    assert all(
        s["log_analytics_workspace_id"].startswith("${azurerm_log_analytics_workspace.")
        for s in settings.values()
    )


def test_collect_needs_at_least_one_category():
    with pytest.raises(
        ValueError, match=r"collect 'vault': supply at least one of categories or category_groups"
    ):
        synth(lambda s: workspace(s).collect("vault", name="diag", target_resource_id="/vault/id"))


def test_collect_ids_are_used_once():
    def build(stack):
        block = workspace(stack)
        block.collect("vault", name="a", target_resource_id="/a", category_groups=["audit"])
        block.collect("vault", name="b", target_resource_id="/b", category_groups=["audit"])

    with pytest.raises(ValueError, match=r"collect id 'vault' is already used"):
        synth(build)


def test_cluster_environments_send_vault_audit_and_aks_audit_logs(synthesized, registry):
    for env in (e for e in registry.environments if e.has_azure_cluster):
        settings = synthesized.resources(env.name, "azurerm_monitor_diagnostic_setting")
        targets = {
            body["target_resource_id"].split(".")[0]: body["enabled_log"] for body in settings.values()
        }
        assert targets == {
            "${azurerm_key_vault": [{"category_group": "audit"}],
            "${azurerm_kubernetes_cluster": [
                {"category": "kube-audit-admin"},
                {"category": "guard"},
                {"category": "cluster-autoscaler"},
            ],
        }, env.name


# --- container insights: a data collection rule and its association -----------------------------------------

CLUSTER_ID = "/subscriptions/1/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks"


def test_container_insights_stream_to_the_workspace_through_an_associated_rule():
    """issue #16 item 3. azurerm's oms_agent block only sets the add-on's workspace id and useAADAuth
    (hashicorp/terraform-provider-azurerm v4.55.0, internal/services/containers/kubernetes_addons.go:315-336); with
    managed-identity auth the agent sends nothing until a data collection rule is associated with the cluster.
    The shape follows Microsoft's Terraform example (microsoft/Docker-Provider,
    scripts/onboarding/aks/onboarding-msi-terraform/main.tf): ContainerInsights extension -> workspace."""
    out = synth(lambda s: workspace(s).collect_container_insights("aks", name="dcr-nwt-test-weu-aks",
                                                                  cluster_id=CLUSTER_ID))
    rule = only(out, "azurerm_monitor_data_collection_rule")
    assert (rule["name"], rule["resource_group_name"], rule["location"]) == ("dcr-nwt-test-weu-aks", "rg",
                                                                             "westeurope")
    (destination,) = rule["destinations"]["log_analytics"]
    assert destination["workspace_resource_id"].startswith("${azurerm_log_analytics_workspace.log_analytics_")
    (flow,) = rule["data_flow"]
    assert flow == {"streams": ["Microsoft-ContainerInsights-Group-Default"],
                    "destinations": [destination["name"]]}
    (extension,) = rule["data_sources"]["extension"]
    assert (extension["extension_name"], extension["streams"]) == ("ContainerInsights", flow["streams"])
    assert json.loads(extension["extension_json"]) == {"dataCollectionSettings": {
        "interval": "1m", "namespaceFilteringMode": "Off", "enableContainerLogV2": True}}
    association = only(out, "azurerm_monitor_data_collection_rule_association")
    assert association["target_resource_id"] == CLUSTER_ID
    assert association["name"] == "ContainerInsightsExtension"
    assert association["data_collection_rule_id"].startswith("${azurerm_monitor_data_collection_rule.")


@pytest.mark.parametrize(("interval", "message"), [("0m", r"interval = '0m'; allowed: '1m' to '30m'"),
                                                   ("60s", r"interval = '60s'; allowed")])
def test_container_insights_refuse_a_bad_interval(interval, message):
    with pytest.raises(ValueError, match=message):
        synth(lambda s: workspace(s).collect_container_insights("aks", name="dcr", cluster_id=CLUSTER_ID,
                                                                interval=interval))


def test_container_insights_refuse_a_second_use_of_an_id():
    def build(stack):
        logs = workspace(stack)
        logs.collect_container_insights("aks", name="dcr-a", cluster_id=CLUSTER_ID)
        logs.collect_container_insights("aks", name="dcr-b", cluster_id=CLUSTER_ID)

    with pytest.raises(ValueError, match=r"id 'aks' is already used"):
        synth(build)


def test_every_cluster_sends_container_insights_to_its_own_workspace(synthesized, registry):
    """Every AKS stack: oms_agent with managed-identity auth, and exactly one rule to its workspace associated
    with its cluster (the docs' "container insights go to Log Analytics")."""
    clusters = {env.name for env in registry.environments if env.has_azure_cluster}
    assert clusters
    for name in sorted(clusters):
        (cluster_id, cluster), = synthesized.resources(name, "azurerm_kubernetes_cluster").items()
        assert cluster["oms_agent"]["msi_auth_for_monitoring_enabled"] is True
        (workspace_id, _), = synthesized.resources(name, "azurerm_log_analytics_workspace").items()
        (rule_id, rule), = synthesized.resources(name, "azurerm_monitor_data_collection_rule").items()
        workspace_ref = f"${{azurerm_log_analytics_workspace.{workspace_id}.id}}"
        assert rule["destinations"]["log_analytics"][0]["workspace_resource_id"] == workspace_ref
        assert cluster["oms_agent"]["log_analytics_workspace_id"] == workspace_ref
        (association,) = synthesized.resources(name, "azurerm_monitor_data_collection_rule_association").values()
        assert association["target_resource_id"] == f"${{azurerm_kubernetes_cluster.{cluster_id}.id}}"
        assert association["data_collection_rule_id"] == f"${{azurerm_monitor_data_collection_rule.{rule_id}.id}}"
    others = set(synthesized.stacks) - clusters
    assert all(not synthesized.resources(n, "azurerm_monitor_data_collection_rule") for n in others)
