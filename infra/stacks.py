"""The stacks: one :class:`EnvironmentStack` per environment, and the :class:`BootstrapStack` of the state.

A stack turns one environment's settings into building blocks and wires them together; it holds no resource
definitions of its own beyond providers and the backend. Data flows one way: settings → stack → blocks.
"""

from __future__ import annotations

import dataclasses

import cdktf
from cdktf_cdktf_provider_azurerm.data_azurerm_client_config import DataAzurermClientConfig
from cdktf_cdktf_provider_azurerm.provider import (
    AzurermProvider,
    AzurermProviderFeatures,
    AzurermProviderFeaturesKeyVault,
    AzurermProviderFeaturesResourceGroup,
)
from cdktf_cdktf_provider_azurerm.resource_group import ResourceGroup
from constructs import Construct

from building_blocks.aks import AksCluster
from building_blocks.aks import NodePool as AksNodePool
from building_blocks.container_registry import ContainerRegistry
from building_blocks.dns import PublicDnsZone
from building_blocks.key_vault import KeyVault
from building_blocks.monitoring import LogAnalytics
from building_blocks.naming import Namer
from building_blocks.network import Network
from building_blocks.postgres import PostgresServer
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
        # Every environment has an Azure footprint: external ones (no cluster) still get a resource group and the
        # Key Vault that backs up their generated secrets.
        _azurerm_provider(self, subscription_id=subscription_id, tenant_id=config.tenant_id,
                          purge_protection=bool(settings.purge_protection))
        self.resource_group = ResourceGroup(
            self, "resource_group", name=self.namer.name("resource_group"), location=settings.location)
        # --- Azure building blocks: network, DNS, monitoring, registry, Key Vault, AKS, PostgreSQL ---
        self._azure_building_blocks(settings, config)

        # --- Generated secrets: random values, backed up to Key Vault, handed out as references ---

        # --- Azure building blocks (continued): PostgreSQL, once the generated admin password exists ---
        self.postgres = self._postgres_server(settings, config)

        # --- Kubernetes layer: helm + kubernetes providers from a ClusterConnection, never from an AKS resource ---

        cdktf.Aspects.of(self).add(StandardTags(standard_tags(
            environment=settings.name, owner=config.owner, cost_centre=config.cost_centre,
            repository=config.repository, extra=settings.extra_tags)))

    def _azure_building_blocks(self, settings: EnvironmentSettings, config: PlatformConfig) -> None:
        """The Azure building blocks of the composition (docs/azure-building-blocks.md). Sets ``key_vault``
        always; ``log_analytics``, ``network``, ``dns_zone``, ``container_registry``, ``cluster`` and
        ``postgres`` for environments with an Azure cluster (None otherwise)."""
        where = f"environment {settings.name!r}"
        group, location = self.resource_group.name, settings.location
        self.client_config = DataAzurermClientConfig(self, "client_config")
        self.log_analytics: LogAnalytics | None = None
        self.network: Network | None = None
        self.dns_zone: PublicDnsZone | None = None
        self.container_registry: ContainerRegistry | None = None
        self.cluster: AksCluster | None = None
        self.postgres: PostgresServer | None = None
        if settings.has_azure_cluster:
            assert settings.address_space is not None  # guaranteed by EnvironmentSettings for these kinds
            self.log_analytics = LogAnalytics(
                self, "log_analytics", name=self.namer.name("log_analytics_workspace"), resource_group_name=group,
                location=location, retention_in_days=int(settings.log_retention_days or 30))
            self.network = Network(
                self, "network", namer=self.namer, resource_group_name=group, location=location,
                address_space=settings.address_space, pod_cidr=settings.pod_cidr)
        self.key_vault = KeyVault(
            self, "key_vault",
            name=self.namer.name("key_vault"),
            resource_group_name=group,
            location=location,
            tenant_id=config.tenant_id,
            deployer_object_id=self.client_config.object_id,
            purge_protection=bool(settings.purge_protection),
            allowed_ip_ranges=settings.pipeline_ip_ranges or (),
            allowed_subnet_ids=[self.network.node_subnet.id] if self.network else [],
        )
        if not settings.has_azure_cluster or self.network is None or self.log_analytics is None:
            return
        # The parent zone (the company domain) lives in the management subscription; the delegation is written
        # there through an aliased provider, with the same credentials as the stack's default provider.
        dns_provider = AzurermProvider(
            self, "azurerm_dns_parent", alias="dns_parent",
            subscription_id=config.subscription_id(settings.dns_parent_subscription,
                                                   where=f"{where} field 'dns_parent_subscription'"),
            tenant_id=config.tenant_id, storage_use_azuread=True, resource_provider_registrations="none",
            features=[AzurermProviderFeatures()])
        self.dns_zone = PublicDnsZone(
            self, "dns", resource_group_name=group, label=str(settings.dns_label), parent_domain=config.domain,
            parent_provider=dns_provider)
        premium_registry = settings.container_registry_sku == "Premium"
        self.container_registry = ContainerRegistry(
            self, "container_registry", namer=self.namer, resource_group_name=group, location=location,
            sku=str(settings.container_registry_sku),
            allowed_ip_ranges=(settings.pipeline_ip_ranges or ()) if premium_registry else (),
            private_endpoint_subnet_id=self.network.endpoint_subnet.id if premium_registry else None,
            virtual_network_id=self.network.virtual_network.id if premium_registry else None,
            zone_redundant=bool(settings.availability_zones))
        self.cluster = AksCluster(
            self, "aks",
            namer=self.namer,
            resource_group_name=group,
            location=location,
            tenant_id=config.tenant_id,
            node_subnet_id=self.network.node_subnet.id,
            log_analytics_workspace_id=self.log_analytics.workspace_id,
            system_pool=AksNodePool(**dataclasses.asdict(settings.system_pool)),
            user_pool=AksNodePool(**dataclasses.asdict(settings.user_pool)),
            sku_tier=str(settings.aks_sku_tier),
            zones=settings.availability_zones or (),
            authorized_ip_ranges=() if settings.private_cluster else settings.api_server_authorized_ip_ranges,
            private_cluster=settings.private_cluster,
            admin_group_object_ids=settings.cluster_admin_group_object_ids,
            automatic_upgrade_channel=settings.aks_upgrade_channel,
            maintenance_day=str(settings.maintenance_day),
            maintenance_start_hour=settings.maintenance_start_hour,
            pod_cidr=settings.pod_cidr,
            service_cidr=settings.service_cidr,
        )
        self.container_registry.grant_pull("aks_kubelet", self.cluster.kubelet_object_id)
        self.key_vault.grant_secrets_user("aks_secrets_provider", self.cluster.secrets_provider_object_id)
        # The pipeline deploys the Kubernetes layer with its own Entra identity (kubelogin).
        self.cluster.grant_cluster_admin("deployer", self.client_config.object_id)

    def _postgres_server(self, settings: EnvironmentSettings, config: PlatformConfig) -> PostgresServer | None:
        """The product's PostgreSQL server (None without an Azure cluster). Its administrator password is the
        generated secret ``postgres-admin-password`` (``self.postgres_admin_password``, a reference)."""
        if self.network is None:
            return None
        # The generated-secrets section sets it; a stack without it gets no server rather than a literal password.
        admin_password = getattr(self, "postgres_admin_password", None)
        if admin_password is None:
            return None
        zones = settings.availability_zones or ()
        return PostgresServer(
            self, "postgres",
            namer=self.namer,
            resource_group_name=self.resource_group.name,
            location=settings.location,
            tenant_id=config.tenant_id,
            delegated_subnet_id=self.network.postgres_subnet.id,
            virtual_network_id=self.network.virtual_network.id,
            administrator_password=admin_password,
            sku_name=str(settings.postgres_sku),
            version=settings.postgres_version,
            storage_mb=settings.postgres_storage_mb,
            backup_retention_days=int(settings.postgres_backup_retention_days or 7),
            geo_redundant_backup=bool(settings.postgres_geo_redundant_backup),
            high_availability=bool(settings.postgres_high_availability),
            **({"zone": zones[0], "standby_zone": zones[1]} if len(zones) >= 2 else {}),
            maintenance_day=str(settings.maintenance_day),
            maintenance_start_hour=settings.maintenance_start_hour,
            databases=("product",),
        )


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
