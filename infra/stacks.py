"""The stacks: one :class:`EnvironmentStack` per environment, and the :class:`BootstrapStack` of the state.

A stack turns one environment's settings into building blocks and wires them together; it holds no resource
definitions of its own beyond providers and the backend. Data flows one way: settings → stack → blocks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import cdktf
from cdktf_cdktf_provider_azurerm.data_azurerm_client_config import DataAzurermClientConfig
from cdktf_cdktf_provider_azurerm.federated_identity_credential import FederatedIdentityCredential
from cdktf_cdktf_provider_azurerm.provider import (
    AzurermProvider,
    AzurermProviderFeatures,
    AzurermProviderFeaturesKeyVault,
    AzurermProviderFeaturesResourceGroup,
    AzurermProviderFeaturesStorage,
)
from cdktf_cdktf_provider_azurerm.resource_group import ResourceGroup
from cdktf_cdktf_provider_azurerm.role_assignment import RoleAssignment
from cdktf_cdktf_provider_azurerm.user_assigned_identity import UserAssignedIdentity
from cdktf_cdktf_provider_random.provider import RandomProvider
from cdktf_cdktf_provider_time.provider import TimeProvider
from constructs import Construct

from building_blocks.aks import AksCluster
from building_blocks.aks import NodePool as AksNodePool
from building_blocks.container_registry import ContainerRegistry
from building_blocks.dns import PublicDnsZone
from building_blocks.key_vault import KeyVault
from building_blocks.kubernetes.connection import ClusterConnection, kubelogin
from building_blocks.kubernetes.helm_chart import ChartVersion
from building_blocks.kubernetes.layer import KubernetesLayer
from building_blocks.kubernetes.platform_charts import AzureDnsProvider, ExternalDns
from building_blocks.monitoring import LogAnalytics
from building_blocks.naming import Namer, dns_zone_name, region_code, resource_name
from building_blocks.network import Network
from building_blocks.operator_secrets import OperatorSecret, OperatorSecrets
from building_blocks.postgres import PostgresServer
from building_blocks.rbac import propagation_wait
from building_blocks.secret_set import SecretSet
from building_blocks.state_storage import StateStorage
from building_blocks.tags import StandardTags, standard_tags
from infra.errors import ConfigError
from infra.platform_config import PlatformConfig
from infra.preflight import TERRAFORM_REQUIRED_VERSION  # every stack's required_version (`make deploy` checks it)
from infra.settings import BootstrapSettings, EnvironmentSettings
from infra.state import STATE_ENVIRONMENT, state_account, state_container, state_location, state_regions
from infra.versions import COMPONENT_KINDS, Release


def _azurerm_provider(scope: Construct, *, subscription_id: str, tenant_id: str,
                      purge_protection: bool, storage_data_plane: bool = True) -> AzurermProvider:
    """The azurerm provider of a stack. Credentials come from the environment (OIDC in pipelines, az CLI
    locally); only ids are set here. ``storage_data_plane`` (default True, the provider's default): False sets
    ``features.storage.data_plane_available = false``, so storage accounts are managed through ARM only."""
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
            **({} if storage_data_plane else
               {"storage": [AzurermProviderFeaturesStorage(data_plane_available=False)]}),
        )],
    )


class EnvironmentStack(cdktf.TerraformStack):
    """One environment: its backend, providers and building blocks. ``cdktf deploy <name>`` deploys it."""

    def __init__(self, scope: Construct, *, settings: EnvironmentSettings, config: PlatformConfig,
                 release: Release) -> None:
        """``release``: the environment's component versions (``infra.versions.load_releases``), already
        validated against the catalog and the environment registry."""
        super().__init__(scope, settings.name)
        self.settings = settings
        self.release = release
        self.add_override("terraform.required_version", TERRAFORM_REQUIRED_VERSION)
        # The state account of the environment's own region (infra/state.py): a region's loss stops only that
        # region's environments.
        location = state_location(config, settings.name, region=settings.location)
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
        # Every environment has an Azure footprint: external ones (no cluster) still get a resource group and
        # the Key Vault that backs up their generated secrets.
        _azurerm_provider(self, subscription_id=subscription_id, tenant_id=config.tenant_id,
                          purge_protection=bool(settings.purge_protection))
        # time_sleep: the waits for new role assignments to take effect (building_blocks/rbac.py).
        TimeProvider(self, "time")
        self.resource_group = ResourceGroup(
            self, "resource_group", name=self.namer.name("resource_group"), location=settings.location)
        # --- Azure building blocks: network, DNS, monitoring, registry, Key Vault, AKS, PostgreSQL ---
        self._azure_building_blocks(settings, config)

        # --- Generated secrets: random values, backed up to Key Vault, handed out as references ---
        # docs/secrets.md. Made once on the first deploy; `secret_rotation` in the environment settings is the only
        # way to change one. Consumers get Terraform references, never values.
        RandomProvider(self, "random")
        self.generated_secrets = SecretSet(
            self, "generated_secrets",
            key_vault_id=self.key_vault.id,
            key_vault_name=self.key_vault.vault.name_input,
            rotation=settings.secret_rotation,
            # Not the officer assignment itself: the wait after it, until Key Vault's data plane honours it.
            depends_on=[self.key_vault.data_plane_ready],
        )
        # Read by the PostgreSQL block (administrator_password) and the Kubernetes layer (global secrets in the
        # product namespace: name -> reference).
        self.postgres_admin_password: str = self.generated_secrets.references["postgres-admin-password"]
        self.global_secrets: dict[str, str] = self.generated_secrets.in_cluster

        # --- Azure building blocks (continued): PostgreSQL, once the generated admin password exists ---
        self.postgres = self._postgres_server(settings, config)

        # --- Kubernetes layer: helm + kubernetes providers from a ClusterConnection, never from an AKS resource ---
        # docs/kubernetes-layer.md. building_blocks.kubernetes gets a connection and plain data, never azurerm.
        self.kubernetes = self._kubernetes_layer(settings, config)

        cdktf.Aspects.of(self).add(StandardTags(standard_tags(
            environment=settings.name, owner=config.owner, cost_centre=config.cost_centre,
            repository=config.repository, extra=settings.extra_tags)))

    def _azure_building_blocks(self, settings: EnvironmentSettings, config: PlatformConfig) -> None:
        """The Azure building blocks of the composition (docs/azure-building-blocks.md). Sets ``key_vault``
        and ``log_analytics`` always; ``network``, ``dns_zone``, ``container_registry``, ``cluster`` and
        ``postgres`` for environments with an Azure cluster (None otherwise)."""
        where = f"environment {settings.name!r}"
        group, location = self.resource_group.name, settings.location
        self.client_config = DataAzurermClientConfig(self, "client_config")
        self.network: Network | None = None
        self.dns_resource_group: ResourceGroup | None = None
        self.dns_zone: PublicDnsZone | None = None
        self.container_registry: ContainerRegistry | None = None
        self.cluster: AksCluster | None = None
        self.postgres: PostgresServer | None = None
        # Every environment's workspace: at least the Key Vault audit log (docs/security.md), and for clusters
        # container insights and the control-plane audit.
        self.log_analytics = LogAnalytics(
            self, "log_analytics", name=self.namer.name("log_analytics_workspace"),
            resource_group_name=group, location=location,
            retention_in_days=int(settings.log_retention_days or 30))
        if settings.has_azure_cluster:
            assert settings.address_space is not None  # guaranteed by EnvironmentSettings for these kinds
            self.network = Network(
                self, "network", namer=self.namer, resource_group_name=group, location=location,
                address_space=settings.address_space, pod_cidr=settings.pod_cidr)
        # The deploy agent pool (config/platform.toml [pipelines]) and the environment's own pipeline_ip_ranges
        # reach the vault through its firewall; the cluster through a private endpoint.
        self.key_vault = KeyVault(
            self, "key_vault",
            name=self.namer.name("key_vault"),
            resource_group_name=group,
            location=location,
            tenant_id=config.tenant_id,
            deployer_object_id=self.client_config.object_id,
            purge_protection=bool(settings.purge_protection),
            allowed_ip_ranges=config.allowed_ip_ranges(settings.pipeline_ip_ranges or ()),
            allowed_subnet_ids=config.agent_subnet_ids,
        )
        # Who read or changed a secret: the vault's audit log goes to the environment's workspace.
        self.log_analytics.collect(
            "key_vault", name=self.namer.name("diagnostic_setting", "kv"),
            target_resource_id=self.key_vault.id, category_groups=["audit"])
        if not settings.has_azure_cluster or self.network is None:
            return
        self.key_vault.add_private_endpoint(
            name=self.namer.name("private_endpoint", "kv"),
            dns_link_name=self.namer.name("private_dns_zone_link", "kv"),
            resource_group_name=group, location=location,
            subnet_id=self.network.endpoint_subnet.id, virtual_network_id=self.network.virtual_network.id)
        # The parent zone (the company domain) lives in the management subscription; the delegation (a record
        # set the DNS owner pre-creates, adopted by an import block) is written there through an aliased
        # provider, with the same credentials as the stack's default provider. Zone name and resource group are
        # configuration: no lookup (building_blocks/dns.py).
        dns_parent_subscription = config.subscription_id(settings.dns_parent_subscription,
                                                         where=f"{where} field 'dns_parent_subscription'")
        dns_provider = AzurermProvider(
            self, "azurerm_dns_parent", alias="dns_parent", subscription_id=dns_parent_subscription,
            tenant_id=config.tenant_id, storage_use_azuread=True, resource_provider_registrations="none",
            features=[AzurermProviderFeatures()])
        # The zone has a resource group of its own: external-dns lists zones per resource group and needs Reader
        # on it (its Azure tutorial); on the environment's group that would let it read every resource there.
        self.dns_resource_group = ResourceGroup(
            self, "dns_resource_group", name=self.namer.name("resource_group", "dns"), location=location)
        self.dns_zone = PublicDnsZone(
            self, "dns", resource_group_name=self.dns_resource_group.name, label=str(settings.dns_label),
            parent_domain=config.domain, parent_resource_group_name=config.dns_parent_resource_group,
            parent_subscription_id=dns_parent_subscription, parent_provider=dns_provider)
        premium_registry = settings.container_registry_sku == "Premium"
        self.container_registry = ContainerRegistry(
            self, "container_registry", namer=self.namer, resource_group_name=group, location=location,
            sku=str(settings.container_registry_sku),
            allowed_ip_ranges=(config.allowed_ip_ranges(settings.pipeline_ip_ranges or ()) if premium_registry
                               else ()),
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
            authorized_ip_ranges=() if settings.private_cluster else config.allowed_ip_ranges(
                settings.api_server_authorized_ip_ranges),
            private_cluster=settings.private_cluster,
            admin_group_object_ids=settings.cluster_admin_group_object_ids,
            automatic_upgrade_channel=settings.aks_upgrade_channel,
            maintenance_day=str(settings.maintenance_day),
            maintenance_start_hour=settings.maintenance_start_hour,
            pod_cidr=settings.pod_cidr,
            service_cidr=settings.service_cidr,
        )
        # Control-plane audit (writes, without the noise of get/list/watch), Entra authentication, autoscaler.
        self.log_analytics.collect(
            "aks", name=self.namer.name("diagnostic_setting", "aks"),
            target_resource_id=self.cluster.cluster.id,
            categories=["kube-audit-admin", "guard", "cluster-autoscaler"])
        # Container insights: the oms_agent add-on with managed-identity auth sends nothing without a data
        # collection rule associated with the cluster (building_blocks/monitoring.py).
        self.log_analytics.collect_container_insights(
            "aks", name=self.namer.name("data_collection_rule", "aks"), cluster_id=self.cluster.cluster.id)
        self.container_registry.grant_pull("aks_kubelet", self.cluster.kubelet_object_id)
        # The pipeline's helm provider pulls the company's OCI charts from this registry at plan and apply time.
        self.container_registry.grant_pull("deployer", self.client_config.object_id, principal_type=None)
        self.key_vault.grant_secrets_user("aks_secrets_provider", self.cluster.secrets_provider_object_id)
        # The pipeline deploys the Kubernetes layer with its own Entra identity (kubelogin).
        self.cluster.grant_cluster_admin("deployer", self.client_config.object_id)

    def _postgres_server(self, settings: EnvironmentSettings,
                         config: PlatformConfig) -> PostgresServer | None:
        """The product's PostgreSQL server (None without an Azure cluster). Its administrator password is the
        generated secret ``postgres-admin-password`` (``self.postgres_admin_password``, a reference set by the
        generated-secrets section, which therefore runs first; the block refuses a literal)."""
        if self.network is None:
            return None
        admin_password = self.postgres_admin_password
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


    # --- Kubernetes layer (continued) ---
    # The kubeconfig of an external environment's cluster: a variable, so no machine's path lands in the JSON.
    KUBECONFIG_PATH_DEFAULT = "~/.kube/config"
    # The Terraform variable that selects kubelogin's login mode on AKS stacks.
    KUBELOGIN_LOGIN_VARIABLE = "kubelogin_login_mode"
    # AKS: the Azure load balancer probes the ingress controller's health endpoint.
    AKS_INGRESS_ANNOTATIONS: Final = MappingProxyType(
        {"service.beta.kubernetes.io/azure-load-balancer-health-probe-request-path": "/healthz"})

    def _kubernetes_layer(self, settings: EnvironmentSettings, config: PlatformConfig) -> KubernetesLayer:
        """The Kubernetes layer: a :class:`ClusterConnection` (the AKS endpoint with kubelogin, or the
        kubeconfig context of an external environment's cluster) and the environment's release
        (``versions/``) as :class:`ChartVersion` records. Sets ``external_dns_identity`` (None without Azure
        DNS)."""
        where = f"environment {settings.name!r} ({settings.source})"
        release = self.release
        if self.cluster is not None:
            endpoint = self.cluster.endpoint()
            # kubelogin's login mode is a variable: azurecli (az login) by default, azurepipelines in the pipelines
            # (TF_VAR_kubelogin_login_mode, pipelines/templates/steps/terraform.yml), whose tokens outlive an apply.
            login_mode = cdktf.TerraformVariable(
                self, self.KUBELOGIN_LOGIN_VARIABLE, type="string", default="azurecli",
                description="kubelogin login mode of the helm and kubernetes providers: azurecli (after az "
                            "login) or azurepipelines (Azure Pipelines, fresh tokens from the service connection)",
                validation=[cdktf.TerraformVariableValidationConfig(
                    condition=f'${{contains(["azurecli", "azurepipelines"], var.{self.KUBELOGIN_LOGIN_VARIABLE})}}',
                    error_message="kubelogin_login_mode must be azurecli or azurepipelines.")])
            connection = ClusterConnection.api_server(
                host=endpoint.host, cluster_ca_certificate=endpoint.cluster_ca_certificate,
                exec_auth=kubelogin(login=login_mode.string_value))
        else:
            kubeconfig_path = cdktf.TerraformVariable(
                self, "kubeconfig_path", type="string", default=self.KUBECONFIG_PATH_DEFAULT,
                description=f"Path of the kubeconfig holding context {settings.kubeconfig_context!r} "
                            "(pipelines: TF_VAR_kubeconfig_path = the downloaded secure file)")
            connection = ClusterConnection.kubeconfig(config_path=kubeconfig_path.string_value,
                                                      config_context=str(settings.kubeconfig_context))
        own_registry = (f"{self.namer.name('container_registry')}.azurecr.io" if self.container_registry
                        else None)
        registry = settings.container_registry_login_server or own_registry
        dns_domain = self.dns_zone.fqdn if self.dns_zone is not None else dns_zone_name(
            str(settings.dns_label), config.domain)
        charts: dict[str, dict[str, ChartVersion]] = {kind: {} for kind in COMPONENT_KINDS}
        for component in release.components.values():
            charts[component.kind][component.name] = ChartVersion(
                chart=component.chart, version=component.version, image_tag=component.image_tag,
                namespace=component.namespace,
                repository=(component.repository_for(registry) if component.uses_registry
                            else component.repository))
        specs = {spec.component for spec in settings.integrations}
        if specs != set(charts["integration"]):
            raise ConfigError(f"{where}: integrations {sorted(specs)} and the integration components "
                              f"{sorted(charts['integration'])} of {release.source} differ; allowed: the "
                              "same components in both (state each integration's config and its version)")
        self.external_dns_identity: UserAssignedIdentity | None = None
        external_dns = None
        if "external-dns" in charts["platform"]:
            if self.cluster is None or self.dns_zone is None:
                raise ConfigError(f"{where}: external-dns is in {release.source} but the environment has no "
                                  "Azure DNS zone; allowed: exclude external-dns in its release file")
            external_dns = self._external_dns_identity(
                settings, config, namespace=charts["platform"]["external-dns"].namespace or "external-dns")
        external_secrets = self._operator_secrets(settings)
        return KubernetesLayer(
            self, "kubernetes",
            connection=connection,
            environment=settings.name,
            region=settings.location,
            dns_domain=dns_domain,
            platform=charts["platform"],
            resources=settings.platform_resources,
            services=charts["service"] if settings.deploy_product else {},
            registry=registry,
            integrations=settings.integrations,
            integration_versions=charts["integration"],
            external_secrets=external_secrets,
            component_versions=release.as_mapping(),
            external_dns=external_dns,
            ingress_service_type=settings.ingress_service_type or "LoadBalancer",
            ingress_service_annotations=self.AKS_INGRESS_ANNOTATIONS if self.cluster is not None else None,
            replicas=3 if settings.production_like else 2 if settings.kind == "staging" else 1,
            secrets=getattr(self, "global_secrets", None),
            # Let's Encrypt ClusterIssuers when the release runs them; the ACME account mail goes to the owner.
            cluster_issuer=settings.tls_issuer if "cluster-issuers" in charts["platform"] else None,
            acme_email=config.owner,
            # On AKS nothing Kubernetes starts before there is a node pool its pods can run on, the pipeline may
            # reach the API server (Azure RBAC) and the nodes may pull from the registry. The system pool is
            # tainted CriticalAddonsOnly=true:NoSchedule (only_critical_addons_enabled; azurerm v4.55.0
            # internal/services/containers/kubernetes_nodepool.go) and no chart here tolerates it, so on a new
            # cluster every pod would stay Pending until the user pool exists — past the atomic releases'
            # timeouts. The layer takes these as opaque dependencies (it imports no azurerm).
            depends_on=([self.cluster.user_node_pool, self._kubernetes_roles_effective()]
                        if self.cluster and self.container_registry else []),
        )

    def _kubernetes_roles_effective(self):  # -> time Sleep
        """A wait after the roles the Kubernetes layer needs (the deployer's cluster admin, the AcrPull grants):
        the layer depends on it, not on the assignments. "New role assignments can take up to five minutes to
        propagate and be updated by the authorization server" (learn.microsoft.com/azure/aks/manage-azure-rbac),
        AcrPull is bound by Azure RBAC's general limit, and the provider's create returns before either
        (building_blocks/rbac.py ``propagation_wait``, whose default covers both); a helm or kubernetes resource
        created sooner gets 403 from the API server, or the OCI chart pull is refused."""
        return propagation_wait(
            self, "kubernetes_roles_propagation",
            assignments=[self.cluster.role_assignments["deployer"],
                         *self.container_registry.pull_assignments.values()])

    def _operator_secrets(self, settings: EnvironmentSettings) -> dict[str, str]:
        """The integrations' values from outside (a customer's client secret), read from the environment's Key
        Vault — their one home, where an operator stores each once (docs/secrets.md, "Values from outside").
        Every environment has that vault, external ones included. Returns store name → reference for the
        Kubernetes layer; a missing secret fails the plan with the ``az keyvault secret set`` command. Sets
        ``operator_secrets`` (None without integrations that need one)."""
        wanted: dict[str, OperatorSecret] = {}
        for spec in settings.integrations:
            for external in spec.external_secrets():
                wanted.setdefault(external.store_name, OperatorSecret(
                    name=external.store_name,
                    description=f"{external.description}; read by {spec.component} as Secret "
                                f"{external.secret_name} key {external.key}"))
        self.operator_secrets: OperatorSecrets | None = None
        if not wanted:
            return {}
        self.operator_secrets = OperatorSecrets(
            self, "operator_secrets",
            key_vault_id=self.key_vault.id,
            key_vault_name=self.namer.name("key_vault"),
            secrets=list(wanted.values()),
            # Reading the vault's data plane needs the deployer's Secrets Officer role (RBAC vault), and data-plane
            # RBAC lags behind ARM: wait for the same propagation wait as the first secret write.
            depends_on=[self.key_vault.data_plane_ready])
        return self.operator_secrets.references

    def _external_dns_identity(self, settings: EnvironmentSettings, config: PlatformConfig, *,
                               namespace: str) -> AzureDnsProvider:
        """The Azure side of external-dns: a managed identity, federated with its service account through the
        cluster's OIDC issuer, with what the external-dns Azure tutorial grants (docs/tutorials/azure.md, "Assign
        a role to the managed identity"): DNS Zone Contributor on the environment's zone and Reader on the zone's
        own resource group, which external-dns lists zones in (provider/azure/azure.go,
        NewListByResourceGroupPager). The release waits for the credential and for the roles to take effect."""
        assert self.cluster is not None and self.dns_zone is not None and self.dns_resource_group is not None
        identity = UserAssignedIdentity(
            self, "external_dns_identity", name=self.namer.name("user_assigned_identity", "externaldns"),
            resource_group_name=self.resource_group.name, location=settings.location)
        federation = FederatedIdentityCredential(
            self, "external_dns_federation", name="external-dns",
            resource_group_name=self.resource_group.name, parent_id=identity.id,
            issuer=self.cluster.oidc_issuer_url, audience=["api://AzureADTokenExchange"],
            subject=ExternalDns.service_account_subject(namespace))
        contributor = RoleAssignment(
            self, "external_dns_zone_contributor", scope=self.dns_zone.zone.id,
            role_definition_name="DNS Zone Contributor", principal_id=identity.principal_id,
            principal_type="ServicePrincipal")
        reader = RoleAssignment(
            self, "external_dns_zone_reader", scope=self.dns_resource_group.id,
            role_definition_name="Reader", principal_id=identity.principal_id,
            principal_type="ServicePrincipal")
        # The assignments do not wait for the cluster, so this wait mostly overlaps the cluster's creation.
        roles_effective = propagation_wait(self, "external_dns_roles_propagation",
                                           assignments=[contributor, reader])
        self.external_dns_identity = identity
        return AzureDnsProvider(
            tenant_id=config.tenant_id,
            subscription_id=config.subscription_id(settings.subscription,
                                                   where=f"environment {settings.name!r}"),
            resource_group=self.dns_resource_group.name, client_id=identity.client_id,
            depends_on=(federation, roles_effective))


# Blob service resource logs of the state account: every read (plan, refresh), write (apply, lock) and delete.
STATE_BLOB_LOG_CATEGORIES = ("StorageRead", "StorageWrite", "StorageDelete")


class BootstrapStack(cdktf.TerraformStack):
    """The Terraform state storage and its access log, one account per region (infra/state.py). Local backend
    by design: it creates what the remote backends need."""

    # Relative to the stack's working directory cdktf.out/stacks/bootstrap: the state file lands in the
    # repository's git-ignored bootstrap-state/ folder, outside cdktf.out, so re-synthesizing never deletes it.
    LOCAL_STATE_PATH = "../../../bootstrap-state/terraform.tfstate"

    def __init__(self, scope: Construct, *, settings: BootstrapSettings, config: PlatformConfig,
                 environments: Mapping[str, str]) -> None:
        """``environments``: environment name → its region. Each region with an environment gets a state
        account holding the containers of its environments (infra/state.py)."""
        super().__init__(scope, settings.name)
        self.add_override("terraform.required_version", TERRAFORM_REQUIRED_VERSION)
        cdktf.LocalBackend(self, path=self.LOCAL_STATE_PATH)
        subscription_id = config.subscription_id(config.state_subscription, where="config/platform.toml [state]")
        # No storage data plane: with it, azurerm 4.55 waits for the new account's blob, queue, file and
        # static-website endpoints and reads queue and static-website properties on every refresh, all through the
        # data plane, where the account's own default-deny firewall answers 403 to an operator outside
        # allowed_ip_ranges -- a 403 is fatal there, only dropped connections are tolerated
        # (hashicorp/terraform-provider-azurerm v4.55.0, internal/services/storage/storage_account_resource.go:1547
        # and :2327, storage_account_data_plane_helpers.go:59 and :121). This stack uses no queue or static-website
        # setting, and its containers (storage_account_id) go through ARM, so nothing here needs the data plane.
        _azurerm_provider(self, subscription_id=subscription_id, tenant_id=config.tenant_id, purge_protection=True,
                          storage_data_plane=False)
        self.storages: dict[str, StateStorage] = {}
        self.blob_access_logs: dict[str, cdktf.TerraformResource] = {}
        for region in state_regions(config, environments.values()):
            # The primary keeps the construct ids it always had, so its resources keep their Terraform addresses
            # in the bootstrap's state (a new address would plan to replace the locked state account).
            suffix = "" if region == config.state_location else f"_{region_code(region)}"
            group_name, account_name = state_account(config, region)
            group = ResourceGroup(self, f"resource_group{suffix}", name=group_name, location=region)
            storage = StateStorage(
                self, f"state{suffix}",
                resource_group_name=group.name,
                location=region,
                account_name=account_name,
                containers=[state_container(name) for name, where in environments.items() if where == region],
                soft_delete_retention_days=settings.soft_delete_retention_days,
                replication_type=settings.replication_type,
                allowed_ip_ranges=list(config.allowed_ip_ranges(settings.allowed_ip_ranges)),
                allowed_subnet_ids=list(config.agent_subnet_ids),
            )
            # Who read, wrote or deleted which state blob: the blob service's resource logs go to a workspace of
            # the bootstrap's own in the same region (docs/security.md). Entra ID authentication shows the
            # caller's object id.
            names = {"workload": config.workload, "environment": STATE_ENVIRONMENT, "region": region,
                     "instance": "tfstate"}
            log_analytics = LogAnalytics(
                self, f"log_analytics{suffix}", name=resource_name("log_analytics_workspace", **names),
                resource_group_name=group.name, location=region,
                retention_in_days=settings.log_retention_days)
            self.blob_access_logs[region] = log_analytics.collect(
                "state_blobs", name=resource_name("diagnostic_setting", **names),
                target_resource_id=storage.blob_service_id, categories=list(STATE_BLOB_LOG_CATEGORIES))
            self.storages[region] = storage
        cdktf.Aspects.of(self).add(StandardTags(standard_tags(
            environment=STATE_ENVIRONMENT, owner=config.owner, cost_centre=config.cost_centre,
            repository=config.repository)))
