"""The environment's Log Analytics workspace: container insights and diagnostics land here."""

from __future__ import annotations

from collections.abc import Sequence

from cdktf_cdktf_provider_azurerm.log_analytics_workspace import LogAnalyticsWorkspace
from cdktf_cdktf_provider_azurerm.monitor_diagnostic_setting import (
    MonitorDiagnosticSetting,
    MonitorDiagnosticSettingEnabledLog,
)
from constructs import Construct

MIN_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 730


class LogAnalytics(Construct):
    """A pay-as-you-go workspace with local (shared-key) authentication disabled: agents and readers use
    Entra ID (the AKS monitoring add-on with managed identity auth).

    Attributes: ``workspace`` (the ``Resource``), ``workspace_id`` (its Azure resource id),
    ``diagnostic_settings`` (id → setting made by :meth:`collect`).
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
        self.diagnostic_settings: dict[str, MonitorDiagnosticSetting] = {}

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
