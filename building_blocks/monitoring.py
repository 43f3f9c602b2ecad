"""The environment's Log Analytics workspace: container insights and diagnostics land here."""

from __future__ import annotations

from cdktf_cdktf_provider_azurerm.log_analytics_workspace import LogAnalyticsWorkspace
from constructs import Construct

MIN_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 730


class LogAnalytics(Construct):
    """A pay-as-you-go workspace with local (shared-key) authentication disabled: agents and readers use
    Entra ID (the AKS monitoring add-on with managed identity auth).

    Attributes: ``workspace`` (the ``Resource``), ``workspace_id`` (its Azure resource id).
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
