"""Where Terraform state lives: one storage account (made by ``bootstrap``), one container per environment.

A container per environment lets each environment's pipeline identity get ``Storage Blob Data Contributor`` on
its own container only, so the dev pipeline cannot read production state.
"""

from __future__ import annotations

from dataclasses import dataclass

from building_blocks.naming import resource_name
from infra.platform_config import PlatformConfig

STATE_ENVIRONMENT = "mgmt"


@dataclass(frozen=True, kw_only=True)
class StateLocation:
    """The azurerm backend coordinates of one environment's state."""

    subscription_id: str
    tenant_id: str
    resource_group_name: str
    storage_account_name: str
    container_name: str
    key: str


def state_account(config: PlatformConfig) -> tuple[str, str]:
    """(resource group, storage account) names of the state storage."""
    seed = config.subscription_id(config.state_subscription, where="config/platform.toml [state]")
    group = resource_name("resource_group", workload=config.workload, environment=STATE_ENVIRONMENT,
                          region=config.state_location, instance="tfstate")
    account = resource_name("storage_account", workload=config.workload, environment=STATE_ENVIRONMENT,
                            instance="tfstate", unique_seed=seed)
    return group, account


def state_container(environment: str) -> str:
    """The container that holds ``environment``'s state (3-63 lowercase letters, digits, hyphens)."""
    return f"tfstate-{environment}"


def state_location(config: PlatformConfig, environment: str) -> StateLocation:
    """The backend coordinates of ``environment``: its own container and key."""
    group, account = state_account(config)
    return StateLocation(
        subscription_id=config.subscription_id(config.state_subscription, where="config/platform.toml [state]"),
        tenant_id=config.tenant_id,
        resource_group_name=group,
        storage_account_name=account,
        container_name=state_container(environment),
        key=f"{environment}.tfstate",
    )
