"""Where Terraform state lives: one storage account per region (made by ``bootstrap``), one container per
environment, in the account of the environment's own region.

A container per environment lets each environment's pipeline identity get ``Storage Blob Data Contributor`` on
its own container only, so the dev pipeline cannot read production state.

An account per region keeps a region's loss local (docs/disaster-recovery.md, case 4): with every state in one
West Europe account, an outage there stopped production-neu too, because its plan could not take the state lock
(a blob lease on the primary endpoint) until someone failed the account over, which turns it into LRS and may
lose the writes not yet replicated. Now production-neu's state is in North Europe and a West Europe outage leaves
it deployable. The region of ``config/platform.toml`` ``[state] location`` is the *primary*: its account keeps
the names it always had (``rg-<workload>-mgmt-<region>-tfstate`` / ``st<workload>mgmttfstate<suffix>``), so no
existing state moves; every other region's account is ``st<workload>mgmttf<region code><suffix>`` in
``rg-<workload>-mgmt-<region code>-tfstate``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from building_blocks.naming import region_code, resource_name
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


def _seed(config: PlatformConfig) -> str:
    return config.subscription_id(config.state_subscription, where="config/platform.toml [state]")


def state_account(config: PlatformConfig, region: str | None = None) -> tuple[str, str]:
    """(resource group, storage account) names of the state storage in ``region`` (default: the primary,
    ``[state] location``)."""
    region = region or config.state_location
    group = resource_name("resource_group", workload=config.workload, environment=STATE_ENVIRONMENT,
                          region=region, instance="tfstate")
    # The primary account's name carries no region (it predates the per-region accounts and keeps its name).
    instance = "tfstate" if region == config.state_location else f"tf{region_code(region)}"
    account = resource_name("storage_account", workload=config.workload, environment=STATE_ENVIRONMENT,
                            instance=instance, unique_seed=_seed(config))
    return group, account


def state_regions(config: PlatformConfig, regions: Iterable[str]) -> list[str]:
    """The regions that get a state account: those of ``regions`` (the environments' locations), the primary
    first, then the others sorted."""
    wanted = set(regions)
    return [r for r in (config.state_location,) if r in wanted] + sorted(wanted - {config.state_location})


def state_container(environment: str) -> str:
    """The container that holds ``environment``'s state (3-63 lowercase letters, digits, hyphens)."""
    return f"tfstate-{environment}"


def state_location(config: PlatformConfig, environment: str, *, region: str) -> StateLocation:
    """The backend coordinates of ``environment`` in ``region`` (its own location): the state account of that
    region, its own container and key."""
    group, account = state_account(config, region)
    return StateLocation(
        subscription_id=_seed(config),
        tenant_id=config.tenant_id,
        resource_group_name=group,
        storage_account_name=account,
        container_name=state_container(environment),
        key=f"{environment}.tfstate",
    )
