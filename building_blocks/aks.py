"""The environment's AKS cluster, hardened along the AKS baseline architecture.

- Two pools: ``system`` (critical add-ons only) and ``user`` (workloads), both autoscaled within their bounds,
  across ``zones``, on ephemeral OS disks with host encryption.
- Identity: a user-assigned control-plane identity (Network Contributor on the node subnet), Entra ID
  integration with Azure RBAC, local accounts disabled (so there is no static admin credential), OIDC issuer
  and workload identity for pods.
- Network: Azure CNI overlay powered by Cilium (eBPF data plane and network policy).
- Operations: automatic patch upgrades and weekly node images inside one maintenance window, container
  insights to Log Analytics with managed-identity auth (the add-on sends nothing until a data collection rule
  is associated with the cluster: the stack adds it with ``LogAnalytics.collect_container_insights``), the
  Azure Policy add-on, image cleaner, and the Key Vault secrets-store CSI driver with rotation.
- API server: public but restricted to ``authorized_ip_ranges``, or private (``private_cluster``).

The Kubernetes layer never reads this resource directly: :meth:`AksCluster.endpoint` hands it the API host and
CA certificate, from which it builds its own cluster connection.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

import cdktf
from cdktf_cdktf_provider_azurerm.kubernetes_cluster import (
    KubernetesCluster,
    KubernetesClusterApiServerAccessProfile,
    KubernetesClusterAzureActiveDirectoryRoleBasedAccessControl,
    KubernetesClusterDefaultNodePool,
    KubernetesClusterDefaultNodePoolUpgradeSettings,
    KubernetesClusterIdentity,
    KubernetesClusterKeyVaultSecretsProvider,
    KubernetesClusterMaintenanceWindowAutoUpgrade,
    KubernetesClusterMaintenanceWindowNodeOs,
    KubernetesClusterNetworkProfile,
    KubernetesClusterOmsAgent,
)
from cdktf_cdktf_provider_azurerm.kubernetes_cluster_node_pool import (
    KubernetesClusterNodePool,
    KubernetesClusterNodePoolUpgradeSettings,
)
from cdktf_cdktf_provider_azurerm.role_assignment import RoleAssignment
from cdktf_cdktf_provider_azurerm.user_assigned_identity import UserAssignedIdentity
from constructs import Construct

from building_blocks.maintenance import check_maintenance_window
from building_blocks.naming import Namer, node_pool_name
from building_blocks.rbac import RoleGrants

SKU_TIERS = ("Free", "Standard", "Premium")
UPGRADE_CHANNELS = ("patch", "stable", "rapid", "node-image")
NODE_OS_UPGRADE_CHANNELS = ("None", "Unmanaged", "SecurityPatch", "NodeImage")
CLUSTER_ADMIN_ROLE = "Azure Kubernetes Service RBAC Cluster Admin"
MAINTENANCE_HOURS = 4  # the shortest window AKS accepts
_MINOR_VERSION = re.compile(r"^1\.\d{2}$")
_VM_SIZE = re.compile(r"^Standard_[A-Za-z0-9_]+$")
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True, kw_only=True)
class NodePool:
    """Size and autoscaling bounds of one node pool (:class:`infra.settings.NodePoolSettings` has the same
    fields)."""

    vm_size: str = "Standard_D4ds_v5"
    """VM size; it needs a local disk of at least ``os_disk_size_gb`` (ephemeral OS disk)."""
    min_count: int = 1
    """Autoscaler lower bound (≥ 1)."""
    max_count: int = 3
    """Autoscaler upper bound (min_count to 1000)."""
    max_pods: int = 50
    """Pods per node (30-250)."""
    os_disk_size_gb: int = 128
    """Ephemeral OS disk size in GiB (30-2048)."""

    def validate(self, where: str) -> None:
        """Raise ValueError naming ``where`` (``AksCluster system_pool``), the field, the value, the rule."""
        for name in ("min_count", "max_count", "max_pods", "os_disk_size_gb"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{where} {name} = {value!r}; allowed: an integer")
        if not isinstance(self.vm_size, str) or not _VM_SIZE.match(self.vm_size):
            raise ValueError(
                f"{where} vm_size = {self.vm_size!r}; allowed: an Azure VM size such as 'Standard_D4ds_v5'"
            )
        if not 1 <= self.min_count <= self.max_count <= 1000:
            raise ValueError(
                f"{where} min_count = {self.min_count}, max_count = {self.max_count}; allowed: "
                "1 ≤ min_count ≤ max_count ≤ 1000"
            )
        if not 30 <= self.max_pods <= 250:
            raise ValueError(f"{where} max_pods = {self.max_pods}; allowed: 30 to 250")
        if not 30 <= self.os_disk_size_gb <= 2048:
            raise ValueError(f"{where} os_disk_size_gb = {self.os_disk_size_gb}; allowed: 30 to 2048")


@dataclass(frozen=True)
class ClusterEndpoint:
    """What a Kubernetes client needs to find and trust the API server, as Terraform references."""

    host: str
    """``https://…`` URL of the API server (the private FQDN for a private cluster)."""
    cluster_ca_certificate: str
    """The cluster CA certificate, PEM (already base64-decoded)."""


def _check_cidr(name: str, value: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(value)
    except ValueError:
        raise ValueError(
            f"AksCluster {name} = {value!r}; allowed: an IPv4 CIDR with no host bits set"
        ) from None


class AksCluster(Construct):
    """An AKS cluster with a system and a user node pool (see the module docstring for what is hardened).

    Attributes: ``cluster`` (the ``Resource``), ``identity`` (control plane), ``user_node_pool``,
    ``kubelet_object_id``, ``secrets_provider_object_id`` / ``secrets_provider_client_id`` (the CSI driver's
    identity, for Key Vault grants and SecretProviderClass), ``oidc_issuer_url`` (for federated credentials),
    ``role_assignments`` (id → role assignment).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        namer: Namer,
        resource_group_name: str,
        location: str,
        tenant_id: str,
        node_subnet_id: str,
        log_analytics_workspace_id: str,
        system_pool: NodePool = NodePool(),
        user_pool: NodePool = NodePool(max_count=5),
        sku_tier: str = "Free",
        zones: Sequence[str] = (),
        authorized_ip_ranges: Sequence[str] = (),
        private_cluster: bool = False,
        admin_group_object_ids: Sequence[str] = (),
        kubernetes_version: str | None = None,
        automatic_upgrade_channel: str = "patch",
        node_os_upgrade_channel: str = "NodeImage",
        maintenance_day: str = "Sunday",
        maintenance_start_hour: int = 2,
        pod_cidr: str = "192.168.0.0/16",
        service_cidr: str = "172.16.0.0/16",
        host_encryption: bool = True,
    ) -> None:
        """Required: ``tenant_id`` (Entra tenant of the RBAC integration), ``node_subnet_id`` (both pools'
        subnet), ``log_analytics_workspace_id`` (container insights).

        Optional: ``system_pool`` / ``user_pool`` (default 1-3 and 1-5 Standard_D4ds_v5 nodes); ``sku_tier``
        (Free, Standard or Premium; default Free, no SLA); ``zones`` (default none: no zone pinning);
        ``authorized_ip_ranges`` (default none: the public API server accepts any address, authenticated by
        Entra ID) or ``private_cluster`` (default False; not both); ``admin_group_object_ids`` (Entra groups
        with cluster-admin, default none); ``kubernetes_version`` (``1.NN``; default: AKS's default at
        creation, then the upgrade channel moves it); ``automatic_upgrade_channel`` (default patch),
        ``node_os_upgrade_channel`` (default NodeImage), both inside a weekly four-hour window starting at
        ``maintenance_start_hour`` UTC (default 2) on ``maintenance_day`` (default Sunday); ``pod_cidr`` /
        ``service_cidr`` (defaults 192.168.0.0/16 and 172.16.0.0/16; the DNS service takes the 10th address);
        ``host_encryption`` (default True; the subscription needs the EncryptionAtHost feature)."""
        super().__init__(scope, id_)
        system_pool.validate("AksCluster system_pool")
        user_pool.validate("AksCluster user_pool")
        if sku_tier not in SKU_TIERS:
            raise ValueError(f"AksCluster sku_tier = {sku_tier!r}; allowed: {', '.join(SKU_TIERS)}")
        zones = list(zones)
        if any(z not in ("1", "2", "3") for z in zones) or len(set(zones)) != len(zones):
            raise ValueError(f"AksCluster zones = {zones!r}; allowed: distinct zones among '1', '2', '3'")
        ranges = list(authorized_ip_ranges)
        for cidr in ranges:
            try:
                ipaddress.ip_network(cidr)
            except ValueError:
                raise ValueError(
                    f"AksCluster authorized_ip_ranges entry {cidr!r}; allowed: IPv4/IPv6 CIDRs"
                ) from None
        if private_cluster and ranges:
            raise ValueError(
                f"AksCluster authorized_ip_ranges = {ranges!r} with private_cluster=True; allowed: "
                "one of the two (a private API server has no public address to restrict)"
            )
        for object_id in admin_group_object_ids:
            if not _GUID.match(str(object_id)):
                raise ValueError(
                    f"AksCluster admin_group_object_ids entry {object_id!r}; allowed: Entra object "
                    "ids (lowercase GUIDs)"
                )
        if automatic_upgrade_channel not in UPGRADE_CHANNELS:
            raise ValueError(
                f"AksCluster automatic_upgrade_channel = {automatic_upgrade_channel!r}; allowed: "
                f"{', '.join(UPGRADE_CHANNELS)}"
            )
        if node_os_upgrade_channel not in NODE_OS_UPGRADE_CHANNELS:
            raise ValueError(
                f"AksCluster node_os_upgrade_channel = {node_os_upgrade_channel!r}; allowed: "
                f"{', '.join(NODE_OS_UPGRADE_CHANNELS)}"
            )
        if automatic_upgrade_channel == "node-image" and node_os_upgrade_channel != "NodeImage":
            raise ValueError(
                f"AksCluster node_os_upgrade_channel = {node_os_upgrade_channel!r} with "
                "automatic_upgrade_channel 'node-image'; allowed: NodeImage (AKS requires the two "
                "to agree)"
            )
        if kubernetes_version is not None and not _MINOR_VERSION.match(kubernetes_version):
            raise ValueError(
                f"AksCluster kubernetes_version = {kubernetes_version!r}; allowed: a minor version "
                "such as '1.32' (the upgrade channel applies patches; a pinned patch would drift)"
            )
        check_maintenance_window("AksCluster", maintenance_day, maintenance_start_hour)
        pods, services = _check_cidr("pod_cidr", pod_cidr), _check_cidr("service_cidr", service_cidr)
        if pods.overlaps(services):
            raise ValueError(
                f"AksCluster service_cidr = {service_cidr!r} overlaps pod_cidr {pod_cidr!r}; "
                "allowed: ranges that do not overlap"
            )
        if services.num_addresses < 256:
            raise ValueError(f"AksCluster service_cidr = {service_cidr!r}; allowed: a /24 or larger range")

        self.identity = UserAssignedIdentity(
            self,
            "identity",
            name=namer.name("user_assigned_identity", "aks"),
            resource_group_name=resource_group_name,
            location=location,
        )
        # Bring-your-own subnet: the control plane joins load balancers and nodes to it.
        subnet_access = RoleAssignment(
            self,
            "subnet_network_contributor",
            scope=node_subnet_id,
            role_definition_name="Network Contributor",
            principal_id=self.identity.principal_id,
            principal_type="ServicePrincipal",
            skip_service_principal_aad_check=True,
        )
        window = {
            "frequency": "Weekly",
            "interval": 1,
            "duration": MAINTENANCE_HOURS,
            "day_of_week": maintenance_day,
            "start_time": f"{maintenance_start_hour:02d}:00",
            "utc_offset": "+00:00",
        }
        pool_defaults = {
            "vnet_subnet_id": node_subnet_id,
            "zones": zones or None,
            "auto_scaling_enabled": True,
            "os_sku": "AzureLinux",  # minimal, Microsoft-maintained node image: fewer packages, fewer CVEs
            "os_disk_type": "Ephemeral",
            "host_encryption_enabled": host_encryption,
            "node_public_ip_enabled": False,
        }
        self.cluster = KubernetesCluster(
            self,
            "Resource",
            name=namer.name("kubernetes_cluster"),
            resource_group_name=resource_group_name,
            location=location,
            dns_prefix=namer.name("aks_dns_prefix"),
            node_resource_group=namer.name("node_resource_group", "aks"),
            kubernetes_version=kubernetes_version,
            sku_tier=sku_tier,
            identity=KubernetesClusterIdentity(type="UserAssigned", identity_ids=[self.identity.id]),
            default_node_pool=KubernetesClusterDefaultNodePool(
                name=node_pool_name("system"),
                temporary_name_for_rotation=node_pool_name(
                    "systemtmp"
                ),  # resize without replacing the cluster
                only_critical_addons_enabled=True,
                vm_size=system_pool.vm_size,
                min_count=system_pool.min_count,
                max_count=system_pool.max_count,
                max_pods=system_pool.max_pods,
                os_disk_size_gb=system_pool.os_disk_size_gb,
                upgrade_settings=KubernetesClusterDefaultNodePoolUpgradeSettings(
                    max_surge="33%", drain_timeout_in_minutes=30, node_soak_duration_in_minutes=0
                ),
                **pool_defaults,  # type: ignore[arg-type]
            ),
            role_based_access_control_enabled=True,
            azure_active_directory_role_based_access_control=(
                KubernetesClusterAzureActiveDirectoryRoleBasedAccessControl(
                    azure_rbac_enabled=True,
                    tenant_id=tenant_id,
                    admin_group_object_ids=list(admin_group_object_ids) or None,
                )
            ),
            local_account_disabled=True,
            oidc_issuer_enabled=True,
            workload_identity_enabled=True,
            network_profile=KubernetesClusterNetworkProfile(
                network_plugin="azure",
                network_plugin_mode="overlay",
                network_data_plane="cilium",
                network_policy="cilium",
                pod_cidr=pod_cidr,
                service_cidr=service_cidr,
                dns_service_ip=str(services.network_address + 10),
                load_balancer_sku="standard",
                outbound_type="loadBalancer",
            ),
            automatic_upgrade_channel=automatic_upgrade_channel,
            node_os_upgrade_channel=node_os_upgrade_channel,
            maintenance_window_auto_upgrade=KubernetesClusterMaintenanceWindowAutoUpgrade(**window),
            maintenance_window_node_os=KubernetesClusterMaintenanceWindowNodeOs(**window),
            oms_agent=KubernetesClusterOmsAgent(
                log_analytics_workspace_id=log_analytics_workspace_id, msi_auth_for_monitoring_enabled=True
            ),
            azure_policy_enabled=True,
            image_cleaner_enabled=True,
            image_cleaner_interval_hours=48,
            key_vault_secrets_provider=KubernetesClusterKeyVaultSecretsProvider(
                secret_rotation_enabled=True, secret_rotation_interval="2m"
            ),
            private_cluster_enabled=private_cluster,
            **(
                {"private_dns_zone_id": "System", "private_cluster_public_fqdn_enabled": False}
                if private_cluster
                else {}
            ),
            api_server_access_profile=(
                KubernetesClusterApiServerAccessProfile(authorized_ip_ranges=ranges) if ranges else None
            ),
            depends_on=[subnet_access],
            # The autoscaler owns node counts.
            lifecycle=cdktf.TerraformResourceLifecycle(ignore_changes=["default_node_pool[0].node_count"]),
        )
        self.user_node_pool = KubernetesClusterNodePool(
            self,
            "user_pool",
            name=node_pool_name("user"),
            kubernetes_cluster_id=self.cluster.id,
            mode="User",
            vm_size=user_pool.vm_size,
            min_count=user_pool.min_count,
            max_count=user_pool.max_count,
            max_pods=user_pool.max_pods,
            os_disk_size_gb=user_pool.os_disk_size_gb,
            upgrade_settings=KubernetesClusterNodePoolUpgradeSettings(
                max_surge="33%", drain_timeout_in_minutes=30, node_soak_duration_in_minutes=0
            ),
            lifecycle=cdktf.TerraformResourceLifecycle(ignore_changes=["node_count"]),
            **pool_defaults,  # type: ignore[arg-type]
        )
        self._grants = RoleGrants(self, scope=self.cluster.id, id_prefix="cluster_admin_",
                                  label="AksCluster.grant_cluster_admin")
        self.role_assignments: dict[str, RoleAssignment] = self._grants.assignments
        self.kubelet_object_id = self.cluster.kubelet_identity.object_id
        secret_identity = self.cluster.key_vault_secrets_provider.secret_identity.get(0)
        self.secrets_provider_object_id = secret_identity.object_id
        self.secrets_provider_client_id = secret_identity.client_id
        self.oidc_issuer_url = self.cluster.oidc_issuer_url

    def endpoint(self) -> ClusterEndpoint:
        """The API host and CA certificate as Terraform references, for the Kubernetes layer's cluster
        connection. With local accounts disabled ``kube_config`` carries no credential: clients authenticate
        with Entra ID (kubelogin)."""
        kube_config = self.cluster.kube_config.get(0)
        return ClusterEndpoint(
            host=kube_config.host,
            cluster_ca_certificate=cdktf.Fn.base64decode(kube_config.cluster_ca_certificate),
        )

    def grant_cluster_admin(
        self, id_: str, principal_id: str, *, principal_type: str | None = None
    ) -> RoleAssignment:
        """``Azure Kubernetes Service RBAC Cluster Admin`` on this cluster for ``principal_id`` (e.g. the
        pipeline's identity, which deploys the Kubernetes layer). ``id_`` names the grant; one grant per id.
        ``principal_type``: ServicePrincipal, User, Group, or None (default; Azure finds out)."""
        return self._grants.grant(id_, principal_id, CLUSTER_ADMIN_ROLE, principal_type=principal_type)
