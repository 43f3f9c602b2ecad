"""The stacks: one :class:`EnvironmentStack` per environment, and the :class:`BootstrapStack` of the state.

A stack turns one environment's settings into building blocks and wires them together; it holds no resource
definitions of its own beyond providers and the backend. Data flows one way: settings → stack → blocks.
"""

from __future__ import annotations

import cdktf
from cdktf_cdktf_provider_azurerm.provider import (
    AzurermProvider,
    AzurermProviderFeatures,
    AzurermProviderFeaturesKeyVault,
    AzurermProviderFeaturesResourceGroup,
)
from cdktf_cdktf_provider_azurerm.resource_group import ResourceGroup
from constructs import Construct

from building_blocks.naming import Namer
from building_blocks.state_storage import StateStorage
from building_blocks.tags import StandardTags, standard_tags
from infra.platform_config import PlatformConfig
from infra.settings import BootstrapSettings, EnvironmentSettings
from infra.state import STATE_ENVIRONMENT, state_account, state_container, state_location

# Terraform itself: write-only attributes and ephemeral resources need 1.11.
TERRAFORM_REQUIRED_VERSION = ">= 1.11.0, < 2.0.0"


def _azurerm_provider(scope: Construct, *, subscription_id: str, tenant_id: str,
                      purge_protection: bool) -> AzurermProvider:
    """The azurerm provider of a stack. Credentials come from the environment (OIDC in pipelines, az CLI
    locally); only ids are set here."""
    return AzurermProvider(
        scope,
        "azurerm",
        subscription_id=subscription_id,
        tenant_id=tenant_id,
        storage_use_azuread=True,  # storage accounts have shared keys disabled
        resource_provider_registrations="none",  # registrations are a subscription-owner task, not a stack's
        features=[AzurermProviderFeatures(
            key_vault=[AzurermProviderFeaturesKeyVault(
                # Never purge a vault or secret on destroy where losing it would hurt; recover a soft-deleted
                # vault instead of failing on its name.
                purge_soft_delete_on_destroy=not purge_protection,
                purge_soft_deleted_secrets_on_destroy=not purge_protection,
                recover_soft_deleted_key_vaults=True,
                recover_soft_deleted_secrets=True,
            )],
            resource_group=[AzurermProviderFeaturesResourceGroup(prevent_deletion_if_contains_resources=True)],
        )],
    )


class EnvironmentStack(cdktf.TerraformStack):
    """One environment: its backend, providers and building blocks. ``cdktf deploy <name>`` deploys it."""

    def __init__(self, scope: Construct, *, settings: EnvironmentSettings, config: PlatformConfig) -> None:
        super().__init__(scope, settings.name)
        self.settings = settings
        self.add_override("terraform.required_version", TERRAFORM_REQUIRED_VERSION)
        location = state_location(config, settings.name)
        cdktf.AzurermBackend(
            self,
            resource_group_name=location.resource_group_name,
            storage_account_name=location.storage_account_name,
            container_name=location.container_name,
            key=location.key,
            subscription_id=location.subscription_id,
            tenant_id=location.tenant_id,
            use_azuread_auth=True,
        )
        subscription_id = config.subscription_id(settings.subscription, where=f"environment {settings.name!r}")
        self.namer = Namer(workload=config.workload, environment=settings.short_name or settings.name,
                           region=settings.location, unique_seed=subscription_id)
        if settings.has_azure_cluster:
            _azurerm_provider(self, subscription_id=subscription_id, tenant_id=config.tenant_id,
                              purge_protection=bool(settings.purge_protection))
            self.resource_group = ResourceGroup(
                self, "resource_group", name=self.namer.name("resource_group"), location=settings.location)
            # --- Azure building blocks: network, DNS, monitoring, registry, Key Vault, AKS, PostgreSQL ---

        # --- Generated secrets: random values, backed up to Key Vault, handed out as references ---

        # --- Kubernetes layer: helm + kubernetes providers from a ClusterConnection, never from an AKS resource ---

        cdktf.Aspects.of(self).add(StandardTags(standard_tags(
            environment=settings.name, owner=config.owner, cost_centre=config.cost_centre,
            repository=config.repository, extra=settings.extra_tags)))


class BootstrapStack(cdktf.TerraformStack):
    """The Terraform state storage. Local backend by design: it creates what the remote backends need."""

    # Relative to the stack's working directory cdktf.out/stacks/bootstrap: the state file lands in the
    # repository's git-ignored bootstrap-state/ folder, outside cdktf.out, so re-synthesizing never deletes it.
    LOCAL_STATE_PATH = "../../../bootstrap-state/terraform.tfstate"

    def __init__(self, scope: Construct, *, settings: BootstrapSettings, config: PlatformConfig,
                 environments: list[str]) -> None:
        super().__init__(scope, settings.name)
        self.add_override("terraform.required_version", TERRAFORM_REQUIRED_VERSION)
        cdktf.LocalBackend(self, path=self.LOCAL_STATE_PATH)
        subscription_id = config.subscription_id(config.state_subscription, where="config/platform.toml [state]")
        _azurerm_provider(self, subscription_id=subscription_id, tenant_id=config.tenant_id, purge_protection=True)
        group_name, account_name = state_account(config)
        group = ResourceGroup(self, "resource_group", name=group_name, location=config.state_location)
        self.storage = StateStorage(
            self, "state",
            resource_group_name=group.name,
            location=config.state_location,
            account_name=account_name,
            containers=[state_container(name) for name in environments],
            soft_delete_retention_days=settings.soft_delete_retention_days,
            replication_type=settings.replication_type,
            allowed_ip_ranges=list(settings.allowed_ip_ranges),
        )
        cdktf.Aspects.of(self).add(StandardTags(standard_tags(
            environment=STATE_ENVIRONMENT, owner=config.owner, cost_centre=config.cost_centre,
            repository=config.repository)))
