"""The environment's Log Analytics workspace: container insights and diagnostics land here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from cdktf_cdktf_provider_azurerm.log_analytics_workspace import LogAnalyticsWorkspace
from cdktf_cdktf_provider_azurerm.monitor_data_collection_rule import (
    MonitorDataCollectionRule,
    MonitorDataCollectionRuleDataFlow,
    MonitorDataCollectionRuleDataSources,
    MonitorDataCollectionRuleDataSourcesExtension,
    MonitorDataCollectionRuleDestinations,
    MonitorDataCollectionRuleDestinationsLogAnalytics,
)
from cdktf_cdktf_provider_azurerm.monitor_data_collection_rule_association import (
    MonitorDataCollectionRuleAssociation,
)
from cdktf_cdktf_provider_azurerm.monitor_diagnostic_setting import (
    MonitorDiagnosticSetting,
    MonitorDiagnosticSettingEnabledLog,
)
from constructs import Construct

MIN_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 730

# Container insights with managed-identity auth, as Microsoft's Terraform example sets it up
# (microsoft/Docker-Provider, scripts/onboarding/aks/onboarding-msi-terraform/main.tf, linked from
# learn.microsoft.com/azure/azure-monitor/containers/kubernetes-monitoring-enable): a data collection rule with the
# ContainerInsights extension as its source and the workspace as its destination, associated with the cluster.
# The group stream stands for Container Insights' standard tables (ContainerLogV2, KubePodInventory, KubeEvents,
# InsightsMetrics, Perf, ...), so the list cannot fall behind Microsoft's.
CONTAINER_INSIGHTS_STREAMS = ("Microsoft-ContainerInsights-Group-Default",)
CONTAINER_INSIGHTS_EXTENSION = "ContainerInsights"
# The association name the Azure CLI and portal use; AKS monitoring looks for nothing else, but keeping the
# well-known name means a cluster onboarded by hand and one onboarded here look the same.
CONTAINER_INSIGHTS_ASSOCIATION = "ContainerInsightsExtension"
_WORKSPACE_DESTINATION = "workspace"


@dataclass(frozen=True)
class ContainerInsights:
    """What :meth:`LogAnalytics.collect_container_insights` made: the ``rule`` and its ``association``."""

    rule: MonitorDataCollectionRule
    association: MonitorDataCollectionRuleAssociation


class LogAnalytics(Construct):
    """A pay-as-you-go workspace with local (shared-key) authentication disabled: agents and readers use
    Entra ID (the AKS monitoring add-on with managed identity auth).

    Attributes: ``workspace`` (the ``Resource``), ``workspace_id`` (its Azure resource id),
    ``diagnostic_settings`` (id → setting made by :meth:`collect`), ``container_insights`` (id → what
    :meth:`collect_container_insights` made).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        resource_group_name: str,
        location: str,
        retention_in_days: int = MIN_RETENTION_DAYS,
        daily_quota_gb: float | None = None,
    ) -> None:
        """``retention_in_days``: 30-730 (default 30, what the per-GB tier includes at no extra cost).
        ``daily_quota_gb``: ingestion cap per day (default none: unlimited, so no log is ever dropped)."""
        super().__init__(scope, id_)
        if (
            isinstance(retention_in_days, bool)
            or not isinstance(retention_in_days, int)
            or not MIN_RETENTION_DAYS <= retention_in_days <= MAX_RETENTION_DAYS
        ):
            raise ValueError(
                f"LogAnalytics retention_in_days = {retention_in_days!r}; allowed: an integer from "
                f"{MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS}"
            )
        if daily_quota_gb is not None and (isinstance(daily_quota_gb, bool) or not daily_quota_gb > 0):
            raise ValueError(
                f"LogAnalytics daily_quota_gb = {daily_quota_gb!r}; allowed: a positive number of GB, "
                "or None for no cap"
            )
        self.workspace = LogAnalyticsWorkspace(
            self,
            "Resource",
            name=name,
            resource_group_name=resource_group_name,
            location=location,
            sku="PerGB2018",
            retention_in_days=retention_in_days,
            local_authentication_enabled=False,
            **({"daily_quota_gb": daily_quota_gb} if daily_quota_gb is not None else {}),
        )
        self.workspace_id = self.workspace.id
        self._resource_group_name, self._location = resource_group_name, location
        self.diagnostic_settings: dict[str, MonitorDiagnosticSetting] = {}
        self.container_insights: dict[str, ContainerInsights] = {}

    def collect(
        self,
        id_: str,
        *,
        name: str,
        target_resource_id: str,
        categories: Sequence[str] = (),
        category_groups: Sequence[str] = (),
    ) -> MonitorDiagnosticSetting:
        """Send the resource logs of ``target_resource_id`` to this workspace: the given ``categories``
        (e.g. ``kube-audit-admin``) and ``category_groups`` (e.g. ``audit``, ``allLogs``); at least one of the
        two. ``name`` is the diagnostic setting's name; ``id_`` names it in the construct tree, once."""
        if id_ in self.diagnostic_settings:
            raise ValueError(
                f"LogAnalytics.collect id {id_!r} is already used; allowed: a new id "
                f"(existing: {', '.join(sorted(self.diagnostic_settings))})"
            )
        if not categories and not category_groups:
            raise ValueError(
                f"LogAnalytics.collect {id_!r}: supply at least one of categories or category_groups, "
                "got none"
            )
        logs = [MonitorDiagnosticSettingEnabledLog(category=c) for c in categories]
        logs += [MonitorDiagnosticSettingEnabledLog(category_group=g) for g in category_groups]
        setting = MonitorDiagnosticSetting(
            self,
            f"diagnostics_{id_}",
            name=name,
            target_resource_id=target_resource_id,
            log_analytics_workspace_id=self.workspace.id,
            enabled_log=logs,
        )
        self.diagnostic_settings[id_] = setting
        return setting

    def collect_container_insights(self, id_: str, *, name: str, cluster_id: str,
                                   interval: str = "1m") -> ContainerInsights:
        """Send container insights of the AKS cluster ``cluster_id`` to this workspace: a data collection rule
        named ``name`` (in the workspace's resource group and region) and its association with the cluster.

        Needed because ``oms_agent { msi_auth_for_monitoring_enabled = true }`` only switches the agent to
        managed-identity auth: the agent then sends nothing until a data collection rule is associated with the
        cluster. The Azure CLI makes both client-side; the azurerm provider does not -- its oms_agent block sets
        the add-on's ``logAnalyticsWorkspaceResourceID`` and ``useAADAuth`` and nothing else
        (hashicorp/terraform-provider-azurerm v4.55.0, internal/services/containers/kubernetes_addons.go:315-336).
        ``interval``: how often the agent collects (default ``1m``, Microsoft's default). ``id_`` names it in the
        construct tree, once."""
        if id_ in self.container_insights:
            raise ValueError(
                f"LogAnalytics.collect_container_insights id {id_!r} is already used; allowed: a new id "
                f"(existing: {', '.join(sorted(self.container_insights))})"
            )
        if not isinstance(interval, str) or not interval.endswith("m") or not interval[:-1].isdigit() or not (
            1 <= int(interval[:-1]) <= 30
        ):
            raise ValueError(
                f"LogAnalytics.collect_container_insights interval = {interval!r}; allowed: '1m' to '30m'"
            )
        streams = list(CONTAINER_INSIGHTS_STREAMS)
        settings = {"interval": interval, "namespaceFilteringMode": "Off", "enableContainerLogV2": True}
        rule = MonitorDataCollectionRule(
            self,
            f"container_insights_{id_}",
            name=name,
            resource_group_name=self._resource_group_name,
            location=self._location,
            description="Container insights of the AKS cluster (managed-identity auth)",
            destinations=MonitorDataCollectionRuleDestinations(
                log_analytics=[
                    MonitorDataCollectionRuleDestinationsLogAnalytics(
                        name=_WORKSPACE_DESTINATION, workspace_resource_id=self.workspace.id
                    )
                ]
            ),
            data_flow=[MonitorDataCollectionRuleDataFlow(streams=streams, destinations=[_WORKSPACE_DESTINATION])],
            data_sources=MonitorDataCollectionRuleDataSources(
                extension=[
                    MonitorDataCollectionRuleDataSourcesExtension(
                        name=CONTAINER_INSIGHTS_ASSOCIATION,
                        extension_name=CONTAINER_INSIGHTS_EXTENSION,
                        streams=streams,
                        extension_json=json.dumps({"dataCollectionSettings": settings}, sort_keys=True),
                    )
                ]
            ),
        )
        association = MonitorDataCollectionRuleAssociation(
            self,
            f"container_insights_{id_}_association",
            name=CONTAINER_INSIGHTS_ASSOCIATION,
            target_resource_id=cluster_id,
            data_collection_rule_id=rule.id,
            description="Container insights to the environment's workspace; without it the agent sends nothing",
        )
        self.container_insights[id_] = ContainerInsights(rule=rule, association=association)
        return self.container_insights[id_]
